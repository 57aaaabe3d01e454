import { header, hostPort, maxConnections, resolvePaths } from './common.js';
import type { LbInput, LbRenderOptions } from './types.js';
import { assertValidLbInput } from './validate.js';

/** Standalone nginx.conf for one lb node: stream (TCP) passthrough to every kube-apiserver. */
export function renderNginx(input: LbInput, options?: LbRenderOptions): string {
  assertValidLbInput(input, options);
  const paths = resolvePaths(options);
  const maxconn = maxConnections(input);
  // Each proxied connection holds two sockets (client and upstream), and one worker may end up with all of them.
  const workerConnections = Math.max(1024, maxconn * 2);
  const servers = input.backends.flatMap((b) => [
    `        # ${b.name}`,
    `        server ${hostPort(b.address, b.port)} max_fails=3 fail_timeout=10s;`,
  ]);

  return [
    header('#', input),
    "# Standalone file: it does not include /etc/nginx/modules-enabled, so the stream module is loaded here exactly once.",
    `load_module ${paths.nginxStreamModule};`,
    '',
    'user www-data;',
    'worker_processes auto;',
    `worker_rlimit_nofile ${workerConnections * 2};`,
    `pid ${paths.nginxPidFile};`,
    `error_log ${paths.nginxErrorLog} warn;`,
    '',
    'events {',
    `    worker_connections ${workerConnections};`,
    '}',
    '',
    'stream {',
    '    # Open-source nginx has only passive health checks: a backend that fails max_fails connects is skipped for fail_timeout.',
    '    upstream kube_apiserver {',
    '        # Shared memory, so all workers agree on which backend failed and share one round-robin.',
    '        zone kube_apiserver 64k;',
    ...servers,
    '    }',
    '',
    '    server {',
    "        # All addresses rather than the VIP: backups do not hold the VIP (binding it would need net.ipv4.ip_nonlocal_bind=1), and the keepalived check reaches the LB on 127.0.0.1.",
    `        listen ${input.apiPort};`,
    '        proxy_pass kube_apiserver;',
    '        proxy_connect_timeout 2s;',
    '        # Idle timeout between reads/writes; long enough for watches that wait minutes between events.',
    '        proxy_timeout 10m;',
    '        proxy_next_upstream on;',
    '        proxy_next_upstream_tries 3;',
    '        proxy_next_upstream_timeout 10s;',
    '    }',
    '}',
    '',
  ].join('\n');
}
