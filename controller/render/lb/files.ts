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
  /**
   * The program that must accept the new content before it replaces the live file (the agent runs it
   * on the temp file, "{}" being its path): a config the daemon would reject never reaches it.
   */
  check?: string[];
}

/** The real programs' own config tests: haproxy -c, nginx -t (its module loading included), keepalived -t. */
export const LB_CHECKS = {
  haproxy: ['haproxy', '-c', '-f', '{}'],
  nginx: ['nginx', '-t', '-q', '-c', '{}'],
  keepalived: ['keepalived', '-t', '-f', '{}'],
  checkScript: ['sh', '-n', '{}'],
} as const;

/** Every file an lb node needs, for the LB kind in the input; order is stable. */
export function renderLbFiles(input: LbInput, options?: LbRenderOptions): LbFile[] {
  assertValidLbInput(input, options);
  const paths = resolvePaths(options);
  const lb: LbFile =
    input.kind === 'haproxy'
      ? { path: '/etc/haproxy/haproxy.cfg', mode: 0o644, content: renderHaproxy(input, options), service: 'haproxy', check: [...LB_CHECKS.haproxy] }
      : { path: '/etc/nginx/nginx.conf', mode: 0o644, content: renderNginx(input, options), service: 'nginx', check: [...LB_CHECKS.nginx] };
  return [
    lb,
    // Root-owned and not group/world-writable, or enable_script_security refuses to run it. Before
    // keepalived.conf, whose check looks for the script it names.
    { path: paths.keepalivedCheckScript, mode: 0o755, content: renderKeepalivedCheckScript(input, options), service: 'keepalived', check: [...LB_CHECKS.checkScript] },
    // 0600: it carries the VRRP password.
    {
      path: '/etc/keepalived/keepalived.conf',
      mode: 0o600,
      content: renderKeepalived(input, options),
      service: 'keepalived',
      ...(options?.keepalivedConfigTest ? { check: [...LB_CHECKS.keepalived] } : {}),
    },
  ];
}
