// The rewritten @grpc/proto-loader against the published one: the same definitions, descriptors
// built only when read, and protobufjs's descriptor extension loaded only then.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { lazyProtoLoaderSource } from './proto-loader-plugin.js';

const ETCD3_PROTO_LOADER = createRequire(createRequire(import.meta.url).resolve('etcd3')).resolve('@grpc/proto-loader');

interface ProtoLoader {
  loadSync(file: string, options: object): Record<string, { type?: unknown; fileDescriptorProtos?: Buffer[] }>;
}

/** Evaluates the rewritten module with a require that records what it loads. */
function loadRewritten(required: string[]): ProtoLoader {
  const source = lazyProtoLoaderSource(readFileSync(ETCD3_PROTO_LOADER, 'utf8'), ETCD3_PROTO_LOADER);
  const realRequire = createRequire(ETCD3_PROTO_LOADER);
  const recordingRequire = (id: string): unknown => {
    required.push(id);
    return realRequire(id);
  };
  const module = { exports: {} };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- evaluating the rewritten CommonJS module is the point
  const wrapper = new Function('exports', 'require', 'module', '__filename', '__dirname', source) as (...args: unknown[]) => void;
  wrapper(module.exports, recordingRequire, module, ETCD3_PROTO_LOADER, dirname(ETCD3_PROTO_LOADER));
  return module.exports as ProtoLoader;
}

const PROTO = `syntax = "proto3";
package t;
enum Kind { PUT = 0; DELETE = 1; }
message KeyValue { bytes key = 1; int64 mod_revision = 3; Kind kind = 4; }
service KV { rpc Range(KeyValue) returns (KeyValue); }
`;

describe('proto-loader rewritten for lazy descriptors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-proto-'));
    await writeFile(join(dir, 't.proto'), PROTO);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the published definitions, and loads the descriptor extension only when one is read', () => {
    const required: string[] = [];
    const options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
    const lazy = loadRewritten(required).loadSync(join(dir, 't.proto'), options);
    const published = (createRequire(ETCD3_PROTO_LOADER)(ETCD3_PROTO_LOADER) as ProtoLoader).loadSync(join(dir, 't.proto'), options);
    expect(required).not.toContain('protobufjs/ext/descriptor');
    expect(Object.keys(lazy).sort()).toEqual(Object.keys(published).sort());

    expect(lazy['t.KeyValue']?.type).toEqual(published['t.KeyValue']?.type);
    expect(required).toContain('protobufjs/ext/descriptor');
    expect(lazy['t.Kind']?.type).toEqual(published['t.Kind']?.type);
    expect(lazy['t.KeyValue']?.fileDescriptorProtos).toEqual(published['t.KeyValue']?.fileDescriptorProtos);
    expect(lazy['t.KeyValue']?.type).toMatchObject({ name: 'KeyValue' });
  });

  it('leaves no use of the eagerly loaded descriptor module behind', () => {
    const source = lazyProtoLoaderSource(readFileSync(ETCD3_PROTO_LOADER, 'utf8'), ETCD3_PROTO_LOADER);
    expect(source).not.toMatch(/(^|[^\w.])descriptor\.(FileDescriptor|Descriptor)/m);
  });
});
