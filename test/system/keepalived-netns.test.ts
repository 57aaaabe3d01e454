// keepalived from the generated config in two network namespaces joined by a veth pair on a
// private /30 that exists only inside them, each with a TLS stand-in for its local load balancer:
// the VIP lands on the MASTER, moves when the MASTER's check script fails (its LB stops), and
// moves back when the new MASTER's keepalived is killed. Needs root, iproute2, keepalived, curl.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { renderKeepalived, renderKeepalivedCheckScript, type LbInput } from '../../controller/render/lb/index.js';
import { exampleLbInput } from '../../controller/render/lb/fixtures.js';
import { findBinary } from './helpers/etcd.js';
import { selfSignedCert, waitFor } from './helpers/lb.js';

const VIP = '169.254.78.10';
const PORT = 16443;

// A TLS server answering /healthz with 200, standing in for the LB on that node.
const LB_STANDIN = `const https = require('node:https'); const fs = require('node:fs');
const [port, cert, key] = process.argv.slice(2);
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end('ok')).listen(Number(port));`;

test('keepalived in two namespaces: VIP on the MASTER, moved when its check script fails, moved when its keepalived is killed', { timeout: 180_000 }, async (t) => {
  for (const p of ['ip', 'keepalived', 'curl']) if (!findBinary(p)) return t.skip(`${p} is not installed`);
  const tag = randomBytes(3).toString('hex');
  const ns = [`muster-ka-${tag}-1`, `muster-ka-${tag}-2`];
  const links = [`mka${tag}a`, `mka${tag}b`];
  // A root-owned 0755 folder: enable_script_security refuses scripts below a world-writable one (/tmp).
  const dir = `/run/muster-ka-${tag}`;
  const procs: (ChildProcess | undefined)[][] = [[], []];
  const kill = (c: ChildProcess | undefined) => new Promise<void>((resolve) => {
    if (!c?.pid || c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    process.kill(-c.pid, 'SIGKILL');
  });
  t.after(async () => {
    await Promise.all(procs.flat().map(kill));
    for (const n of ns) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    await fs.rm(dir, { recursive: true, force: true });
  });
  const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
  ip('netns', 'add', ns[0]);
  ip('netns', 'add', ns[1]);
  ip('link', 'add', links[0], 'netns', ns[0], 'type', 'veth', 'peer', 'name', links[1], 'netns', ns[1]);
  for (const i of [0, 1]) {
    ip('-n', ns[i], 'addr', 'add', `169.254.77.${i + 1}/30`, 'dev', links[i]);
    ip('-n', ns[i], 'link', 'set', links[i], 'up');
    ip('-n', ns[i], 'link', 'set', 'lo', 'up');
  }
  await fs.mkdir(dir, { mode: 0o755 });
  await fs.chmod(dir, 0o755);
  const tls = selfSignedCert();
  await fs.writeFile(path.join(dir, 'tls.crt'), tls.cert);
  await fs.writeFile(path.join(dir, 'tls.key'), tls.key, { mode: 0o600 });
  await fs.writeFile(path.join(dir, 'lb.cjs'), LB_STANDIN);
  const script = path.join(dir, 'check_apiserver.sh');
  const input: LbInput = {
    ...exampleLbInput({ vip: VIP, apiPort: PORT }),
    lbNodes: [
      { name: 'lb-1', address: '169.254.77.1', interface: links[0] },
      { name: 'lb-2', address: '169.254.77.2', interface: links[1] },
    ],
  };
  const options = { paths: { keepalivedCheckScript: script } };
  await fs.writeFile(script, renderKeepalivedCheckScript(input, options), { mode: 0o755 });

  // Each process in its own group, so a kill takes its children (keepalived's VRRP and checker) too.
  const log = path.join(dir, 'output.log');
  const inNs = (i: number, argv: string[]) => {
    const out = openSync(log, 'a');
    try {
      return spawn('ip', ['netns', 'exec', ns[i], ...argv], { stdio: ['ignore', out, out], detached: true });
    } finally {
      closeSync(out);
    }
  };
  const startLb = (i: number) => (procs[i][0] = inNs(i, [process.execPath, path.join(dir, 'lb.cjs'), String(PORT), path.join(dir, 'tls.crt'), path.join(dir, 'tls.key')]));
  const startKeepalived = async (i: number) => {
    const conf = path.join(dir, `keepalived-${i}.conf`);
    await fs.writeFile(conf, renderKeepalived({ ...input, self: input.lbNodes[i].name }, options), { mode: 0o600 });
    const pid = (what: string) => path.join(dir, `${what}-${i}.pid`);
    procs[i][1] = inNs(i, ['keepalived', '-n', '-l', '-D', '-f', conf, '-p', pid('keepalived'), '-r', pid('vrrp'), '-c', pid('checkers')]);
  };
  const holds = (i: number) => ip('-n', ns[i], '-4', '-o', 'addr', 'show').includes(` ${VIP}/`);
  const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);
  // A timeout shows what keepalived said.
  const withLog = async (err: Error) => {
    throw new Error(`${err.message}\n${(await fs.readFile(log, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n')}`);
  };
  const holder = async (i: number, why: string) => {
    const started = Date.now();
    await waitFor(`the VIP on ${input.lbNodes[i].name} (${why})`, async () => holds(i) && !holds(1 - i), 45_000).catch(withLog);
    return seconds(started);
  };

  for (const i of [0, 1]) startLb(i);
  const lbAnswers = (i: number) => spawnSync('ip', ['netns', 'exec', ns[i], 'curl', '-skf', '--max-time', '1', '-o', '/dev/null', `https://127.0.0.1:${PORT}/healthz`]).status === 0;
  await waitFor('both load balancer stand-ins', async () => lbAnswers(0) && lbAnswers(1));
  for (const i of [0, 1]) await startKeepalived(i);
  // Every node starts BACKUP with nopreempt: the first to time out waiting for adverts is MASTER.
  const started = Date.now();
  await waitFor('the VIP on exactly one node', async () => holds(0) !== holds(1), 45_000).catch(withLog);
  const first = seconds(started);
  const master = holds(0) ? 0 : 1;
  const other = 1 - master;

  // The MASTER's load balancer stops: its check script fails, it goes to FAULT and lets the VIP go.
  await kill(procs[master][0]);
  const onCheck = await holder(other, 'the MASTER\'s check script fails');

  // Its LB comes back (nopreempt: the VIP stays), then the new MASTER's keepalived is killed outright.
  startLb(master);
  await waitFor('the stopped load balancer back', async () => lbAnswers(master));
  await new Promise((r) => setTimeout(r, 8_000));
  assert.equal(holds(other), true, 'nopreempt: a recovered node does not take the VIP back');
  await kill(procs[other][1]);
  // A killed keepalived cannot take its address down: the old MASTER takes over, the dead one keeps a stale copy.
  const killed = Date.now();
  await waitFor('the VIP back after the new MASTER\'s keepalived is killed', async () => holds(master), 45_000).catch(withLog);
  console.log(`keepalived in namespaces: VIP on the MASTER after ${first} s, moved ${onCheck} s after its check began failing, moved ${seconds(killed)} s after kill -9`);
});
