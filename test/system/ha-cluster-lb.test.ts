// The HA example's load balancer files, as the agent wrote them to lb1's and lb2's roots, checked
// by the real programs: haproxy -c, nginx -t (the example switched to loadBalancer.kind nginx),
// keepalived -t and sh -n. Nothing is started: keepalived would send VRRP adverts to the peers.
// Needs Debian packages haproxy nginx libnginx-mod-stream keepalived; each check skips only when its program is absent.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { findProgram, onNode, renderAndApplyExample, runProgram, writeExampleVariant, type AppliedCluster, type ProgramResult } from './helpers/cluster.js';

const LB_NODES = ['lb1', 'lb2'];
const BACKENDS = ['127.0.0.21:6443', '127.0.0.22:6443', '127.0.0.23:6443'];

let tmp = '';
let haproxyCluster: AppliedCluster;
let nginxCluster: AppliedCluster;

function requireProgram(t: TestContext, name: string): string | undefined {
  const bin = findProgram(name);
  if (!bin) t.skip(`${name} not installed`);
  return bin;
}

function assertAccepted(r: ProgramResult, what: string): void {
  assert.equal(r.signal, null, `${what} was killed by ${r.signal}:\n${r.output}`);
  assert.equal(r.status, 0, `${what} rejected the config:\n${r.output}`);
}

// keepalived before 2.2.8 kills itself during -t when script_user is not root (acassen/keepalived#2617).
async function keepalivedNeedsRootScriptUser(bin: string): Promise<boolean> {
  const m = /Keepalived v(\d+)\.(\d+)\.(\d+)/.exec((await runProgram(bin, ['--version'])).output);
  if (!m) return true;
  const [major, minor, patch] = m.slice(1).map(Number) as [number, number, number];
  return major * 1_000_000 + minor * 1_000 + patch < 2_002_008;
}

function interfaceExists(name: string): boolean {
  return readdirSync('/sys/class/net').includes(name);
}

// keepalived refuses lo; any other interface of this machine will do for a config test.
function someVrrpInterface(): string {
  const names = readdirSync('/sys/class/net').filter((n) => n !== 'lo');
  const up = names.filter((n) => ['up', 'unknown'].includes(readFileSync(`/sys/class/net/${n}/operstate`, 'utf8').trim()));
  const chosen = up[0] ?? names[0];
  assert.ok(chosen, 'keepalived -t needs a network interface other than lo, and this machine has none');
  return chosen;
}

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-ha-lb-'));
  // keepalived checks every folder on the script's path; 0755 lets a non-root script_user reach it.
  await fs.chmod(tmp, 0o755);
  haproxyCluster = await renderAndApplyExample(path.join(tmp, 'haproxy'));
  const nginxSpec = await writeExampleVariant(path.join(tmp, 'nginx-spec'), (spec) => {
    (spec.loadBalancer as Record<string, unknown>).kind = 'nginx';
  });
  nginxCluster = await renderAndApplyExample(path.join(tmp, 'nginx'), { clusterFile: nginxSpec });
});

after(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('the HA example lb nodes get configs the real programs accept', () => {
  it('each lb node holds exactly the files of its load balancer kind, with the intended modes', async () => {
    for (const node of LB_NODES) {
      const mode = async (c: AppliedCluster, p: string) => ((await fs.stat(onNode(c, node, p))).mode & 0o777).toString(8);
      assert.equal(await mode(haproxyCluster, '/etc/haproxy/haproxy.cfg'), '644');
      assert.equal(await mode(haproxyCluster, '/etc/keepalived/keepalived.conf'), '600');
      assert.equal(await mode(haproxyCluster, '/etc/keepalived/check_apiserver.sh'), '755');
      await assert.rejects(fs.stat(onNode(haproxyCluster, node, '/etc/nginx/nginx.conf')), { code: 'ENOENT' });
      assert.equal(await mode(nginxCluster, '/etc/nginx/nginx.conf'), '644');
      await assert.rejects(fs.stat(onNode(nginxCluster, node, '/etc/haproxy/haproxy.cfg')), { code: 'ENOENT' });
    }
  });

  it('haproxy -c accepts lb1 and lb2 haproxy.cfg as written, without warnings', async (t) => {
    const haproxy = requireProgram(t, 'haproxy');
    if (!haproxy) return;
    for (const node of LB_NODES) {
      const cfg = onNode(haproxyCluster, node, '/etc/haproxy/haproxy.cfg');
      const text = await fs.readFile(cfg, 'utf8');
      for (const backend of BACKENDS) assert.match(text, new RegExp(`^\\s+server \\S+ ${backend.replaceAll('.', '\\.')} check`, 'm'), `${node} lacks backend ${backend}`);
      const r = await runProgram(haproxy, ['-c', '-f', cfg]);
      assertAccepted(r, `haproxy -c (${node})`);
      assert.match(r.output, /Configuration file is valid/);
      assert.doesNotMatch(r.output, /\[(WARNING|ALERT)\]/);
    }
  });

  it('haproxy -c rejects a copy of lb1 haproxy.cfg with one corrupted line', async (t) => {
    const haproxy = requireProgram(t, 'haproxy');
    if (!haproxy) return;
    const good = await fs.readFile(onNode(haproxyCluster, 'lb1', '/etc/haproxy/haproxy.cfg'), 'utf8');
    const broken = good.replace(/^(\s+server m2 127\.0\.0\.22:6443) check /m, '$1 chek ');
    assert.notEqual(broken, good, 'the broken line was not spliced in');
    const cfg = path.join(tmp, 'haproxy-broken.cfg');
    await fs.writeFile(cfg, broken);
    const r = await runProgram(haproxy, ['-c', '-f', cfg]);
    assert.equal(r.signal, null, r.output);
    assert.notEqual(r.status, 0, `haproxy -c accepted a broken config:\n${r.output}`);
    assert.match(r.output, /chek/);
  });

  it('keepalived -t accepts lb1 and lb2 keepalived.conf (validation copies: check script re-rooted)', async (t) => {
    const keepalived = requireProgram(t, 'keepalived');
    if (!keepalived) return;
    const rootScriptUser = await keepalivedNeedsRootScriptUser(keepalived);
    for (const node of LB_NODES) {
      const written = await fs.readFile(onNode(haproxyCluster, node, '/etc/keepalived/keepalived.conf'), 'utf8');
      assert.match(written, /^\s+script "\/etc\/keepalived\/check_apiserver\.sh"$/m);
      assert.match(written, /^\s+script_user nobody$/m);
      // keepalived -t disables (and fails on) a track script missing from the real filesystem: point it at the node's copy.
      let copy = written.replace('"/etc/keepalived/check_apiserver.sh"', `"${onNode(haproxyCluster, node, '/etc/keepalived/check_apiserver.sh')}"`);
      // Debian 12's keepalived 2.2.7 kills itself during -t unless script_user is root; the written file keeps nobody.
      if (rootScriptUser) copy = copy.replace(/^(\s+script_user) nobody$/m, '$1 root');
      // keepalived -t refuses an interface this machine lacks; the example's eth0 is kept when it exists here.
      const iface = /^\s+interface (\S+)$/m.exec(copy)?.[1] ?? '';
      if (!interfaceExists(iface)) copy = copy.replaceAll(iface, someVrrpInterface());
      const conf = path.join(tmp, `keepalived-${node}.conf`);
      await fs.writeFile(conf, copy, { mode: 0o600 });
      const r = await runProgram(keepalived, ['-t', '-l', '-f', conf]);
      assertAccepted(r, `keepalived -t (${node})`);
      assert.doesNotMatch(r.output, /error|warning|unknown|missing|disabling|not found/i);
    }
  });

  it('nginx -t accepts lb1 and lb2 nginx.conf of the nginx variant (validation copies: pid and error log in a temp folder)', async (t) => {
    const nginx = requireProgram(t, 'nginx');
    if (!nginx) return;
    for (const node of LB_NODES) {
      const written = await fs.readFile(onNode(nginxCluster, node, '/etc/nginx/nginx.conf'), 'utf8');
      for (const backend of BACKENDS) assert.match(written, new RegExp(`^\\s+server ${backend.replaceAll('.', '\\.')} `, 'm'), `${node} lacks backend ${backend}`);
      // nginx -t opens the error log and checks the pid path; keep both out of the system's /run and /var/log.
      const copy = written
        .replace(/^pid \S+;$/m, `pid ${path.join(tmp, `nginx-${node}.pid`)};`)
        .replace(/^error_log \S+ (\w+);$/m, `error_log ${path.join(tmp, `nginx-${node}-error.log`)} $1;`);
      assert.notEqual(copy, written, 'pid and error_log were not rewritten');
      const conf = path.join(tmp, `nginx-${node}.conf`);
      await fs.writeFile(conf, copy);
      // -e: nginx opens its startup error log before it reads the config.
      const r = await runProgram(nginx, ['-t', '-c', conf, '-e', path.join(tmp, 'error.log')]);
      assertAccepted(r, `nginx -t (${node})`);
      assert.match(r.output, /test is successful/);
      assert.doesNotMatch(r.output, /\[(warn|emerg|alert|crit)\]/);
    }
  });

  it('sh -n accepts the keepalived check script of every lb node, for both kinds', async (t) => {
    const sh = requireProgram(t, 'sh');
    if (!sh) return;
    for (const c of [haproxyCluster, nginxCluster]) {
      for (const node of LB_NODES) {
        const script = onNode(c, node, '/etc/keepalived/check_apiserver.sh');
        assert.match(await fs.readFile(script, 'utf8'), /^#!\/bin\/sh\n/);
        assertAccepted(await runProgram(sh, ['-n', script]), `sh -n (${node})`);
      }
    }
  });
});
