// Every command line the mount kind runs, as an operator would type it (commands.test.ts holds
// the operator's lines). Pure: the drivers pick, run() executes.

export const mountCmd = (type: string, options: readonly string[], source: string, target: string): string[] =>
  ['mount', '-t', type, ...(options.length ? ['-o', options.join(',')] : []), source, target];
export const umountCmd = (target: string): string[] => ['umount', target];
export const blkidCmd = (device: string): string[] => ['blkid', '-p', '-o', 'export', device];
export const mkfsCmd = (type: string, extra: readonly string[], device: string): string[] => ['mkfs', '-t', type, ...extra, device];
export const losetupCmd = (file: string): string[] => ['losetup', '--find', '--show', file];
export const losetupDetachCmd = (device: string): string[] => ['losetup', '-d', device];
export const daemonReloadCmd = (): string[] => ['systemctl', 'daemon-reload'];

export const iscsiadm = {
  discover: (portal: string) => ['iscsiadm', '-m', 'discovery', '-t', 'sendtargets', '-p', portal],
  // -S shows the CHAP password instead of asterisks, so a changed password is seen (and redacted at once).
  show: (iqn: string, portal: string) => ['iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-S'],
  update: (iqn: string, portal: string, name: string, value: string) =>
    ['iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-o', 'update', '-n', name, '-v', value],
  login: (iqn: string, portal: string) => ['iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '--login'],
  logout: (iqn: string, portal: string) => ['iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '--logout'],
  deleteNode: (iqn: string, portal: string) => ['iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-o', 'delete'],
  sessions: () => ['iscsiadm', '-m', 'session'],
};

// libnfs's nfs-ls mounts the export in userspace: proof that it exists and is exported to us.
export const nfsLs = (server: string, exportPath: string, version: string): string[] => {
  const host = server.includes(':') ? `[${server}]` : server;
  return ['nfs-ls', `nfs://${host}${exportPath}${version.startsWith('4') ? '?version=4' : ''}`];
};

export interface CephClient {
  user: string;
  keyring: string;
  conf: string;
}
const cephArgs = (c: CephClient) => ['--id', c.user, '--keyring', c.keyring, '-c', c.conf];

export const rbd = {
  info: (pool: string, image: string, c: CephClient) => ['rbd', 'info', `${pool}/${image}`, ...cephArgs(c)],
  map: (pool: string, image: string, c: CephClient) => ['rbd', 'map', `${pool}/${image}`, ...cephArgs(c)],
  unmap: (device: string) => ['rbd', 'unmap', device],
  showmapped: () => ['rbd', 'showmapped', '--format', 'json'],
  nbdMap: (pool: string, image: string, c: CephClient) => ['rbd-nbd', 'map', `${pool}/${image}`, ...cephArgs(c)],
  nbdUnmap: (device: string) => ['rbd-nbd', 'unmap', device],
  nbdList: () => ['rbd-nbd', 'list-mapped', '--format', 'json'],
  fuse: (pool: string, image: string, c: CephClient, dir: string) => ['rbd-fuse', '-p', pool, '-r', image, ...cephArgs(c), dir],
};

export const cephFuse = (c: CephClient, fsPath: string, options: readonly string[], target: string): string[] =>
  ['ceph-fuse', '-n', `client.${c.user}`, '-k', c.keyring, '-c', c.conf, '-r', fsPath, ...(options.length ? ['-o', options.join(',')] : []), target];
