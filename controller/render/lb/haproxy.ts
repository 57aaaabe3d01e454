import { header, hostPort, maxConnections, resolvePaths, statsPort } from './common.js';
import type { LbInput, LbRenderOptions } from './types.js';
import { assertValidLbInput } from './validate.js';

/** haproxy.cfg for one lb node: TCP passthrough to every kube-apiserver, TLS /healthz checks. */
export function renderHaproxy(input: LbInput, options?: LbRenderOptions): string {
  assertValidLbInput(input, options);
  const paths = resolvePaths(options);
  const maxconn = maxConnections(input);
  const servers = input.backends.map(
    (b) => `    server ${b.name} ${hostPort(b.address, b.port)} check check-ssl verify none`,
  );

  return [
    header('#', input),
    'global',
    '    log /dev/log local0',
    '    log /dev/log local1 notice',
    '    chroot /var/lib/haproxy',
    `    stats socket ${paths.haproxyStatsSocket} mode 660 level admin`,
    '    stats timeout 30s',
    '    user haproxy',
    '    group haproxy',
    '    daemon',
    `    maxconn ${maxconn}`,
    '',
    'defaults',
    '    log global',
    '    mode tcp',
    '    option dontlognull',
    '    # A failed connect is retried on another server (redispatch), not on the dead one until its check marks it down.',
    '    option redispatch 1',
    '    retries 3',
    '    timeout connect 5s',
    '    # Watches stay open for 30-60 min and may idle for minutes between events; short timeouts would cut them.',
    '    timeout client 20m',
    '    timeout server 20m',
    '    # In TCP mode the tunnel timeout governs an established connection once both sides are connected.',
    '    timeout tunnel 1h',
    '    timeout client-fin 30s',
    '    timeout server-fin 30s',
    '    timeout check 5s',
    '',
    '# Loopback only: stats page for the operator and /healthz for local probes; never exposed on the network.',
    'frontend stats',
    `    bind 127.0.0.1:${statsPort(options)}`,
    '    mode http',
    '    no log',
    '    timeout client 30s',
    '    monitor-uri /healthz',
    '    stats enable',
    '    stats uri /stats',
    '    stats refresh 10s',
    '',
    'frontend kube-apiserver',
    "    # '*' rather than the VIP: backups do not hold the VIP (binding it would need net.ipv4.ip_nonlocal_bind=1), and the keepalived check reaches the LB on 127.0.0.1.",
    `    bind *:${input.apiPort}`,
    '    mode tcp',
    '    option tcplog',
    `    maxconn ${maxconn}`,
    '    default_backend kube-apiserver',
    '',
    'backend kube-apiserver',
    '    mode tcp',
    '    balance roundrobin',
    '    # apiserver serves /healthz only over TLS, hence check-ssl; verify none because the check needs liveness, not identity.',
    '    option httpchk GET /healthz',
    '    http-check expect status 200',
    '    # shutdown-sessions: clients of a dead apiserver reconnect at once instead of hanging until a timeout.',
    '    default-server inter 2s downinter 5s fall 3 rise 2 slowstart 30s on-marked-down shutdown-sessions',
    ...servers,
    '',
  ].join('\n');
}
