import { header, lbNodePriorities, resolvePaths, scriptUser, selfNode, shQuote } from './common.js';
import type { LbInput, LbRenderOptions } from './types.js';
import { assertValidLbInput } from './validate.js';

/** Name of the vrrp_script; referenced by track_script. */
export const KEEPALIVED_SCRIPT_NAME = 'chk_kube_apiserver';

/** keepalived.conf for one lb node: a unicast VRRP instance that floats the API VIP to a node whose local LB works. */
export function renderKeepalived(input: LbInput, options?: LbRenderOptions): string {
  assertValidLbInput(input, options);
  const paths = resolvePaths(options);
  const self = selfNode(input);
  const priority = lbNodePriorities(input)[input.lbNodes.indexOf(self)]!;
  const peers = input.lbNodes.filter((n) => n.name !== self.name);

  const unicast =
    peers.length === 0
      ? ['    # Single lb node: no peers to advertise to, and no failover either.']
      : [
          '    # Unicast adverts: bare-metal switches and clouds often drop VRRP multicast (224.0.0.18).',
          `    unicast_src_ip ${self.address}`,
          '    unicast_peer {',
          ...peers.map((p) => `        ${p.address}    # ${p.name}`),
          '    }',
        ];
  const auth =
    input.authPass === undefined
      ? ['    # No authPass given: adverts are unauthenticated; keep VRRP on a trusted segment.']
      : ['    authentication {', '        auth_type PASS', `        auth_pass ${input.authPass}`, '    }'];

  return [
    header('#', input),
    '# Holds the VRRP password when one is set: install as root-owned, mode 0600.',
    'global_defs {',
    `    router_id ${self.name}`,
    '    # Refuse to run a check script that a non-root user could modify; the check needs only curl and ip, so no root.',
    '    enable_script_security',
    `    script_user ${scriptUser(options)}`,
    '    # vrrp_strict stays off on purpose: it forbids unicast peers and authentication.',
    '}',
    '',
    `vrrp_script ${KEEPALIVED_SCRIPT_NAME} {`,
    `    script "${paths.keepalivedCheckScript}"`,
    '    interval 3',
    '    timeout 5',
    '    fall 3',
    '    rise 2',
    '    # No weight: a failing check puts the instance in FAULT and releases the VIP, whatever the priority gaps.',
    '}',
    '',
    `vrrp_instance kube_apiserver_${input.clusterName} {`,
    '    # BACKUP everywhere plus nopreempt: the highest priority wins the first election, but a recovered node',
    '    # does not take the VIP back, which would reset every client connection a second time.',
    '    state BACKUP',
    '    nopreempt',
    `    interface ${self.interface}`,
    `    virtual_router_id ${input.virtualRouterId}`,
    `    priority ${priority}`,
    '    advert_int 1',
    ...unicast,
    ...auth,
    '    virtual_ipaddress {',
    `        ${input.vip}/32 dev ${self.interface}`,
    '    }',
    '    track_script {',
    `        ${KEEPALIVED_SCRIPT_NAME}`,
    '    }',
    '}',
    '',
  ].join('\n');
}

/** POSIX sh health check run by keepalived: the local LB must answer, and so must the VIP while this node holds it. */
export function renderKeepalivedCheckScript(input: LbInput, options?: LbRenderOptions): string {
  assertValidLbInput(input, options);
  return [
    '#!/bin/sh',
    header('#', input),
    '# Exit 0 when the API answers through this node\'s load balancer; keepalived releases the VIP after repeated failures.',
    'set -eu',
    '',
    `VIP=${shQuote(input.vip)}`,
    `PORT=${shQuote(String(input.apiPort))}`,
    '',
    'fail() {',
    '    echo "*** $*" >&2',
    '    exit 1',
    '}',
    '',
    '# -k: only liveness matters here, and the serving cert may not list 127.0.0.1; --noproxy: never route a health check via a proxy.',
    'probe() {',
    '    curl --silent --show-error --fail --insecure --noproxy \'*\' --max-time 2 --output /dev/null "https://$1:${PORT}/healthz"',
    '}',
    '',
    'probe 127.0.0.1 || fail "GET https://127.0.0.1:${PORT}/healthz failed"',
    '',
    '# Match " VIP/" exactly: a bare grep for 10.0.0.1 would also match 10.0.0.10.',
    'if ip -o -4 addr show | grep -qF " ${VIP}/"; then',
    '    probe "${VIP}" || fail "GET https://${VIP}:${PORT}/healthz failed"',
    'fi',
    '',
  ].join('\n');
}
