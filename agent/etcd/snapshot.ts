import * as grpc from '@grpc/grpc-js';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, TEMP_MARK, writeFileAtomic } from '../../common/atomic-write.js';
import type { EtcdSnapshot, ProbeSpec } from '../../proto/gen/muster/agent/v1/agent.js';
import { AgentError } from '../errors.js';
import type { Host } from '../host/host.js';

// etcd snapshots through etcd's v3 API: Maintenance.Snapshot, a server stream of
// SnapshotResponse {header = 1 (ResponseHeader, revision = 3), remaining_bytes = 2, blob = 3}.
// etcd 3.4 sends no header with the snapshot, so the revision is read by Maintenance.Status
// (StatusResponse {header = 1}) just before it; a header in the stream (3.5+) wins.
// grpc-js with a hand-written codec for those three fields (from etcd's rpc.proto) instead of
// vendoring etcd's protos: the request is an empty message, the answer three fields.

export const SNAPSHOTS_DIR = 'snapshots';
export const DEFAULT_KEEP = 5;
const SNAPSHOT_METHOD = '/etcdserverpb.Maintenance/Snapshot';
const STATUS_METHOD = '/etcdserverpb.Maintenance/Status';
const TIMEOUT_MS = 5 * 60_000;

interface SnapshotChunk {
  revision?: number;
  remaining: number;
  blob: Uint8Array;
}

// ResponseHeader.revision (field 3) of a message whose field 1 is the header.
function headerRevision(header: Uint8Array): number | undefined {
  const h = new BinaryReader(header);
  while (h.pos < h.len) {
    const [f, w] = h.tag();
    if (f === 3 && w === 0) return Number(h.int64());
    h.skip(w);
  }
  return undefined;
}

export function decodeStatusRevision(bytes: Uint8Array): number | undefined {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [f, w] = r.tag();
    if (f === 1 && w === 2) return headerRevision(r.bytes());
    r.skip(w);
  }
  return undefined;
}

export function decodeSnapshotResponse(bytes: Uint8Array): SnapshotChunk {
  const r = new BinaryReader(bytes);
  const out: SnapshotChunk = { remaining: 0, blob: new Uint8Array() };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 2) out.revision = headerRevision(r.bytes());
    else if (field === 2 && wire === 0) out.remaining = Number(r.uint64());
    else if (field === 3 && wire === 2) out.blob = r.bytes();
    else r.skip(wire);
  }
  return out;
}

// <state>/snapshots/<UTC time>-<revision>.db; the time sorts by name and never holds a colon.
export function snapshotName(atMs: number, revision: number): string {
  return `${new Date(atMs).toISOString().replace(/[-:]/g, '')}-${revision}.db`;
}

function parseName(name: string): { atMs: number; revision: number } | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)\.(\d{3})Z-(\d+)\.db$/.exec(name);
  if (!m) return undefined;
  return { atMs: Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]), revision: Number(m[8]) };
}

async function tlsOf(host: Host, e: NonNullable<ProbeSpec['etcd']>): Promise<grpc.ChannelCredentials> {
  const read = async (p: string, what: string) => {
    const f = p ? await host.read(p) : null;
    if (!f) throw new AgentError('SNAPSHOT_FAILED', `the etcd probe's ${what} ${p || '(none)'} is not on this node`);
    return f.content;
  };
  return grpc.credentials.createSsl(await read(e.caPath, 'CA'), await read(e.keyPath, 'client key'), await read(e.certPath, 'client certificate'));
}

// Saves a snapshot from the member the etcd probe checks, with the probe's client certificate:
// streamed to a temp file (0600), fsynced and renamed, its sha256 beside it; keeps the last `keep`.
export async function snapshotEtcd(host: Host, probe: ProbeSpec | undefined, keep = DEFAULT_KEEP): Promise<EtcdSnapshot> {
  const e = probe?.etcd;
  if (!e) throw new AgentError('ETCD_NOT_PLANNED', 'this node\'s plan has no etcd probe: there is no etcd member to snapshot');
  const url = new URL(e.endpoint);
  const creds = await tlsOf(host, e);
  const dir = host.statePath(SNAPSHOTS_DIR);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.snapshot${TEMP_MARK}${randomBytes(6).toString('hex')}`);
  const fh = await fs.open(tmp, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600);
  const sha = createHash('sha256');
  let size = 0;
  let revision = 0;
  const client = new grpc.Client(`${url.hostname}:${url.port || 2379}`, creds);
  try {
    revision = await new Promise<number>((resolve, reject) =>
      client.makeUnaryRequest(STATUS_METHOD, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), { deadline: Date.now() + 10_000 }, (err, res) =>
        err ? reject(new AgentError('SNAPSHOT_FAILED', `etcd ${e.endpoint} Maintenance.Status: ${err.details || err.message}`)) : resolve(decodeStatusRevision(res!) ?? 0),
      ),
    );
    await new Promise<void>((resolve, reject) => {
      const call = client.makeServerStreamRequest(SNAPSHOT_METHOD, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), { deadline: Date.now() + TIMEOUT_MS });
      // One write at a time, in order; the stream pauses while a chunk is written.
      let writing = Promise.resolve();
      call.on('data', (bytes: Buffer) => {
        const chunk = decodeSnapshotResponse(bytes);
        if (chunk.revision) revision = chunk.revision;
        sha.update(chunk.blob);
        size += chunk.blob.length;
        call.pause();
        writing = writing.then(() => fh.write(chunk.blob)).then(() => void call.resume(), (err) => reject(err));
      });
      call.on('error', (err: grpc.ServiceError) => reject(new AgentError('SNAPSHOT_FAILED', `etcd ${e.endpoint} Maintenance.Snapshot: ${err.details || err.message}`)));
      call.on('end', () => void writing.then(resolve, reject));
    });
    if (!size) throw new AgentError('SNAPSHOT_FAILED', `etcd ${e.endpoint} sent an empty snapshot`);
    await fh.sync();
    await fh.close();
    const atMs = Date.now();
    const name = snapshotName(atMs, revision);
    const digest = sha.digest('hex');
    await fs.rename(tmp, path.join(dir, name));
    await fsyncDir(dir);
    await writeFileAtomic(path.join(dir, `${name}.sha256`), `${digest}  ${name}\n`, { mode: 0o600 });
    await prune(dir, keep || DEFAULT_KEEP);
    return { path: path.posix.join(host.stateDir, SNAPSHOTS_DIR, name), sizeBytes: size, revision, sha256: digest, createdAtMs: atMs };
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err instanceof AgentError ? err : new AgentError('SNAPSHOT_FAILED', `etcd snapshot: ${(err as Error).message}`, { cause: err });
  } finally {
    client.close();
  }
}

async function names(dir: string): Promise<string[]> {
  const all = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  return all.filter((n) => parseName(n)).sort().reverse();
}

async function prune(dir: string, keep: number): Promise<void> {
  for (const old of (await names(dir)).slice(keep)) {
    await fs.rm(path.join(dir, old), { force: true });
    await fs.rm(path.join(dir, `${old}.sha256`), { force: true });
  }
}

// The snapshots kept, newest first, with the checksum recorded beside each.
export async function listSnapshots(host: Host): Promise<EtcdSnapshot[]> {
  const dir = host.statePath(SNAPSHOTS_DIR);
  const out: EtcdSnapshot[] = [];
  for (const name of await names(dir)) {
    const at = parseName(name)!;
    const st = await fs.stat(path.join(dir, name));
    const sum = await fs.readFile(path.join(dir, `${name}.sha256`), 'utf8').catch(() => '');
    out.push({ path: path.posix.join(host.stateDir, SNAPSHOTS_DIR, name), sizeBytes: st.size, revision: at.revision, sha256: sum.split(/\s+/)[0] ?? '', createdAtMs: at.atMs });
  }
  return out;
}
