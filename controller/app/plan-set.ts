import type { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { ControllerError } from '../errors.js';
import { loadInventory, type Inventory } from '../inputs/inventory.js';
import { ClusterPki } from '../pki/cluster.js';
import { assemblePlans, renderInputs, type LoadedInputs } from '../render/render.js';

export interface InputFiles {
  inventory: string;
  cluster?: string;
  tasks?: string;
}

export interface PlanSetOptions extends InputFiles {
  state: string;
  // persist: the PKI step keeps what it issues in the state folder (apply); otherwise
  // missing certificates are issued in memory only and the state folder is only read.
  persist: boolean;
}

export interface PlanSet {
  inv: Inventory;
  plans: Plan[];
  // Certificates, CAs and keys this build issued: kept (persist) or held in memory only.
  issued: string[];
  persisted: boolean;
}

export async function loadInputs(files: InputFiles): Promise<LoadedInputs> {
  if (!files.tasks && !files.cluster) throw new ControllerError('SPEC_INVALID', 'give a cluster spec (-c cluster.yaml), a task file (-t tasks.yaml), or both');
  const inv = await loadInventory(files.inventory);
  return {
    inv,
    // Each loader only when its file is given: the cluster spec's schema is the larger.
    cluster: files.cluster ? await (await import('../inputs/cluster.js')).loadClusterSpec(files.cluster, inv) : undefined,
    tasks: files.tasks ? await (await import('../inputs/task-file.js')).loadTaskFile(files.tasks) : undefined,
  };
}

// Render (pure) → the PKI step (issue or load every certificate named) → assemble the plans.
export async function plansFrom(inputs: LoadedInputs, pki: ClusterPki): Promise<{ plans: Plan[]; issued: string[] }> {
  const rendered = await renderInputs(inputs);
  const { material, issued } = await pki.resolve(rendered);
  return { plans: assemblePlans(rendered, material), issued };
}

// Every input is loaded and rendered before any agent is contacted: a bad file sends nothing.
export async function buildPlanSet(o: PlanSetOptions): Promise<PlanSet> {
  const inputs = await loadInputs(o);
  const pki = new ClusterPki(o.state, inputs.inv.cluster, { inMemory: !o.persist });
  const { plans, issued } = await plansFrom(inputs, pki);
  return { inv: inputs.inv, plans, issued, persisted: o.persist };
}
