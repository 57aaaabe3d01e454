import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { Health } from './health.js';

// A client built from the standard health.proto wire format, independent of the server code.
const encode = (service: string) => {
  const w = new BinaryWriter();
  if (service) w.uint32(10).string(service);
  return Buffer.from(w.finish());
};
const decode = (buf: Buffer) => {
  const r = new BinaryReader(buf);
  let status = 0;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 8) status = r.int32();
    else r.skip(tag & 7);
  }
  return { status };
};
const Client = grpc.makeGenericClientConstructor({
  Check: { path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false, requestSerialize: encode, requestDeserialize: () => '', responseSerialize: () => Buffer.alloc(0), responseDeserialize: decode },
  Watch: { path: '/grpc.health.v1.Health/Watch', requestStream: false, responseStream: true, requestSerialize: encode, requestDeserialize: () => '', responseSerialize: () => Buffer.alloc(0), responseDeserialize: decode },
}, 'Health');

test('health: Check and Watch speak grpc.health.v1', async (t) => {
  const server = new grpc.Server();
  const health = new Health({ '': 'SERVING', 'muster.agent.v1.AgentService': 'SERVING' });
  health.addToServer(server);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as {
    Check(req: string, cb: (err: grpc.ServiceError | null, res: { status: number }) => void): void;
    Watch(req: string): grpc.ClientReadableStream<{ status: number }>;
    close(): void;
  };
  t.after(() => {
    client.close();
    server.forceShutdown();
  });
  const check = (service: string) => new Promise<{ status: number } | grpc.ServiceError>((resolve) => client.Check(service, (err, res) => resolve(err ?? res)));
  assert.deepEqual(await check(''), { status: 1 });
  assert.deepEqual(await check('muster.agent.v1.AgentService'), { status: 1 });
  assert.equal(((await check('nope')) as grpc.ServiceError).code, grpc.status.NOT_FOUND);

  const seen: number[] = [];
  const stream = client.Watch('');
  stream.on('data', (d) => seen.push(d.status));
  stream.on('error', () => {});
  await new Promise((r) => setTimeout(r, 100));
  health.setStatus('', 'NOT_SERVING');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(seen, [1, 2]);
  stream.cancel();
});
