import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentError } from '../../errors.js';
import { BEGIN_MARK, END_MARK, managedLine, setManagedLine, unmanagedLines } from './managed-block.js';
import { fstabKey } from './persistence.js';

const FSTAB = `# /etc/fstab: static file system information.
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
UUID=0a1b2c3d / ext4 errors=remount-ro 0 1
UUID=4e5f       /boot   ext2    defaults        0       2
/swapfile none swap sw 0 0\t
`;
const set = (text: string, key: string, line?: string) => setManagedLine(text, key, line, fstabKey, '/etc/fstab');
const a = '/dev/md0\t/srv/storage/data\text4\tnoatime\t0\t2';
const b = '10.0.0.6:/srv/share\t/mnt/share\tnfs4\tvers=4.1,_netdev\t0\t0';

test('fstab block: appended once, the rest of the file byte for byte', () => {
  const one = set(FSTAB, '/srv/storage/data', a);
  assert.equal(one, `${FSTAB}${BEGIN_MARK}\n${a}\n${END_MARK}\n`);
  assert.ok(one.startsWith(FSTAB), 'odd spacing and the trailing tab stay');
  const two = set(one, '/mnt/share', b);
  assert.equal(two, `${FSTAB}${BEGIN_MARK}\n${a}\n${b}\n${END_MARK}\n`);
  assert.equal(managedLine(two, '/mnt/share', fstabKey, 'f'), b);
});

test('fstab block: replacing and removing touch only the entry; the last removal gives back the original bytes', () => {
  const two = set(set(FSTAB, '/srv/storage/data', a), '/mnt/share', b);
  const changed = set(two, '/srv/storage/data', a.replace('noatime', 'relatime'));
  assert.equal(changed, two.replace('noatime', 'relatime'));
  assert.equal(set(set(two, '/srv/storage/data'), '/mnt/share'), FSTAB);
  assert.equal(set(FSTAB, '/nope'), FSTAB, 'removing what is not there changes nothing');
});

test('fstab block: a block in the middle keeps the lines after it; a file without a final newline gets one', () => {
  const middle = `first\n${BEGIN_MARK}\n${a}\n${END_MARK}\nlast line\n`;
  assert.equal(set(middle, '/mnt/share', b), `first\n${BEGIN_MARK}\n${a}\n${b}\n${END_MARK}\nlast line\n`);
  assert.equal(set(middle, '/srv/storage/data'), 'first\nlast line\n');
  assert.equal(set('no newline', '/mnt/share', b), `no newline\n${BEGIN_MARK}\n${b}\n${END_MARK}\n`);
  assert.equal(set('', '/mnt/share', b), `${BEGIN_MARK}\n${b}\n${END_MARK}\n`);
});

test('fstab block: keys are mount points (octal escapes undone); lines outside the block that clash are found', () => {
  assert.equal(fstabKey('/dev/sdb1 /mnt/with\\040space ext4 defaults 0 2'), '/mnt/with space');
  assert.equal(fstabKey('# /dev/sdb1 /mnt/x'), undefined);
  const text = `/dev/sdc1 /mnt/share ext4 defaults 0 2\n${BEGIN_MARK}\n${b}\n${END_MARK}\n`;
  assert.deepEqual(unmanagedLines(text, '/mnt/share', fstabKey, 'f'), [1]);
  assert.deepEqual(unmanagedLines(text, '/srv/x', fstabKey, 'f'), []);
});

test('fstab block: broken markers are refused, not guessed at', () => {
  for (const bad of [`${BEGIN_MARK}\nx\n`, `${END_MARK}\n${BEGIN_MARK}\n`, `${BEGIN_MARK}\n${END_MARK}\n${BEGIN_MARK}\n${END_MARK}\n`]) {
    assert.throws(() => set(bad, '/mnt/share', b), (e: unknown) => e instanceof AgentError && /markers are not one well-formed pair/.test(e.message));
  }
});
