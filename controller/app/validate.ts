import { buildPlanSet, type InputFiles, type PlanSet } from './plan-set.js';

// Loads and renders everything as plan does, contacting no agent and writing nothing: the PKI
// step reads the state folder and issues what is missing in memory only. Once the state folder
// holds the certificates, validate and plan give the same revisions for the same inputs.
export function validate(o: InputFiles & { state: string }): Promise<PlanSet> {
  return buildPlanSet({ ...o, persist: false });
}
