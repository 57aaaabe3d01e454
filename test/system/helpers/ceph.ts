// A throw-away single-node Ceph 16 cluster for the storage system tests: one mon, one mgr, one
// bluestore OSD on a sparse file, one MDS with a CephFS, an "rbd" pool; cephx on, every listener
// on 127.0.0.1, every file under one temp folder. Daemons run in the foreground (-f) and are
// stopped by pid. Needs Debian packages ceph-mon ceph-mgr ceph-osd ceph-mds ceph-common.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findBinary, findFreePorts } from './etcd.js';
import { startDaemon, stopDaemon, waitUntil, type Daemon } from './mount.js';

const execFileAsync = promisify(execFile);

export const CEPH_BINARIES = ['ceph-mon', 'ceph-mgr', 'ceph-osd', 'ceph-mds', 'ceph', 'ceph-authtool', 'monmaptool', 'rbd'];

export interface CephCluster {
  dir: string;
  conf: string;
  fsid: string;
  // the monitor's v1 address (host:port), as a client's mon list names it
  monitor: string;
  // client.admin's cephx key (base64)
  adminKey: string;
  daemons: Daemon[];
  // the ceph CLI as client.admin
  ceph(...args: string[]): Promise<string>;
  rbd(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export function cephMissing(): string | undefined {
  return CEPH_BINARIES.find((b) => !findBinary(b));
}

// Pitfalls this config answers (see ../shared/docs/real-components.md): pools of size 1 need
// mon_allow_pool_size_one; bluestore_block_path must not be $osd_data/block (mkfs makes a
// self-symlink); clients get a per-process admin socket or the CLI and FUSE clients collide;
// insecure global_id reclaim off for HEALTH_OK.
function config(dir: string, fsid: string, v2: number, v1: number): string {
  return `[global]
fsid = ${fsid}
mon_host = [v2:127.0.0.1:${v2},v1:127.0.0.1:${v1}]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
run_dir = ${dir}/run
crash_dir = ${dir}/crash
log_file = ${dir}/log/$cluster-$name.log
admin_socket = ${dir}/run/$cluster-$name.asok
mon_data = ${dir}/mon/$cluster-$id
mgr_data = ${dir}/mgr/$cluster-$id
osd_data = ${dir}/osd/$cluster-$id
mds_data = ${dir}/mds/$cluster-$id
[client]
admin_socket = ${dir}/run/$cluster-$name.$pid.asok
log_to_file = false
[client.admin]
keyring = ${dir}/admin.keyring
[mon]
keyring = ${dir}/mon/$cluster-$id/keyring
mon_data_avail_warn = 1
[mgr]
keyring = ${dir}/mgr/$cluster-$id/keyring
[osd]
keyring = ${dir}/osd/$cluster-$id/keyring
osd_objectstore = bluestore
bluestore_block_path = ${dir}/osd-$id.block
bluestore_block_size = 4294967296
bluestore_block_create = true
osd_memory_target = 939524096
[mds]
keyring = ${dir}/mds/$cluster-$id/keyring
`;
}

async function tool(bin: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(bin, args, { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${bin} ${args.join(' ')}: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

// Starts the cluster and resolves when the CephFS is active, the rbd pool exists and every PG is
// active+clean. On failure everything started so far is stopped before the error is thrown.
export async function startCeph(dir: string, timeoutMs = 90_000): Promise<CephCluster> {
  const fsid = randomUUID();
  const [v2, v1] = await findFreePorts(2);
  const conf = path.join(dir, 'ceph.conf');
  for (const sub of ['run', 'log', 'crash', 'mon/ceph-a', 'mgr/ceph-x', 'osd/ceph-0', 'mds/ceph-a']) await fs.mkdir(path.join(dir, sub), { recursive: true });
  await fs.writeFile(conf, config(dir, fsid, v2, v1));
  const daemons: Daemon[] = [];
  const ceph = (...args: string[]) => tool('ceph', ['-c', conf, '--connect-timeout', '20', ...args]);
  const rbd = (...args: string[]) => tool('rbd', ['-c', conf, ...args]);
  const cluster: CephCluster = {
    dir,
    conf,
    fsid,
    monitor: `127.0.0.1:${v1}`,
    adminKey: '',
    daemons,
    ceph,
    rbd,
    async stop() {
      // Clients first (MDS), the monitor last: daemons talk to it while they shut down.
      for (const d of [...daemons].reverse()) await stopDaemon(d, d.name === 'ceph-mon' ? [v1, v2] : [], 20_000);
    },
  };
  const daemon = (name: string, id: string) => {
    const d = startDaemon(name, name, ['-f', '-c', conf, '-i', id], path.join(dir, 'log', `${name}.${id}.out`));
    daemons.push(d);
    return d;
  };
  try {
    const mon = path.join(dir, 'mon.keyring');
    const admin = path.join(dir, 'admin.keyring');
    await tool('ceph-authtool', ['--create-keyring', mon, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await tool('ceph-authtool', ['--create-keyring', admin, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mds', 'allow *', '--cap', 'mgr', 'allow *']);
    await tool('ceph-authtool', [mon, '--import-keyring', admin]);
    cluster.adminKey = /key = (\S+)/.exec(await fs.readFile(admin, 'utf8'))![1];
    const monmap = path.join(dir, 'monmap');
    await tool('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${v2},v1:127.0.0.1:${v1}]`, '--fsid', fsid, monmap]);
    await tool('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', mon]);
    const monD = daemon('ceph-mon', 'a');
    await waitUntil('the monitor answers', () => ceph('mon', 'stat').then(() => true, () => false), 30_000, [monD]);

    await ceph('auth', 'get-or-create', 'mgr.x', 'mon', 'allow profile mgr', 'osd', 'allow *', 'mds', 'allow *', '-o', path.join(dir, 'mgr/ceph-x/keyring'));
    daemon('ceph-mgr', 'x');

    const uuid = randomUUID();
    const id = (await ceph('osd', 'new', uuid)).trim();
    if (id !== '0') throw new Error(`ceph osd new gave id ${id}, expected 0`);
    await tool('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--mkkey', '--no-mon-config', '--osd-uuid', uuid], 120_000);
    await ceph('auth', 'add', 'osd.0', 'osd', 'allow *', 'mon', 'allow profile osd', 'mgr', 'allow profile osd', '-i', path.join(dir, 'osd/ceph-0/keyring'));
    const osd = daemon('ceph-osd', '0');

    await ceph('auth', 'get-or-create', 'mds.a', 'mon', 'allow profile mds', 'osd', 'allow rwx', 'mds', 'allow', 'mgr', 'allow profile mds', '-o', path.join(dir, 'mds/ceph-a/keyring'));
    const mds = daemon('ceph-mds', 'a');

    await waitUntil('the OSD is up', async () => /1 up/.test(await ceph('osd', 'stat').catch(() => '')), 60_000, [monD, osd]);
    for (const pool of ['cephfs_metadata', 'cephfs_data', 'rbd']) await ceph('osd', 'pool', 'create', pool, '8', '8');
    await ceph('fs', 'new', 'cephfs', 'cephfs_metadata', 'cephfs_data');
    await rbd('pool', 'init', 'rbd');
    const deadline = Date.now() + timeoutMs;
    let last = '';
    await waitUntil('the MDS is active and every PG active+clean', async () => {
      last = await ceph('status').catch((e: Error) => e.message);
      const status = JSON.parse(await ceph('status', '--format', 'json').catch(() => '{}')) as {
        fsmap?: { up?: number; 'by_rank'?: { status: string }[] };
        pgmap?: { num_pgs?: number; pgs_by_state?: { state_name: string; count: number }[] };
      };
      const active = status.fsmap?.by_rank?.some((r) => r.status === 'up:active') ?? false;
      const clean = status.pgmap?.pgs_by_state?.find((s) => s.state_name === 'active+clean')?.count ?? 0;
      // the mgr adds its own pool (device_health_metrics), hence "at least"
      return active && (status.pgmap?.num_pgs ?? 0) >= 24 && clean === status.pgmap?.num_pgs;
    }, Math.max(5_000, deadline - Date.now()), [monD, osd, mds]).catch((err: Error) => {
      throw new Error(`${err.message}\nlast ceph status:\n${last}`);
    });
    return cluster;
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}

// A cephx client with its own key and the caps a mount needs; returns the key.
export async function cephClient(c: CephCluster, name: string): Promise<string> {
  // rbd needs its class methods (profile rbd); CephFS needs the data pool and the MDS.
  await c.ceph('auth', 'get-or-create', `client.${name}`, 'mon', 'profile rbd, allow r', 'mds', 'allow rw', 'osd', 'profile rbd pool=rbd, allow rw pool=cephfs_data', 'mgr', 'profile rbd pool=rbd');
  return (await c.ceph('auth', 'print-key', `client.${name}`)).trim();
}
