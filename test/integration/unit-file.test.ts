// The musterd unit must leave the agent in the host's mount namespace: every option that gives a
// unit its own file system namespace turns mount propagation to the host off (systemd.exec(5)), and
// the storage the agent mounts would never reach the kubelet.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/fleet.js';

const unitFile = path.join(repoRoot, 'packaging/systemd/musterd.service');

// systemd 252 to 257: each of these sets up a mount namespace (or implies MountAPIVFS=/PrivateTmp=).
const NAMESPACING = [
  'PrivateTmp', 'PrivateDevices', 'PrivateMounts', 'PrivateUsers', 'PrivateNetwork', 'PrivateIPC', 'PrivatePIDs',
  'ProtectSystem', 'ProtectHome', 'ProtectKernelTunables', 'ProtectKernelModules', 'ProtectKernelLogs',
  'ProtectControlGroups', 'ProtectClock', 'ProtectHostname', 'ProtectProc', 'ProcSubset',
  'ReadWritePaths', 'ReadOnlyPaths', 'InaccessiblePaths', 'ExecPaths', 'NoExecPaths',
  'TemporaryFileSystem', 'BindPaths', 'BindReadOnlyPaths', 'BindLogSockets',
  'RootDirectory', 'RootImage', 'RootEphemeral', 'MountImages', 'ExtensionImages', 'ExtensionDirectories',
  'MountAPIVFS', 'DynamicUser', 'NetworkNamespacePath', 'IPCNamespacePath',
  'LogNamespace', 'ReadWriteDirectories', 'ReadOnlyDirectories', 'InaccessibleDirectories',
];

// Key=value lines of the [Service] section, continuation lines joined.
function serviceSettings(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let section = '';
  for (const line of text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1];
    else if (section === 'Service') {
      const eq = line.indexOf('=');
      out.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
    }
  }
  return out;
}

function namespacingProblems(text: string): string[] {
  return serviceSettings(text).flatMap(([key, value]) => {
    if (NAMESPACING.includes(key)) return [`${key}=${value}`];
    // MountFlags=shared is the default and harmless; slave or private cut propagation.
    if (key === 'MountFlags' && value !== 'shared') return [`${key}=${value}`];
    return [];
  });
}

test('unit: no file system namespacing option, so the agent\'s mounts reach the host', () => {
  assert.deepEqual(namespacingProblems(fs.readFileSync(unitFile, 'utf8')), []);
});

test('unit: the guard catches each namespacing option coming back, also as a continuation line', () => {
  const unit = fs.readFileSync(unitFile, 'utf8');
  for (const option of [...NAMESPACING.map((o) => `${o}=yes`), 'MountFlags=slave']) {
    assert.deepEqual(namespacingProblems(unit.replace('[Service]\n', `[Service]\n${option}\n`)), [option]);
  }
  assert.deepEqual(namespacingProblems(unit.replace('[Service]\n', '[Service]\nReadOnlyPaths=/etc \\\n  /usr\n')), ['ReadOnlyPaths=/etc    /usr']);
  assert.deepEqual(namespacingProblems(unit.replace('[Service]\n', '[Service]\nMountFlags=shared\n')), []);
});

test('unit: the hardening that keeps mounts shared is in place', () => {
  const settings = new Map(serviceSettings(fs.readFileSync(unitFile, 'utf8')));
  assert.equal(settings.get('Type'), 'exec');
  assert.equal(settings.get('NoNewPrivileges'), 'yes');
  assert.equal(settings.get('StateDirectory'), 'musterd');
  assert.equal(settings.get('StateDirectoryMode'), '0700');
  assert.equal(settings.get('SyslogIdentifier'), 'musterd');
  assert.equal(settings.get('SystemCallArchitectures'), 'native');
  assert.deepEqual(settings.get('RestrictAddressFamilies')!.split(' ').sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
  // Mounting, loading kernel modules (the kernel-module task) and swapoff stay possible.
  assert.deepEqual(settings.get('SystemCallFilter')!.split(' '), ['@system-service', '@mount', '@module', '@swap']);
  const caps = settings.get('CapabilityBoundingSet')!.split(' ');
  for (const cap of ['CAP_SYS_ADMIN', 'CAP_SYS_MODULE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER']) assert.ok(caps.includes(cap), cap);
  for (const cap of ['CAP_SYS_PTRACE', 'CAP_SYS_RAWIO', 'CAP_SYS_TIME', 'CAP_SYS_BOOT', 'CAP_NET_RAW', 'CAP_MKNOD', 'CAP_BPF']) assert.ok(!caps.includes(cap), cap);
  // The packaged runtime and bundle, with the idle-memory flags of docs/benchmarks.md.
  assert.equal(settings.get('ExecStart'), '/usr/lib/musterd/node --max-semi-space-size=1 --lite-mode /usr/lib/musterd/main.js --config /etc/muster/musterd.yaml');
});
