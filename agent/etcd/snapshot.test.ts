import assert from 'node:assert/strict';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { tempHost } from '../../test/helpers/host.js';
import { decodeSnapshotResponse, decodeStatusRevision, listSnapshots, snapshotEtcd, snapshotName } from './snapshot.js';

test('etcd snapshot: SnapshotResponse and StatusResponse decoded from etcd\'s field numbers', () => {
  const w = new BinaryWriter();
  w.tag(1, 2).bytes(new BinaryWriter().tag(1, 0).uint64(11).tag(3, 0).int64(4711).finish());
  w.tag(2, 0).uint64(8192);
  w.tag(3, 2).bytes(Buffer.from('bolt'));
  w.tag(4, 2).string('3.5.0'); // a field 3.4 does not know: skipped
  const chunk = decodeSnapshotResponse(w.finish());
  assert.deepEqual([chunk.revision, chunk.remaining, Buffer.from(chunk.blob).toString()], [4711, 8192, 'bolt']);
  assert.equal(decodeSnapshotResponse(new BinaryWriter().tag(3, 2).bytes(Buffer.from('x')).finish()).revision, undefined, 'etcd 3.4 sends no header');
  assert.equal(decodeStatusRevision(new BinaryWriter().tag(1, 2).bytes(new BinaryWriter().tag(3, 0).int64(99).finish()).tag(2, 2).string('3.4.23').finish()), 99);
});

test('etcd snapshot: names sort by time and carry the revision; listing an empty folder; no etcd probe is refused', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  assert.equal(snapshotName(Date.UTC(2026, 11, 1, 10, 30, 0, 123), 233), '20261201T103000.123Z-233.db');
  assert.deepEqual(await listSnapshots(h.host), []);
  await assert.rejects(snapshotEtcd(h.host, undefined), { code: 'ETCD_NOT_PLANNED' });
  // A member that does not answer: SNAPSHOT_FAILED, and no file left behind.
  const probe = { name: 'etcd', intervalMs: 0, timeoutMs: 0, etcd: { endpoint: 'https://127.0.0.1:1', caPath: '/etc/kubernetes/pki/etcd/ca.crt', certPath: '/etc/kubernetes/pki/etcd/c.crt', keyPath: '/etc/kubernetes/pki/etcd/c.key' } };
  await assert.rejects(snapshotEtcd(h.host, probe), { code: 'SNAPSHOT_FAILED', message: /the etcd probe's CA \/etc\/kubernetes\/pki\/etcd\/ca\.crt is not on this node/ });
  assert.deepEqual(await fs.readdir(h.host.statePath('snapshots')).catch(() => []), []);
});
