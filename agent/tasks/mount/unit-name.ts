import path from 'node:path';

// systemd's unit_name_path_escape(): the name systemd requires for a mount unit of a path.
// Kept byte for byte with `systemd-escape --path` (unit-name.test.ts compares with the real one).
export function escapePath(hostPath: string): string {
  const simplified = path.posix.normalize(hostPath).replace(/^\/+|\/+$/g, '');
  if (simplified === '' || simplified === '.') return '-';
  let out = '';
  const bytes = Buffer.from(simplified, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const c = String.fromCharCode(bytes[i]);
    if (c === '/') out += '-';
    else if (i === 0 && c === '.') out += '\\x2e';
    else if (/[A-Za-z0-9:_.]/.test(c)) out += c;
    else out += '\\x' + bytes[i].toString(16).padStart(2, '0');
  }
  return out;
}

export function mountUnitName(target: string): string {
  return `${escapePath(target)}.mount`;
}
