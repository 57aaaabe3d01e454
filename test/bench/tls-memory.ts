// What one held mTLS + HTTP/2 connection costs the dialling side in memory, without grpc-js:
// the floor under the controller's RSS per agent channel. The server runs in a child process,
// so the figures are the client's alone. Uses the simulator's fleet PKI (run `npm run bench` once).
//   npx tsx test/bench/tls-memory.ts --connections 1000
import { fork } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';

const here = fileURLToPath(import.meta.url);
const pki = path.resolve(path.dirname(here), '../../.bench/state/pki/fleet');
const read = (f: string) => fs.readFileSync(path.join(pki, f));
const BODY = 12_000; // about one 12-task plan

if (process.argv[2] === 'serve') {
  const server = http2.createSecureServer({ ca: read('ca.crt'), key: read('agents/a0.key'), cert: read('agents/a0.crt'), requestCert: true, rejectUnauthorized: true });
  server.on('stream', (s) => {
    s.on('data', () => {});
    s.on('end', () => {
      s.respond({ ':status': 200 });
      s.end(Buffer.alloc(BODY));
    });
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as { port: number }).port));
} else {
  const { values } = parseArgs({ options: { connections: { type: 'string', default: '1000' } } });
  const N = Number(values.connections);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const child = fork(here, ['serve'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((r) => child.once('message', (p) => r(p as number)));
  const ctx = tls.createSecureContext({ ca: read('ca.crt'), key: read('controller.key'), cert: read('controller.crt') });
  let last = 0;
  const step = (what: string) => {
    gc();
    const rss = process.memoryUsage().rss;
    const anon = /^Anonymous:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'));
    const m = process.memoryUsage();
    console.log(`${what}: RSS ${(rss / 1048576).toFixed(1)} MiB${last ? `, ${rss >= last ? '+' : ''}${((rss - last) / N / 1024).toFixed(0)} KiB per connection` : ''}; anonymous ${(Number(anon?.[1]) / 1024).toFixed(1)} MiB; JS heap used ${(m.heapUsed / 1048576).toFixed(1)} of ${(m.heapTotal / 1048576).toFixed(1)} MiB, external ${(m.external / 1048576).toFixed(1)} MiB`);
    last = rss;
  };
  step('start');
  const sockets: tls.TLSSocket[] = [];
  for (let i = 0; i < N; i++) {
    sockets.push(await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', secureContext: ctx, servername: 'a0', ALPNProtocols: ['h2'] }, () => resolve(s));
      s.once('error', reject);
    }));
  }
  step(`${N} TLS 1.3 connections with client certificates`);
  const sessions = sockets.map((s) => http2.connect('https://a0', { createConnection: () => s }));
  await Promise.all(sessions.map((s) => new Promise((r) => s.once('remoteSettings', r))));
  step('an HTTP/2 session on each');
  // One BODY-byte request and its answer on every session.
  const requestEach = () => Promise.all(sessions.map((s) => new Promise((r) => {
    const req = s.request({ ':method': 'POST', ':path': '/' });
    req.on('data', () => {});
    req.on('end', r);
    req.end(Buffer.alloc(BODY));
  })));
  await requestEach();
  step(`one ${BODY}-byte request and answer on each`);
  await requestEach();
  step('a second request and answer on each');
  for (const s of sessions) s.destroy();
  await new Promise((r) => setTimeout(r, 500));
  step('every connection closed');
  child.kill();
}
