import fs from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_HASH_ANNOTATION } from '../../common/manifest-hash.js';

// A stand-in crictl for unit and integration tests (no container runtime there): it records
// its argv and prints the pod sandboxes the test sets, as `crictl pods -o json` prints them.
export interface FakeCrictl {
  path: string;
  argv(): Promise<string[]>;
  // Static pods the runtime "runs": name (the manifest's), the manifest hash its sandbox carries.
  set(pods: { name: string; hash: string; namespace?: string; createdAt?: string; ready?: boolean }[]): Promise<void>;
  setRaw(text: string): Promise<void>;
}

export async function fakeCrictl(dir: string, node = 'n1'): Promise<FakeCrictl> {
  await fs.mkdir(dir, { recursive: true });
  const bin = path.join(dir, 'crictl');
  const answer = path.join(dir, 'crictl-pods.json');
  const log = path.join(dir, 'crictl-argv');
  await fs.writeFile(answer, '{"items": []}');
  await fs.writeFile(bin, `#!/bin/sh\n# stand-in crictl\necho "$@" >> '${log}'\ncat '${answer}'\n`, { mode: 0o755 });
  const setRaw = (text: string) => fs.writeFile(answer, text);
  return {
    path: bin,
    argv: async () => (await fs.readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean),
    setRaw,
    set: (pods) =>
      setRaw(JSON.stringify({
        items: pods.map((p, i) => ({
          id: `sandbox-${i}`,
          metadata: { name: `${p.name}-${node}`, namespace: p.namespace ?? 'kube-system', attempt: 0 },
          state: p.ready === false ? 'SANDBOX_NOTREADY' : 'SANDBOX_READY',
          createdAt: p.createdAt ?? String(i + 1),
          annotations: { 'kubernetes.io/config.source': 'file', [MANIFEST_HASH_ANNOTATION]: p.hash },
        })),
      })),
  };
}
