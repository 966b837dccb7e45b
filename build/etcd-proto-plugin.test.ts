// The descriptor parsed at build time must give grpc-js the same service definition as etcd3's own
// loadSync of rpc.proto: same methods and paths, same bytes on the wire, same decoded objects.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { connectionPoolFromDescriptor, etcdProtoDescriptor } from './etcd-proto-plugin.js';

interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: object): Buffer;
  responseSerialize(value: object): Buffer;
  responseDeserialize(bytes: Buffer): object;
}
type PackageDefinition = Record<string, Record<string, MethodDefinition>>;
interface ProtoLoader {
  loadSync(file: string, options: object): PackageDefinition;
  fromJSON(json: object, options: object): PackageDefinition;
}

const etcd3 = createRequire(import.meta.url).resolve('etcd3');
const protoLoader = createRequire(etcd3)('@grpc/proto-loader') as ProtoLoader;
const connectionPool = join(dirname(etcd3), 'connection-pool.js');
// etcd3's options (lib/connection-pool.js).
const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

const fromFile = protoLoader.loadSync(join(dirname(etcd3), '..', 'proto', 'rpc.proto'), OPTIONS);
const fromDescriptor = protoLoader.fromJSON(etcdProtoDescriptor(), OPTIONS);

const methodsOf = (definition: PackageDefinition): string[] =>
  Object.entries(definition).flatMap(([name, service]) =>
    Object.entries(service).filter(([, m]) => typeof m.path === 'string').map(([method, m]) => `${name}.${method} ${m.path} ${m.requestStream}/${m.responseStream}`));

describe('etcd protos parsed at build time', () => {
  it('define the same services, methods and streaming', () => {
    expect(methodsOf(fromDescriptor)).toEqual(methodsOf(fromFile));
    expect(methodsOf(fromFile)).toContain('etcdserverpb.Watch.Watch /etcdserverpb.Watch/Watch true/true');
    expect(Object.keys(fromDescriptor).sort()).toEqual(Object.keys(fromFile).sort());
  });

  it('encode requests and decode responses alike', () => {
    const range = { key: Buffer.from('/coreos.com/network/subnets/'), range_end: Buffer.from('/coreos.com/network/subnets0'), limit: '5', sort_order: 'DESCEND' };
    const kv = (definition: PackageDefinition): MethodDefinition => definition['etcdserverpb.KV']?.['Range'] as MethodDefinition;
    const encoded = kv(fromFile).requestSerialize(range);
    expect(encoded.length).toBeGreaterThan(50);
    expect(kv(fromDescriptor).requestSerialize(range)).toEqual(encoded);
    const response = kv(fromFile).responseSerialize({
      header: { cluster_id: '1', member_id: '2', revision: '3', raft_term: '4' },
      kvs: [{ key: Buffer.from('k'), create_revision: '3', mod_revision: '4', version: '1', value: Buffer.from('{"PublicIP":"192.0.2.1"}'), lease: '7' }],
      more: false, count: '1',
    });
    expect(kv(fromDescriptor).responseDeserialize(response)).toEqual(kv(fromFile).responseDeserialize(response));
  });

  it('replace the .proto load in etcd3, and refuse a source that changed', () => {
    const source = readFileSync(connectionPool, 'utf8');
    const rewritten = connectionPoolFromDescriptor(source, { nested: {} });
    expect(rewritten).toContain('(0, proto_loader_1.fromJSON)({"nested":{}}, {');
    expect(rewritten).not.toContain('rpc.proto');
    expect(() => connectionPoolFromDescriptor(source.replace('loadSync', 'loadFileSync'), {})).toThrow(/etcd3 changed/);
  });
});
