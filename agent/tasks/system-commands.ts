// Every command line the package, service, kernel-module and swap kinds run, as an operator
// would type it (system-commands.test.ts holds the operator's lines). Pure: the kinds run them.

// Without a terminal apt must not ask, and a changed conffile keeps the operator's copy.
export const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none' };
const aptGet = ['apt-get', '-q', '-y', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];

export const dpkg = {
  // One line per package: "<want> <ok> <status>\t<version>" ("hold ok installed\t1.0-1").
  query: (name: string) => ['dpkg-query', '-W', '-f=${Status}\\t${Version}\\n', name],
};

export const apt = {
  // Installs exactly what is named (name=version pins it); apt-get upgrade is never run.
  install: (name: string, version: string) =>
    [...aptGet, '--no-install-recommends', '--allow-downgrades', '--allow-change-held-packages', 'install', version ? `${name}=${version}` : name],
  remove: (name: string) => [...aptGet, '--allow-change-held-packages', 'remove', name],
  // Refreshes one source file alone when one is named, so other sources are left as they are.
  update: (source?: string) =>
    source
      ? ['apt-get', '-q', 'update', '-o', `Dir::Etc::sourcelist=${source}`, '-o', 'Dir::Etc::sourceparts=-', '-o', 'APT::Get::List-Cleanup=0']
      : ['apt-get', '-q', 'update'],
  // Which versions apt can install: read, never changes anything.
  policy: (name: string) => ['apt-cache', 'policy', name],
  mark: (name: string, hold: boolean) => ['apt-mark', hold ? 'hold' : 'unhold', name],
};

// root is the host's root prefix: systemctl --root works on unit files offline.
const systemctlAt = (root: string) => (root === '/' ? ['systemctl'] : ['systemctl', `--root=${root}`]);

export const systemctl = {
  isEnabled: (root: string, unit: string) => [...systemctlAt(root), 'is-enabled', unit],
  enable: (root: string, unit: string) => [...systemctlAt(root), 'enable', unit],
  disable: (root: string, unit: string) => [...systemctlAt(root), 'disable', unit],
  // The live half needs systemd running as PID 1 on this root.
  show: (unit: string) => ['systemctl', 'show', unit, '-p', 'LoadState,ActiveState,NeedDaemonReload'],
  start: (unit: string) => ['systemctl', 'start', unit],
  stop: (unit: string) => ['systemctl', 'stop', unit],
  daemonReload: () => ['systemctl', 'daemon-reload'],
};

export const modprobe = (name: string): string[] => ['modprobe', name];
export const swapoff = (file: string): string[] => ['swapoff', file];
