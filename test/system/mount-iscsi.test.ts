// iSCSI: a real tgt target (tgtd) on loopback with CHAP. The mount kind's node records are real
// open-iscsi records (/etc/iscsi/nodes). This kernel has no iscsi_tcp, so open-iscsi can neither
// discover nor log in: the iscsiadm STAND-IN (test/system/helpers/standins/iscsiadm) records the
// exact command lines, does the sendtargets discovery for real with libiscsi's iscsi-ls and the
// login for real with libiscsi's iscsi-inq (CHAP checked by the target), then attaches a loop
// device over the LUN's backing file and makes the /dev/disk/by-path link udev would.
// Needs root and Debian packages tgt libiscsi-bin open-iscsi.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DeepPartial, Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { tempHost } from '../helpers/host.js';
import { findBinary, findFreePorts } from './helpers/etcd.js';
import { applyFails, applyOk, cleanupHost, editUnit, isMounted, makeImage, mountTimeline, sh, standins, startTgt, umountTarget, type Standins, type Tgt } from './helpers/mount.js';

const missing = ['tgtd', 'tgtadm', 'iscsi-ls', 'iscsi-inq', 'iscsiadm'].find((b) => !findBinary(b));
// A name of our own: the node records live in the machine's /etc/iscsi.
const IQN = `iqn.2026-11.io.example.muster:test-${randomBytes(3).toString('hex')}`;
const CHAP = { user: 'muster', password: 'Chap-Secret-0123456789' };
let dir: string;
let tgt: Tgt | undefined;
let stand: Standins;

before(async () => {
  stand = await standins();
  stand.use();
  if (missing) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-iscsi-'));
  const lun = await makeImage(path.join(dir, 'lun1.img'), '64M');
  const [port] = await findFreePorts(1);
  tgt = await startTgt(dir, port, { iqn: IQN, lunFile: lun, chap: CHAP });
  await fs.writeFile(path.join(stand.dir, 'iscsi-luns'), `${IQN} 1 ${lun}\n`);
});

after(async () => {
  await stand?.cleanup();
  if (tgt) sh('iscsiadm', ['-m', 'node', '-T', IQN, '-p', tgt.portal, '-o', 'delete'], { allowFailure: true });
  await tgt?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const iscsiTask = (extra: { iqn?: string; password?: string; portal?: string } = {}): DeepPartial<Task> => ({
  id: 'lun1',
  mount: {
    target: '/var/lib/kubelet/volumes/lun1',
    iscsi: { portal: extra.portal ?? tgt!.portal, iqn: extra.iqn ?? IQN, lun: 1, chapUsername: CHAP.user, chapPassword: extra.password ?? CHAP.password },
    mkfs: true,
    deviceTimeoutMs: 5000,
  },
});

// A temp host; afterwards the session (stand-in) is logged out and the real node record deleted,
// whatever the test left.
async function host(t: { after(fn: () => Promise<void>): void }) {
  const h = await tempHost({ kernel: stand.kernel });
  t.after(async () => {
    await cleanupHost(h);
    sh('iscsiadm', ['-m', 'node', '-T', IQN, '-p', tgt!.portal, '--logout'], { allowFailure: true });
    sh('iscsiadm', ['-m', 'node', '-T', IQN, '-p', tgt!.portal, '-o', 'delete'], { allowFailure: true });
  });
  return h;
}

// The calls that change something; the observing ones (-m session, -S) repeat on every run.
const changing = (calls: string[][]) => calls.filter((c) => !(c[2] === 'session' || c.includes('-S')));

test('iscsi: timeline: real discovery, CHAP and login; the command lines are an operator\'s; absent logs out', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const p = tgt!.portal;
  let n = 0;
  const first = await mountTimeline(h, iscsiTask(), (x) => (n++ % 2 ? editUnit('/var/lib/kubelet/volumes/lun1')(x) : umountTarget('/var/lib/kubelet/volumes/lun1')(x)));
  const node = ['iscsiadm', '-m', 'node', '-T', IQN, '-p', p];
  assert.deepEqual(changing(stand.calls('iscsiadm')), [
    ['iscsiadm', '-m', 'discovery', '-t', 'sendtargets', '-p', p],
    [...node, '-o', 'update', '-n', 'node.startup', '-v', 'automatic'],
    [...node, '-o', 'update', '-n', 'node.session.auth.authmethod', '-v', 'CHAP'],
    [...node, '-o', 'update', '-n', 'node.session.auth.username', '-v', CHAP.user],
    [...node, '-o', 'update', '-n', 'node.session.auth.password', '-v', CHAP.password],
    [...node, '--login'],
    // absent, at the end of the timeline
    [...node, '--logout'],
    [...node, '-o', 'delete'],
  ]);
  assert.deepEqual(first.diffs.map((d) => d.header), [
    'mount /var/lib/kubelet/volumes/lun1',
    `iscsi node ${IQN} @ ${p}`,
    `iscsi session ${IQN} @ ${p}`,
    '/etc/systemd/system/var-lib-kubelet-volumes-lun1.mount',
    '/etc/systemd/system/remote-fs.target.wants/var-lib-kubelet-volumes-lun1.mount (enable link)',
  ]);
  const unit = first.diffs[3].after;
  assert.match(unit, new RegExp(`^What=/dev/disk/by-path/ip-${p}-iscsi-${IQN.replace(/\./g, '\\.')}-lun-1$`, 'm'));
  assert.match(unit, /^Options=_netdev$/m);
  assert.ok(!JSON.stringify(first).includes(CHAP.password), 'the CHAP password is not in the result');
  assert.equal(sh('iscsiadm', ['-m', 'node', '-T', IQN, '-p', p], { allowFailure: true }).code, 21, 'the node record is gone');
});

test('iscsi: the LUN is formatted on the target and the data lives in its backing file', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  await applyOk(h, iscsiTask());
  const live = isMounted(h.real('/var/lib/kubelet/volumes/lun1'));
  assert.equal(live?.fsType, 'ext4');
  assert.equal(sh('blkid', ['-p', '-s', 'TYPE', '-o', 'value', path.join(dir, 'lun1.img')]).out.trim(), 'ext4');
  // Through the target, as another initiator sees it: the LUN holds an ext4 superblock.
  const block = sh('iscsi-readcapacity16', [`iscsi://${CHAP.user}%${CHAP.password}@${tgt!.portal}/${IQN}/1`]).out;
  assert.match(block, /^Total size:67108864$/m);
});

test('iscsi: a wrong CHAP password fails the login at the target, and no secret appears anywhere', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const wrong = 'Wrong-Secret-9876543210';
  const r = await applyFails(h, iscsiTask({ password: wrong }));
  assert.equal(r.errorCode, 'EXEC_FAILED');
  assert.match(r.errorMessage, /--login: exit 24: .*authorization failure/);
  const text = JSON.stringify(r);
  assert.ok(!text.includes(wrong) && !text.includes(CHAP.password), text);
  assert.equal(isMounted(h.real('/var/lib/kubelet/volumes/lun1')), undefined);
  await assert.rejects(fs.stat(h.real('/etc/systemd/system/var-lib-kubelet-volumes-lun1.mount')), 'no unit after a failed login');
  // The record now holds the wrong password: the diff says so without showing either.
  const check = await applyOk(h, iscsiTask(), 1);
  const pw = check.diffs.find((d) => d.header.endsWith('node.session.auth.password'));
  assert.deepEqual([pw?.before, pw?.after], ['(secret), differs', '(secret)']);
  assert.ok(!JSON.stringify(check).includes(wrong));
});

test('iscsi: a target the portal does not offer is EXPORT_NOT_FOUND; a portal that does not answer is STORAGE_UNREACHABLE', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const other = await applyFails(h, iscsiTask({ iqn: `${IQN}-nope` }));
  assert.equal(other.errorCode, 'EXPORT_NOT_FOUND');
  assert.match(other.errorMessage, new RegExp(`^the portal ${tgt!.portal} does not offer ${IQN}-nope`));
  const [closed] = await findFreePorts(1);
  const down = await applyFails(h, iscsiTask({ portal: `127.0.0.1:${closed}` }));
  assert.equal(down.errorCode, 'STORAGE_UNREACHABLE');
  assert.equal(down.errorMessage, `iSCSI portal of ${IQN}: no answer on 127.0.0.1:${closed} (TCP)`);
});
