import fs from 'node:fs/promises';
import path from 'node:path';
import { ControllerClient } from '../../controller/api/client.js';
import { issueClient } from '../../controller/enroll/enrollment.js';
import { fleetStore, type ClientRole } from '../../controller/pki/fleet.js';
import type { TestFleet } from './fleet.js';

// A client of muster serve's API with a freshly issued certificate of that role.
export async function apiClient(state: string, url: string, role: ClientRole, name = `${role}-${Math.random().toString(36).slice(2, 8)}`): Promise<ControllerClient> {
  const { pair } = await issueClient(state, name, role);
  const ca = (await fleetStore(state).read('ca'))!;
  return new ControllerClient(url, { certPem: pair.certPem, keyPem: pair.keyPem, caPem: ca.certPem });
}

// A tasks file writing `content` to `file`, gated on the kubelet probe at kubeletUrl (a worker's stand-in).
export async function kubeletTasks(dir: string, kubeletUrl: string, file: string, content: string): Promise<string> {
  const p = path.join(dir, `tasks-${content}.yaml`);
  await fs.writeFile(p, `probes:\n  - name: kubelet\n    http: { url: "${kubeletUrl}/healthz" }\n    intervalSeconds: 1\ntasks:\n  - id: app\n    file: { path: ${file}, content: "${content}\\n" }\n`);
  return p;
}

// What each node's root holds at file, "(absent)" where nothing.
export const fileOnNodes = (f: Pick<TestFleet, 'nodeRoot'>, names: string[], file: string) => Promise.all(names.map((n) => fs.readFile(path.join(f.nodeRoot(n), file), 'utf8').catch(() => '(absent)')));
