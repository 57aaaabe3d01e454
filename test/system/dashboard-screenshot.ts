// docs/dashboard.png: the dashboard of a realistic small fleet, taken in Debian's chromium.
//   npm run build && node_modules/.bin/tsx test/system/dashboard-screenshot.ts [docs/dashboard.png]
// Real parts as in test/system/dashboard.test.ts: `muster serve` over mutual TLS, 3 control-plane
// nodes, 2 load balancers and 45 workers as real agents (in this process, mTLS gRPC on
// loopback), kubelet probes against a stand-in kubelet. The scene: two files edited behind
// muster's back (repaired), one control-plane agent stopped (unreachable), kubelet certificates
// from the cluster CA (one node's expiring in 21 days), and a worker rollout in batches of 10
// whose gate waits on a worker whose kubelet answers 503.
import fs from 'node:fs/promises';
import path from 'node:path';
import { startAgents } from '../helpers/fleet.js';
import { dashboardFleet, launchChromium, MANAGED_FILE, startServe, withCert, type NodeSpec } from './helpers/dashboard.js';

const out = path.resolve(process.argv[2] ?? 'docs/dashboard.png');
const racks = ['a', 'b', 'c'];
const nodes: NodeSpec[] = [
  ...racks.map((rack) => ({ roles: ['control-plane'], labels: { rack, zone: 'dc1' } })),
  ...racks.slice(0, 2).map((rack) => ({ roles: ['lb'], labels: { rack, zone: 'dc1' } })),
  ...Array.from({ length: 45 }, (_, i) => ({ roles: ['worker'], labels: { rack: racks[i % 3], zone: i < 30 ? 'dc1' : 'dc2', ...(i % 5 === 0 ? { gpu: 'yes' } : {}) } })),
];

// Every node's kubelet serving certificate from the cluster CA, and one node's issued short.
const certs = (validityDays: number, on: string) => `  - id: kubelet-serving${on ? '-short' : ''}
    ${on ? `on: { nodes: [${on}] }` : 'on: { roles: [control-plane, lb, worker] }'}
    certificate:
      certPath: /var/lib/kubelet/pki/kubelet${on ? '-short' : ''}.crt
      keyPath: /var/lib/kubelet/pki/kubelet${on ? '-short' : ''}.key
      issue: { commonName: "system:node:\${NODE_NAME}", dnsNames: ["\${NODE_NAME}"], validityDays: ${validityDays} }
`;
const extra = certs(365, '') + certs(21, 'n15');
const fleet = await dashboardFleet(nodes, 'n');
const agents = await startAgents(fleet.f);
const name = (i: number) => `n${i}`;
try {
  const applied = await fleet.muster('apply', '-t', await fleet.tasks('one', { workers: 'w1', extra }));
  if (applied.code !== 0) throw new Error(applied.stderr);
  const serve = await startServe(fleet.f);
  try {
    for (const i of [9, 17]) await fs.writeFile(path.join(fleet.f.nodeRoot(name(i)), MANAGED_FILE), 'edited by hand\n');
    fleet.sick.add(name(12));
    const rollout = fleet.start('rollout', '-t', await fleet.tasks('one', { workers: 'w2', extra }), '--batch', '10', '--yes', '--soak', 'worker=0', '--gate-timeout', '10m', '--poll', '200ms');
    const browser = await launchChromium();
    try {
      const ctx = await withCert(browser, serve.url, fleet.certs.operator, { width: 1440, height: 1200 });
      const page = await ctx.newPage();
      await page.goto(serve.url);
      const ended = rollout.done.then((r) => {
        throw new Error(`the rollout ended (exit ${r.code}) before its gate waited:\n${r.out}`);
      });
      await Promise.race([page.locator('ul.waits li', { hasText: `${name(12)} waits on kubelet` }).waitFor({ timeout: 120_000 }), ended]);
      // Stopped only now: the rollout found its plan unchanged while it answered.
      await agents.find((a) => a.name === name(3))!.stop();
      await page.locator(`tr[data-node="${name(3)}"] .badge.unreachable`).waitFor({ timeout: 30_000 });
      // Ages of a few seconds read as they would on a fleet someone watches.
      await page.waitForTimeout(20_000);
      await page.screenshot({ path: out, fullPage: true });
      console.log(`wrote ${path.relative(process.cwd(), out)}`);
    } finally {
      await browser.close();
      rollout.proc.kill('SIGTERM');
      await rollout.done;
    }
  } finally {
    await serve.stop();
  }
} finally {
  await fleet.close();
  await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
  await fleet.f.cleanup();
}
