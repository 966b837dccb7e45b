// etcd3's own decoder for one etcd RPC, for tests that check weft's wire decoders against it:
// proto-loader over etcd3's rpc.proto with etcd3's options (lib/connection-pool.js).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface RpcMethod<Response> {
  responseSerialize(value: object): Buffer;
  responseDeserialize(bytes: Buffer): Response;
}
interface ProtoLoader { loadSync(file: string, options: object): Record<string, Record<string, RpcMethod<unknown>>> }

const etcd3 = createRequire(import.meta.url).resolve('etcd3');
const protoLoader = createRequire(etcd3)('@grpc/proto-loader') as ProtoLoader;
const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** etcd3's (de)serializers of `service`'s `method`, e.g. ('etcdserverpb.KV', 'Range'). */
export function etcd3Method<Response>(service: string, method: string): RpcMethod<Response> {
  const found = protoLoader.loadSync(join(dirname(etcd3), '..', 'proto', 'rpc.proto'), OPTIONS)[service]?.[method];
  if (!found) throw new Error(`etcd3's rpc.proto has no ${service}/${method}`);
  return found as RpcMethod<Response>;
}
