// One process of the fleet simulator: hosts many agent instances, each with its own root and port.
import fs from 'node:fs';
import { pino } from 'pino';
import { startAgent, type Agent } from '../../agent/agent.js';
import { profileStart, profileStop } from './profile.js';

interface HostedNode {
  name: string;
  root: string;
  tls: { ca: string; cert: string; key: string };
}

const silent = pino({ level: 'silent' });
const agents: Agent[] = [];

function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

process.on('message', async (msg: { op: string; nodes?: HostedNode[]; name?: string }) => {
  if (msg.op === 'start') {
    const before = rss();
    for (const n of msg.nodes!) {
      fs.mkdirSync(n.root, { recursive: true });
      agents.push(
        await startAgent({
          name: n.name,
          root: n.root,
          listen: { host: '127.0.0.1', port: 0 },
          http: false,
          tls: { ca: fs.readFileSync(n.tls.ca), cert: fs.readFileSync(n.tls.cert), key: fs.readFileSync(n.tls.key) },
          log: silent,
          // The simulator measures applies; drift watching is measured by test/bench/drift.ts.
          drift: false,
        }),
      );
    }
    process.send!({ op: 'started', rssBefore: before, ports: agents.map((a) => ({ name: a.name, port: a.grpcPort })) });
  } else if (msg.op === 'rss') {
    process.send!({ op: 'rss', rss: rss() });
  } else if (msg.op === 'cpu') {
    const u = process.cpuUsage();
    process.send!({ op: 'cpu', us: u.user + u.system, sys: u.system });
  } else if (msg.op === 'prof-start') {
    await profileStart();
    process.send!({ op: msg.op });
  } else if (msg.op === 'prof-stop') {
    await profileStop(`${msg.name}-${process.argv[2]}`);
    process.send!({ op: msg.op });
  } else if (msg.op === 'stop') {
    await Promise.all(agents.map((a) => a.stop()));
    process.exit(0);
  }
});
process.send!({ op: 'ready', rss: rss() });
