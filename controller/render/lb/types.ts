/** One kube-apiserver behind the load balancer. */
export interface LbBackend {
  name: string;
  address: string;
  port: number;
}

/** One keepalived peer: a node that runs the load balancer and may hold the VIP. */
export interface LbNode {
  name: string;
  address: string;
  interface: string;
  priority?: number;
}

/** Everything needed to render the API load balancer of one `lb` node. */
export interface LbInput {
  clusterName: string;
  /** The API virtual IP (IPv4). */
  vip: string;
  /** Port the LB listens on at the VIP, e.g. 6443 (or 8443 when the LB runs on a control-plane node). */
  apiPort: number;
  /** Every kube-apiserver. */
  backends: LbBackend[];
  kind: 'haproxy' | 'nginx';
  /** keepalived peers, in inventory order. */
  lbNodes: LbNode[];
  /** Name of the lb node being rendered. */
  self: string;
  /** VRRP virtual router id, 1..255, unique per L2 segment. */
  virtualRouterId: number;
  /** VRRP auth password (secret; max 8 chars for PASS auth). */
  authPass?: string;
  maxConnections?: number;
}

/** File-system paths baked into the rendered configs; tests point them into a temp folder. */
export interface LbPaths {
  /** Where the nginx master writes its pid. */
  nginxPidFile: string;
  /** nginx error log. */
  nginxErrorLog: string;
  /** Dynamic stream module shipped by Debian's libnginx-mod-stream. */
  nginxStreamModule: string;
  /** haproxy runtime API socket. */
  haproxyStatsSocket: string;
  /** Where renderKeepalivedCheckScript's output is installed. */
  keepalivedCheckScript: string;
}

export interface LbRenderOptions {
  paths?: Partial<LbPaths>;
  /** Loopback port of haproxy's stats page and /healthz monitor. */
  haproxyStatsPort?: number;
  /** Unix user keepalived runs the check script as; it needs only curl and ip, so not root. */
  keepalivedScriptUser?: string;
  /**
   * Check keepalived.conf with `keepalived -t` before it goes live. Off by default: keepalived before
   * 2.2.8 (Debian 12 ships 2.2.7) kills itself during -t when script_user is not root (acassen/keepalived#2617).
   */
  keepalivedConfigTest?: boolean;
}

export const DEFAULT_LB_PATHS: Readonly<LbPaths> = Object.freeze({
  nginxPidFile: '/run/nginx.pid',
  nginxErrorLog: '/var/log/nginx/error.log',
  nginxStreamModule: '/usr/lib/nginx/modules/ngx_stream_module.so',
  haproxyStatsSocket: '/run/haproxy/admin.sock',
  keepalivedCheckScript: '/etc/keepalived/check_apiserver.sh',
});

export const DEFAULT_HAPROXY_STATS_PORT = 8404;

export const DEFAULT_KEEPALIVED_SCRIPT_USER = 'nobody';

/** Sized for a few hundred nodes, each holding a handful of long-lived watch connections. */
export const DEFAULT_MAX_CONNECTIONS = 4000;

/** Thrown by the renderers when validateLbInput finds problems. */
export class LbInputError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid load balancer input:\n- ${problems.join('\n- ')}`);
    this.name = 'LbInputError';
    this.problems = problems;
  }
}
