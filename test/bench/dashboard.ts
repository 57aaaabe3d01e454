// The dashboard page at 1,000 and 5,000 nodes: load time, what the page holds, and the main
// thread's busy share while node events arrive at a given rate.
//   npm run build && node_modules/.bin/tsx test/bench/dashboard.ts [--nodes 1000,5000] [--rates 100,1000] [--seconds 10]
// The page is the real build (dist/web) served by the real registerDashboard, in Debian's
// chromium; the API behind it is a stand-in that answers /v1/* with node records made by the
// real viewJson from NodeStatus messages and sends `node` events at the rate asked. It measures
// the page only: one real controller cannot be made to send 1,000 events a second here
// without 1,000 agents (the system test runs the real one at 1,000 nodes for behaviour).
import Fastify from 'fastify';
import { parseArgs } from 'node:util';
import { registerDashboard } from '../../controller/api/dashboard.js';
import { viewJson, type NodeView } from '../../controller/fleet/view.js';
import type { InventoryNode } from '../../controller/inputs/inventory.js';
import { DriftPolicy, NodeStatus, ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import { launchChromium } from '../system/helpers/dashboard.js';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '1000,5000' }, rates: { type: 'string', default: '100,1000' }, seconds: { type: 'string', default: '10' } } });
const sizes = values.nodes.split(',').map(Number);
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);

function view(i: number, tick: number): NodeView {
  const now = Date.now();
  const name = i <= 3 ? `m${i}` : `w${i - 3}`;
  const node = { name, address: `10.${Math.floor(i / 65536) % 256}.${Math.floor(i / 256) % 256}.${i % 256}`, agentPort: 7443, roles: i <= 3 ? ['etcd', 'control-plane'] : ['worker'], labels: { rack: `r${i % 40}`, zone: `z${i % 3}` } } as unknown as InventoryNode;
  const failing = (i + tick) % 97 === 0;
  const status = NodeStatus.fromPartial({
    node: name,
    revision: 'sha256:4f1c2a9e',
    generation: 8 + (tick % 2),
    ready: !failing,
    notReadyReason: failing ? 'probe kubelet failed' : '',
    appliedAtMs: now - 60_000,
    lastResult: { converged: true },
    probes: [
      { name: 'kubelet', state: failing ? ProbeState.PROBE_STATE_FAILED : ProbeState.PROBE_STATE_HEALTHY, message: failing ? '' : 'ok', lastError: failing ? 'GET http://127.0.0.1:10248/healthz: 503' : '', sinceMs: now - 30_000, checkedAtMs: now },
      { name: 'static-pods', state: ProbeState.PROBE_STATE_HEALTHY, message: 'ok', sinceMs: now - 3_600_000, checkedAtMs: now },
    ],
    certificates: [
      { path: '/etc/kubernetes/pki/kubelet.crt', subject: `CN=system:node:${name}`, notAfterMs: now + 300 * 86_400_000, daysLeft: 300 },
      { path: '/etc/kubernetes/pki/ca.crt', subject: 'CN=kubernetes', notAfterMs: now + 3000 * 86_400_000, daysLeft: 3000 },
    ],
    driftPolicy: DriftPolicy.DRIFT_POLICY_ENFORCE,
    driftDetected: tick % 5,
    driftRepaired: tick % 5,
    lastDrift: tick % 5 ? { path: '/etc/kubernetes/manifests/kube-apiserver.yaml', what: 'changed', repaired: true, atMs: now - 1000 } : undefined,
  });
  return { node, status, updatedAtMs: now };
}

interface Row {
  nodes: number;
  loadMs: number;
  domNodes: number;
  heapMiB: number;
  busy: Record<number, number>;
}

async function run(n: number): Promise<Row> {
  let rate = 0;
  const app = Fastify();
  app.get('/v1/whoami', async () => ({ cn: 'bench', role: 'operator', canWrite: true }));
  app.get('/v1/leader', async () => ({ self: { id: 'bench', leader: true, store: 'sqlite' } }));
  app.get('/v1/fleet', async () => ({ nodes: Array.from({ length: n }, (_, i) => viewJson(view(i + 1, 0))), summary: {}, recentDrift: [] }));
  app.get('/v1/rollouts', async () => ({ rollouts: [] }));
  app.get('/v1/history', async () => ({ entries: [] }));
  app.get('/v1/events', (req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    let tick = 0;
    // Every 10 ms, the events due by then: the rate holds whatever the timer's jitter.
    const started = Date.now();
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      for (; sent < due; sent++) reply.raw.write(`event: node\ndata: ${JSON.stringify(viewJson(view(1 + ((sent * 7919) % n), ++tick)))}\n\n`);
    }, 10);
    req.raw.on('close', () => clearInterval(timer));
  });
  registerDashboard(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const t0 = Date.now();
    await page.goto(url);
    await page.locator('.summary', { hasText: `${n} nodes` }).waitFor({ timeout: 60_000 });
    await page.locator('table.fleet tr[data-node]').first().waitFor();
    const loadMs = Date.now() - t0;
    await page.waitForTimeout(1000);
    const idle = await metric();
    const busy: Record<number, number> = {};
    for (const r of rates) {
      rate = r;
      // The stream is per connection: a reload starts it at the new rate (the events before it stop).
      await page.reload();
      await page.locator('.summary', { hasText: `${n} nodes` }).waitFor({ timeout: 60_000 });
      await page.waitForTimeout(1000);
      const a = await metric();
      await page.waitForTimeout(seconds * 1000);
      const b = await metric();
      busy[r] = (b.TaskDuration - a.TaskDuration) / (b.Timestamp - a.Timestamp);
    }
    rate = 0;
    return { nodes: n, loadMs, domNodes: idle.Nodes, heapMiB: idle.JSHeapUsedSize / 2 ** 20, busy };
  } finally {
    await browser.close();
    await app.close();
  }
}

const rows: Row[] = [];
for (const n of sizes) rows.push(await run(n));
console.log(`| nodes | load to first rows | DOM nodes | JS heap | ${rates.map((r) => `main thread busy at ${r} node events/s`).join(' | ')} |`);
console.log(`|---:|---:|---:|---:|${rates.map(() => '---:').join('|')}|`);
for (const r of rows) console.log(`| ${r.nodes} | ${r.loadMs} ms | ${r.domNodes} | ${r.heapMiB.toFixed(1)} MiB | ${rates.map((x) => `${(100 * r.busy[x]).toFixed(1)} %`).join(' | ')} |`);
