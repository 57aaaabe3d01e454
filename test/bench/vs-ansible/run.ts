// muster against Ansible on the same work: N hosts, each converged to the same 2 folders and
// 11 files (test/bench/vs-ansible/workload.ts), first run and no-op run, in one go.
//   npm run build && npm run bench:ansible [-- --nodes 20 --agent dist/agent/main.js]
// Ansible: Debian's ansible-core, local connection, pipelining, forks = N, one inventory host per
// simulated node with its own root folder. muster: N musterd processes on loopback (the built
// agent), each with its own root, driven by `bin/muster.js apply`. Wall time of each command.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { makeFleet, spawnAgents } from '../../helpers/fleet.js';
import { ansibleConfig, ansibleInventory, ansiblePlaybook, FILES, FOLDERS, musterTaskFile } from './workload.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const { values } = parseArgs({ options: { nodes: { type: 'string', default: '20' }, agent: { type: 'string', default: 'dist/agent/main.js' } } });
const N = Number(values.nodes);
const agentMain = path.resolve(repo, values.agent!);
if (!fs.existsSync(agentMain)) throw new Error(`${agentMain} is missing: build first (npm run build); nodes run the built agent`);
if (spawnSync('ansible-playbook', ['--version']).status !== 0) throw new Error('ansible-playbook is missing: apt-get install ansible-core');

// Runs a command to the end; its wall time in seconds, and its output when it fails.
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${out.slice(-4000)}`))));
  });
}

// What a host holds: each folder's mode, each file's bytes, mode and identity (inode, mtime).
function snapshot(root: string): { converged: string; identity: string } {
  const folders = FOLDERS.map((d) => `${d} ${(fs.statSync(path.join(root, d)).mode & 0o7777).toString(8)}`);
  const files = FILES.map((f) => {
    const real = path.join(root, f.path);
    const st = fs.statSync(real);
    return { state: `${f.path} ${(st.mode & 0o7777).toString(8)} ${fs.readFileSync(real, 'utf8') === f.content}`, id: `${st.ino}:${st.mtimeMs}` };
  });
  return { converged: [...folders, ...files.map((f) => f.state)].join('\n'), identity: files.map((f) => f.id).join(' ') };
}

const want = [...FOLDERS.map((d) => `${d} 755`), ...FILES.map((f) => `${f.path} ${f.mode.toString(8)} true`)].join('\n');

function check(tool: string, roots: string[], before?: string[]): string[] {
  return roots.map((root, i) => {
    const s = snapshot(root);
    if (s.converged !== want) throw new Error(`${tool}: ${root} is not converged:\n${s.converged}`);
    if (before && before[i] !== s.identity) throw new Error(`${tool}: the no-op run rewrote files under ${root}`);
    return s.identity;
  });
}

async function ansible(dir: string): Promise<{ first: number; noop: number }> {
  const hosts = Array.from({ length: N }, (_, i) => ({ name: `a${i + 1}`, root: path.join(dir, 'hosts', `a${i + 1}`) }));
  for (const h of hosts) fs.mkdirSync(h.root, { recursive: true });
  fs.writeFileSync(path.join(dir, 'inventory.yaml'), ansibleInventory(hosts));
  fs.writeFileSync(path.join(dir, 'playbook.yaml'), ansiblePlaybook());
  fs.writeFileSync(path.join(dir, 'ansible.cfg'), ansibleConfig(N, dir));
  // Everything Ansible keeps stays in the bench folder.
  const env = { ...process.env, ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg'), ANSIBLE_HOME: path.join(dir, 'home'), ANSIBLE_NOCOLOR: '1' };
  const args = ['-i', path.join(dir, 'inventory.yaml'), path.join(dir, 'playbook.yaml')];
  const roots = hosts.map((h) => h.root);
  const first = await timed('ansible-playbook', args, env);
  const after = check('ansible', roots);
  const noop = await timed('ansible-playbook', args, env);
  check('ansible', roots, after);
  return { first, noop };
}

async function muster(): Promise<{ first: number; noop: number; help: number }> {
  const f = await makeFleet(N, 'm');
  const agents = await spawnAgents(f, { main: agentMain });
  try {
    const tasks = path.join(f.dir, 'tasks.yaml');
    fs.writeFileSync(tasks, musterTaskFile());
    const cli = path.join(repo, 'bin/muster.js');
    const args = [cli, 'apply', '-i', f.inventoryFile, '-s', f.state, '-t', tasks];
    const roots = f.inventory.nodes.map((n) => f.nodeRoot(n.name));
    const first = await timed(process.execPath, args, process.env);
    const after = check('muster', roots);
    const noop = await timed(process.execPath, args, process.env);
    check('muster', roots, after);
    // The CLI's own start-up, which both runs pay.
    const help = await timed(process.execPath, [cli, '--help'], process.env);
    return { first, noop, help };
  } finally {
    await agents.stop();
    await f.cleanup();
  }
}

const work = path.join(repo, '.bench', 'vs-ansible');
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const a = await ansible(work);
const m = await muster();
const s = (x: number) => `${x.toFixed(2)} s`;
const rows = [
  ['', 'first run', 'no-op run'],
  [`Ansible (${N} hosts, forks ${N})`, s(a.first), s(a.noop)],
  [`muster (${N} agents)`, s(m.first), s(m.noop)],
  ['ratio (Ansible / muster)', `${(a.first / m.first).toFixed(1)}×`, `${(a.noop / m.noop).toFixed(1)}×`],
];
const width = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((cell, c) => (c ? cell.padStart(width[c]) : cell.padEnd(width[c]))).join('  '));
console.log(`muster --help alone: ${s(m.help)} (CLI start-up, part of both muster runs)`);
console.log(JSON.stringify({ nodes: N, ansibleFirst: a.first, ansibleNoop: a.noop, musterFirst: m.first, musterNoop: m.noop, musterHelp: m.help }));
fs.rmSync(work, { recursive: true, force: true });
