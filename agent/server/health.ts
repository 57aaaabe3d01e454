import * as grpc from '@grpc/grpc-js';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

// The standard grpc.health.v1.Health service (Check and Watch). Written here on the wire
// codec the generated code already uses: the grpc-health-check package loads protobufjs and
// proto-loader at run time, about 5 MiB of the agent's idle memory (docs/benchmarks.md).
export type ServingStatus = 'SERVING' | 'NOT_SERVING';
const CODE = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

interface CheckRequest {
  service: string;
}
interface CheckResponse {
  status: number;
}

function decodeRequest(buf: Buffer): CheckRequest {
  const r = new BinaryReader(buf);
  let service = '';
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) service = r.string();
    else r.skip(tag & 7);
  }
  return { service };
}

function encodeResponse(res: CheckResponse): Buffer {
  const w = new BinaryWriter();
  if (res.status) w.uint32(8).int32(res.status);
  return Buffer.from(w.finish());
}

const method = (name: string, responseStream: boolean) => ({
  path: `/grpc.health.v1.Health/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: (_: CheckRequest) => Buffer.alloc(0),
  requestDeserialize: decodeRequest,
  responseSerialize: encodeResponse,
  responseDeserialize: (_: Buffer) => ({ status: 0 }),
});

export const HealthService = { check: method('Check', false), watch: method('Watch', true) } as grpc.ServiceDefinition;

export class Health {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<{ service: string; call: grpc.ServerWritableStream<CheckRequest, CheckResponse> }>();

  constructor(initial: Record<string, ServingStatus>) {
    for (const [k, v] of Object.entries(initial)) this.statuses.set(k, v);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const w of this.watchers) if (w.service === service) w.call.write({ status: CODE[status] });
  }

  // Ends Watch streams so a graceful server shutdown does not wait for them.
  close(): void {
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }

  addToServer(server: grpc.Server): void {
    server.addService(HealthService, {
      check: (call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>, cb: grpc.sendUnaryData<CheckResponse>) => {
        const s = this.statuses.get(call.request.service);
        if (!s) return cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        cb(null, { status: CODE[s] });
      },
      watch: (call: grpc.ServerWritableStream<CheckRequest, CheckResponse>) => {
        const s = this.statuses.get(call.request.service);
        call.write({ status: s ? CODE[s] : CODE.SERVICE_UNKNOWN });
        const w = { service: call.request.service, call };
        this.watchers.add(w);
        call.on('cancelled', () => this.watchers.delete(w));
      },
    });
  }
}
