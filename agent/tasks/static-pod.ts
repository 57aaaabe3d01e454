import { createRequire } from 'node:module';
import { parseDocument } from 'yaml';
import { MANIFEST_HASH_ANNOTATION, plannedBytes, stampManifest } from '../../common/manifest-hash.js';
import type { StaticPodSpec } from '../../proto/gen/muster/agent/v1/tasks.js';
import { filesTask } from './managed-file.js';
import { Memo } from './memo.js';
import type { Problem } from './task.js';

export const DEFAULT_MANIFESTS_DIR = '/etc/kubernetes/manifests';

// kubernetes-models is large; load its Pod schema on the first static-pod task, not at start-up.
const require = createRequire(import.meta.url);
type PodClass = new (data: unknown) => { validate(): void };
let PodModel: PodClass | undefined;
function podModel(): PodClass {
  PodModel ??= (require('kubernetes-models/v1/Pod') as { Pod: PodClass }).Pod;
  return PodModel;
}

export const staticPodTask = filesTask<StaticPodSpec>('static-pod', {
  validate(spec) {
    const problems: Problem[] = [];
    // The kubelet skips dot files and loads every other file in the folder.
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(spec.name)) {
      problems.push({ code: 'INVALID_SPEC', message: `static-pod: name ${JSON.stringify(spec.name)} must be a DNS-1123 name (a file name the kubelet loads)` });
      return problems;
    }
    const { problem, stampedAlready } = analysed(spec.manifest);
    if (problem) problems.push({ code: 'MANIFEST_INVALID', message: `static-pod ${spec.name}: ${problem}` });
    else if (stampedAlready) {
      problems.push({ code: 'MANIFEST_INVALID', message: `static-pod ${spec.name}: metadata.annotations ${MANIFEST_HASH_ANNOTATION} is set by the agent on write; remove it from the manifest` });
    }
    return problems;
  },
  files: (spec) => [
    {
      path: `${(spec.manifestsDir || DEFAULT_MANIFESTS_DIR).replace(/\/+$/, '')}/${spec.name}.yaml`,
      // Stamped with the planned manifest's hash: the running pod sandbox carries it, so the
      // static-pods probe sees when the kubelet has restarted the pod from this manifest.
      content: analysed(spec.manifest).stamped,
      // kubeadm writes manifests 0600: they can hold flags that matter to security.
      mode: 0o600,
    },
  ],
});

interface Analysis {
  // why the manifest is not a valid Pod
  problem?: string;
  // the manifest already carries the annotation the agent sets
  stampedAlready: boolean;
  // the bytes to write (stampManifest)
  stamped: Buffer;
}

const analyses = new Memo<Analysis>();

// Validation, the annotation check and the stamped bytes from one parse of the manifest: YAML
// parsing was most of a static pod's cost, and each manifest used to be parsed three times.
function analysed(manifest: string): Analysis {
  return analyses.get([manifest], () => {
    const doc = parseDocument(manifest);
    if (doc.errors.length) return { problem: `manifest is not YAML: ${doc.errors[0].message.split('\n')[0]}`, stampedAlready: false, stamped: plannedBytes(manifest) };
    const js: unknown = doc.toJS();
    const stampedAlready = typeof doc.getIn(['metadata', 'annotations', MANIFEST_HASH_ANNOTATION]) === 'string';
    // stampManifest changes doc: everything read from it is read above.
    return { problem: checkPod(js), stampedAlready, stamped: stampManifest(manifest, doc) };
  });
}

function checkPod(doc: unknown): string | undefined {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return 'manifest is not a YAML mapping';
  const pod = doc as { apiVersion?: unknown; kind?: unknown };
  if (pod.apiVersion !== 'v1' || pod.kind !== 'Pod') {
    return `manifest is apiVersion ${String(pod.apiVersion)} kind ${String(pod.kind)}, want v1 Pod`;
  }
  try {
    new (podModel())(doc).validate();
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; message: string }[] }).errors;
    if (errors?.length) return errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    return (err as Error).message;
  }
  return undefined;
}
