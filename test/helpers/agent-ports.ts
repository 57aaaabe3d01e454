import * as grpc from '@grpc/grpc-js';
import { fleetStore } from '../../controller/pki/fleet.js';
import { healthOf, outcomeOf } from '../../controller/rollout/adapters.js';
import type { DispatchRequest, Dispatcher, EtcdSnapshotter, HealthSource } from '../../controller/rollout/ports.js';
import { AgentServiceClient, ApplyMode, Plan, type ApplySummary, type NodeStatus, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';

// The rollout runner's ports over real agents (mTLS gRPC with the controller's certificate),
// through the runner's own adapters: what the app layer wires, in a few lines for tests.
export interface AgentPorts {
  clients: Map<string, AgentServiceClient>;
  dispatcher: Dispatcher;
  health: HealthSource;
  snapshots: EtcdSnapshotter;
  // Every request the dispatcher sent, in order.
  dispatched: Pick<DispatchRequest, 'node' | 'mode' | 'generation' | 'rollback'>[];
  close(): void;
}

export async function agentPorts(fleetState: string, nodes: { name: string; address: string; agentPort: number }[]): Promise<AgentPorts> {
  const pki = fleetStore(fleetState);
  const [ca, controller] = [(await pki.read('ca'))!, (await pki.read('controller'))!];
  const creds = grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(controller.keyPem), Buffer.from(controller.certPem));
  const clients = new Map(nodes.map((n) => [n.name, new AgentServiceClient(`${n.address}:${n.agentPort}`, creds, { 'grpc.ssl_target_name_override': n.name })]));
  const dispatched: AgentPorts['dispatched'] = [];
  const dispatcher: Dispatcher = {
    dispatch(req) {
      dispatched.push({ node: req.node, mode: req.mode, generation: req.generation, rollback: req.rollback });
      return new Promise((resolve) => {
        let summary: ApplySummary | undefined;
        const results: TaskResult[] = [];
        const mode = req.mode === 'check' ? ApplyMode.APPLY_MODE_CHECK : ApplyMode.APPLY_MODE_APPLY;
        const call = clients.get(req.node)!.apply({ mode, plan: Plan.decode(req.plan), generation: req.generation, rollback: req.rollback }, { deadline: Date.now() + 10_000 });
        call.on('data', (e) => (e.task ? results.push(e.task) : (summary = e.summary)));
        call.on('error', (err: grpc.ServiceError) => resolve(outcomeOf({ error: err.code === grpc.status.UNAVAILABLE ? `unreachable: ${err.details}` : `${grpc.status[err.code]}: ${err.details}` })));
        call.on('end', () => resolve(outcomeOf({ summary, results })));
      });
    },
  };
  const health: HealthSource = {
    health: (node) => new Promise((resolve) => clients.get(node)!.getStatus({}, (err, res) => resolve(err ? healthOf(undefined, err.message) : healthOf(res!.status as NodeStatus)))),
  };
  const snapshots: EtcdSnapshotter = {
    snapshot: (node) => new Promise((resolve, reject) => clients.get(node)!.snapshotEtcd({ keep: 0 }, (err, res) => (err ? reject(new Error(err.details)) : resolve(res!.snapshot!)))),
  };
  return { clients, dispatcher, health, snapshots, dispatched, close: () => clients.forEach((c) => c.close()) };
}
