import net from 'node:net';
import type { IscsiSource } from '../../../proto/gen/muster/agent/v1/mount.js';
import { AgentError } from '../../errors.js';
import type { Change, TaskContext } from '../task.js';
import { iscsiadm } from './commands.js';
import { deviceMatches, mountDevice } from './device.js';
import { attachment, type Driver, type Mount } from './driver.js';
import { joinHostPort, requireReachable, splitHostPort } from './network.js';
import { isMissingProgram, REDACTED, runArgv, tail } from './run.js';

// iscsiadm's "no records" / "no sessions" exit status.
const NO_OBJS_FOUND = 21;

interface IscsiState {
  session: boolean;
  // the node record's settings; the CHAP password is reduced to whether it matches at once
  record: Record<string, string> | null;
  passwordMatches: boolean;
  // iscsiadm is not installed
  missing: boolean;
}

const src = (m: Mount): IscsiSource => m.spec.iscsi!;

// The portal as the kernel and udev name it: ip:port with the default port filled in.
export function portalOf(s: IscsiSource): string {
  const { host, port } = splitHostPort(s.portal, 3260);
  return joinHostPort(host, port);
}

export function byPathDevice(s: IscsiSource): string {
  return `/dev/disk/by-path/ip-${portalOf(s)}-iscsi-${s.iqn}-lun-${s.lun}`;
}

// "tcp: [1] 127.0.0.1:3260,1 iqn.2026-11.io.example:lun0 (non-flash)"
export function parseSessions(text: string): { portal: string; iqn: string }[] {
  return text.split('\n').flatMap((line) => {
    const m = /^\S+:\s+\[\d+\]\s+(\S+),\d+\s+(\S+)/.exec(line.trim());
    return m ? [{ portal: m[1], iqn: m[2] }] : [];
  });
}

// "node.startup = automatic" lines; "<empty>" is iscsiadm's empty value.
export function parseRecord(text: string): Record<string, string> {
  const record: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+=\s+(.*)$/.exec(line.trim());
    if (m) record[m[1]] = m[2] === '<empty>' ? '' : m[2];
  }
  return record;
}

// The node settings the spec decides, except the password, which is compared apart.
function wantedSettings(s: IscsiSource): Record<string, string> {
  const chap = s.chapUsername !== '';
  const want: Record<string, string> = {
    'node.startup': 'automatic',
    'node.session.auth.authmethod': chap ? 'CHAP' : 'None',
    'node.session.auth.username': s.chapUsername,
  };
  if (s.initiatorName) want['iface.initiatorname'] = s.initiatorName;
  return want;
}

const iscsiAttachment = attachment<IscsiState>({
  async observe(m, ctx) {
    const s = src(m);
    const portal = portalOf(s);
    // Without open-iscsi nothing can be logged in or recorded: absent holds, up() says what is missing.
    const sessions = await runArgv(ctx, iscsiadm.sessions(), { allowFailure: true }).catch((err: unknown) => {
      if (isMissingProgram(err)) return null;
      throw err;
    });
    if (!sessions) return { session: false, record: null, passwordMatches: false, missing: true };
    if (sessions.code !== 0 && sessions.code !== NO_OBJS_FOUND) throw new AgentError('STORAGE_UNREACHABLE', `iscsiadm -m session: exit ${sessions.code}: ${tail(sessions)}`);
    const session = parseSessions(sessions.stdout).some((x) => x.portal === portal && x.iqn === s.iqn);
    const shown = await runArgv(ctx, iscsiadm.show(s.iqn, portal), { allowFailure: true, secrets: [s.chapPassword] });
    if (shown.code !== 0 && shown.code !== NO_OBJS_FOUND) throw new AgentError('STORAGE_UNREACHABLE', `iscsiadm -m node: exit ${shown.code}: ${tail(shown, [s.chapPassword])}`);
    if (shown.code !== 0) return { session, record: null, passwordMatches: false, missing: false };
    const record = parseRecord(shown.stdout);
    const passwordMatches = (record['node.session.auth.password'] ?? '') === s.chapPassword;
    delete record['node.session.auth.password'];
    return { session, record, passwordMatches, missing: false };
  },
  diff(m, st, want) {
    const s = src(m);
    const node = `iscsi node ${s.iqn} @ ${portalOf(s)}`;
    const changes: Change[] = [];
    if (!want) {
      if (st.session) changes.push({ header: `iscsi session ${s.iqn} @ ${portalOf(s)}`, before: 'logged in', after: '(logged out)' });
      if (st.record) changes.push({ header: node, before: 'recorded', after: '(deleted)' });
      return changes;
    }
    if (!st.record) {
      changes.push({ header: node, before: '(not discovered)', after: describeSettings(wantedSettings(s)) });
    } else {
      for (const [key, value] of Object.entries(wantedSettings(s))) {
        if ((st.record[key] ?? '') !== value) changes.push({ header: `${node} ${key}`, before: st.record[key] || '(empty)', after: value || '(empty)' });
      }
      if (!st.passwordMatches) changes.push({ header: `${node} node.session.auth.password`, before: `${REDACTED}, differs`, after: s.chapPassword ? REDACTED : '(empty)' });
    }
    if (!st.session) changes.push({ header: `iscsi session ${s.iqn} @ ${portalOf(s)}`, before: '(logged out)', after: 'logged in' });
    return changes;
  },
  async up(m, st, ctx) {
    const s = src(m);
    const portal = portalOf(s);
    if (st.missing) throw new AgentError('EXEC_FAILED', 'iscsiadm is not installed on this node (Debian package open-iscsi)');
    let record = st.record;
    if (!record) {
      const found = await runArgv(ctx, iscsiadm.discover(portal), { timeoutMs: 60_000 });
      if (!found.stdout.split('\n').some((l) => l.trim().split(/\s+/)[1] === s.iqn)) {
        throw new AgentError('EXPORT_NOT_FOUND', `the portal ${portal} does not offer ${s.iqn} (sendtargets found: ${found.stdout.trim().split('\n').join('; ') || 'nothing'})`);
      }
      record = {};
    }
    const settings: [string, string][] = Object.entries(wantedSettings(s)).filter(([k, v]) => (record[k] ?? '') !== v);
    if (!st.record || !st.passwordMatches) settings.push(['node.session.auth.password', s.chapPassword]);
    for (const [name, value] of settings) {
      await runArgv(ctx, iscsiadm.update(s.iqn, portal, name, value), { secrets: [s.chapPassword] });
    }
    if (!st.session) await runArgv(ctx, iscsiadm.login(s.iqn, portal), { timeoutMs: 120_000, secrets: [s.chapPassword] });
  },
  async down(m, st, ctx) {
    const s = src(m);
    if (st.session) await runArgv(ctx, iscsiadm.logout(s.iqn, portalOf(s)), { timeoutMs: 60_000 });
    if (st.record) await runArgv(ctx, iscsiadm.deleteNode(s.iqn, portalOf(s)));
  },
  device: (m) => byPathDevice(src(m)),
});

function describeSettings(settings: Record<string, string>): string {
  return Object.entries(settings).map(([k, v]) => `${k} = ${v || '(empty)'}`).join(', ');
}

// An iSCSI LUN through open-iscsi: discovery, node settings, login, then a local filesystem.
export const iscsiDriver: Driver = {
  type: 'iscsi',
  network: true,
  fsOptionsVisible: () => true,
  blockDevice: true,
  validate(m) {
    const s = src(m);
    const problems: string[] = [];
    const { host, port } = splitHostPort(s.portal, 3260);
    // Sessions and udev's by-path links name the portal by address: a host name would never match.
    if (!net.isIP(host) || !(port > 0 && port < 65536)) problems.push(`iscsi.portal ${JSON.stringify(s.portal)} is not ip[:port]`);
    if (!/^(iqn\.\d{4}-\d{2}\.[^\s:]+(:\S+)?|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/.test(s.iqn)) problems.push(`iscsi.iqn ${JSON.stringify(s.iqn)} is not an iSCSI name (iqn., eui. or naa.)`);
    if (!s.chapUsername !== !s.chapPassword) problems.push('iscsi: chapUsername and chapPassword go together');
    if (s.initiatorName && !/^(iqn|eui|naa)\.\S+$/.test(s.initiatorName)) problems.push(`iscsi.initiatorName ${JSON.stringify(s.initiatorName)} is not an iSCSI name`);
    return problems;
  },
  secrets: (m) => [src(m).chapPassword].filter(Boolean),
  items: () => [],
  liveFsType: (m) => m.fsType,
  mountOptions: (m) => m.options,
  describeSource: (m) => `iscsi ${src(m).iqn} lun ${src(m).lun} @ ${portalOf(src(m))}`,
  // open-iscsi.service logs in node.startup=automatic nodes before remote-fs-pre.target.
  bootEntry: (m) => ({ what: byPathDevice(src(m)), type: m.fsType, options: m.options }),
  attachment: iscsiAttachment,
  knownDevice: (m) => byPathDevice(src(m)),
  sourceMatches: deviceMatches,
  async preflight(m: Mount, _ctx: TaskContext) {
    await requireReachable(`iSCSI portal of ${src(m).iqn}`, [splitHostPort(src(m).portal, 3260)]);
  },
  mount: mountDevice,
};
