import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  AgentServiceService,
  ApplyMode,
  type AgentServiceServer,
  type ApplyRequest,
} from '../../proto/gen/muster/agent/v1/agent.js';
import type { Engine } from '../engine/engine.js';
import { AgentError, agentErrors, toAgentError } from '../errors.js';
import type { FactsCache } from '../facts/facts.js';
import type { Host } from '../host/host.js';
import { listSnapshots, snapshotEtcd } from '../etcd/snapshot.js';
import type { StatusHub } from '../status/hub.js';
import { peerIdentity, type Role } from './roles.js';

export interface ServiceDeps {
  name: string;
  engine: Engine;
  facts: FactsCache;
  hub: StatusHub;
  log: Logger;
  // revoked holds the fleet's revoked serials: grpc-js has no CRL option, so each call checks.
  revoked?: { has(serial: string): boolean };
  host: Host;
}

function statusOf(err: unknown): grpc.ServiceError {
  const e = toAgentError(err);
  return Object.assign(new Error(e.message), { code: agentErrors[e.code].grpc, details: `${e.code}: ${e.message}`, metadata: new grpc.Metadata() });
}

// Refuses a caller whose certificate carries none of the roles; returns the refusal or undefined.
function refuse(call: Parameters<typeof peerIdentity>[0], allowed: Role[], method: string, log: Logger, revoked?: ServiceDeps['revoked']): grpc.ServiceError | undefined {
  const peer = peerIdentity(call);
  if (revoked?.has(peer.serial)) {
    log.warn({ peer: peer.name, serial: peer.serial, method }, 'refused: certificate revoked');
    return statusOf(new AgentError('PERMISSION_DENIED', `${method}: the certificate of ${peer.name || 'the caller'} (serial ${peer.serial}) is revoked`));
  }
  if (peer.roles.some((r) => (allowed as string[]).includes(r))) return undefined;
  log.warn({ peer: peer.name, roles: peer.roles, method }, 'refused: role not allowed');
  return statusOf(new AgentError('PERMISSION_DENIED', `${method} needs a ${allowed.join(' or ')} certificate; ${peer.name || 'the caller'} has role ${peer.roles.join(',') || 'none'}`));
}

// A plan older than the one applied is refused unless the request is a rollback; generation
// 0 (a plain apply) carries no order and is never refused for it.
export function staleGeneration(req: ApplyRequest, applied: number): AgentError | undefined {
  if (!req.generation || req.rollback || req.generation >= applied) return undefined;
  return new AgentError('STALE_GENERATION', `plan generation ${req.generation} is older than generation ${applied} applied on this node; only a rollback may send it`);
}

export function agentService(deps: ServiceDeps): AgentServiceServer {
  const { engine, log } = deps;
  return {
    apply(call) {
      const denied = refuse(call, ['controller'], 'Apply', log, deps.revoked);
      if (denied) return void call.emit('error', denied);
      const { plan, mode } = call.request;
      if (!plan || (mode !== ApplyMode.APPLY_MODE_CHECK && mode !== ApplyMode.APPLY_MODE_APPLY)) {
        return void call.emit('error', statusOf(new AgentError('INVALID_PLAN', 'Apply needs a plan and a mode of CHECK or APPLY')));
      }
      if (plan.node !== deps.name) {
        return void call.emit('error', statusOf(new AgentError('INVALID_PLAN', `the plan is for node ${plan.node}, this agent is ${deps.name}`)));
      }
      const stale = staleGeneration(call.request, engine.state.generation);
      if (stale) {
        log.warn({ generation: call.request.generation, applied: engine.state.generation }, stale.message);
        return void call.emit('error', statusOf(stale));
      }
      // Once started, the plan runs to its end even if the caller goes away: no half-applied plan.
      engine
        .run(plan, { mode, generation: call.request.generation, onResult: (task) => call.cancelled || call.write({ task }) })
        .then(async (summary) => {
          // The engine saved the plan with its generation; a plan it refused records it here
          // (setGeneration writes only when the generation is new).
          if (mode === ApplyMode.APPLY_MODE_APPLY && call.request.generation) await engine.state.setGeneration(call.request.generation);
          return summary;
        })
        .then((summary) => {
          if (!call.cancelled) {
            call.write({ summary });
            call.end();
          }
        })
        .catch((err) => call.cancelled || call.emit('error', statusOf(err)));
    },
    getFacts(call, callback) {
      const denied = refuse(call, ['controller', 'reader'], 'GetFacts', log, deps.revoked);
      if (denied) return callback(denied);
      deps.facts.get(call.request.refresh).then(
        (facts) => callback(null, { facts }),
        (err) => callback(statusOf(err)),
      );
    },
    getStatus(call, callback) {
      const denied = refuse(call, ['controller', 'reader'], 'GetStatus', log, deps.revoked);
      if (denied) return callback(denied);
      callback(null, { status: deps.hub.current() });
    },
    snapshotEtcd(call, callback) {
      const denied = refuse(call, ['controller'], 'SnapshotEtcd', log);
      if (denied) return callback(denied);
      snapshotEtcd(deps.host, engine.status.plan?.probes.find((p) => p.etcd), call.request.keep).then(
        (snapshot) => {
          log.info({ path: snapshot.path, bytes: snapshot.sizeBytes, revision: snapshot.revision }, 'etcd snapshot saved');
          callback(null, { snapshot });
        },
        (err) => callback(statusOf(err)),
      );
    },
    listEtcdSnapshots(call, callback) {
      const denied = refuse(call, ['controller', 'reader'], 'ListEtcdSnapshots', log);
      if (denied) return callback(denied);
      listSnapshots(deps.host).then((snapshots) => callback(null, { snapshots }), (err) => callback(statusOf(err)));
    },
    watchStatus(call) {
      const denied = refuse(call, ['controller', 'reader'], 'WatchStatus', log, deps.revoked);
      if (denied) return void call.emit('error', denied);
      const unsubscribe = deps.hub.subscribe((event) => call.write(event), () => call.end());
      call.on('cancelled', unsubscribe);
      call.on('close', unsubscribe);
      call.on('error', unsubscribe);
    },
  };
}

export { AgentServiceService };
