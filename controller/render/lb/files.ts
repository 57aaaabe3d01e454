import { resolvePaths } from './common.js';
import { renderHaproxy } from './haproxy.js';
import { renderKeepalived, renderKeepalivedCheckScript } from './keepalived.js';
import { renderNginx } from './nginx.js';
import type { LbInput, LbRenderOptions } from './types.js';
import { assertValidLbInput } from './validate.js';

export interface LbFile {
  /** Absolute path on the lb node. */
  path: string;
  /** Unix permission bits. */
  mode: number;
  content: string;
  /** systemd unit to reload when the file changes. */
  service: 'haproxy' | 'nginx' | 'keepalived';
}

/** Every file an lb node needs, for the LB kind in the input; order is stable. */
export function renderLbFiles(input: LbInput, options?: LbRenderOptions): LbFile[] {
  assertValidLbInput(input, options);
  const paths = resolvePaths(options);
  const lb: LbFile =
    input.kind === 'haproxy'
      ? { path: '/etc/haproxy/haproxy.cfg', mode: 0o644, content: renderHaproxy(input, options), service: 'haproxy' }
      : { path: '/etc/nginx/nginx.conf', mode: 0o644, content: renderNginx(input, options), service: 'nginx' };
  return [
    lb,
    // 0600: it carries the VRRP password.
    { path: '/etc/keepalived/keepalived.conf', mode: 0o600, content: renderKeepalived(input, options), service: 'keepalived' },
    // Root-owned and not group/world-writable, or enable_script_security refuses to run it.
    { path: paths.keepalivedCheckScript, mode: 0o755, content: renderKeepalivedCheckScript(input, options), service: 'keepalived' },
  ];
}
