// esbuild plugin: etcd3 parses its .proto files (rpc, kv, auth) with protobufjs at every start
// (lib/connection-pool.js: `loadSync(`${__dirname}/../proto/rpc.proto`, options)`). The bundle gets
// them parsed already: protobufjs's JSON descriptor of the same files, made here, handed to
// @grpc/proto-loader's fromJSON with the same options, so no .proto file is read or parsed at run
// time. Parsing is the only step moved: proto-loader builds the package definition as before.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin } from 'esbuild';

const requireFromEtcd3 = createRequire(createRequire(import.meta.url).resolve('etcd3'));
const CONNECTION_POOL = requireFromEtcd3.resolve('./connection-pool');
const RPC_PROTO = join(dirname(CONNECTION_POOL), '..', 'proto', 'rpc.proto');
const LOAD_FROM_FILE = '(0, proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`, {';

interface ProtobufRoot {
  loadSync(file: string, options: { keepCase: boolean }): ProtobufRoot;
  resolveAll(): ProtobufRoot;
  toJSON(): object;
}

/** etcd's protos as protobufjs parses them for proto-loader (which passes keepCase: true on). */
export function etcdProtoDescriptor(): object {
  const protobuf = createRequire(requireFromEtcd3.resolve('@grpc/proto-loader'))('protobufjs') as { Root: new () => ProtobufRoot };
  return new protobuf.Root().loadSync(RPC_PROTO, { keepCase: true }).resolveAll().toJSON();
}

/** connection-pool.js's source with the .proto load replaced by the descriptor `json`. */
export function connectionPoolFromDescriptor(source: string, json: object): string {
  if (!source.includes(LOAD_FROM_FILE)) {
    throw new Error(`${CONNECTION_POOL}: no "${LOAD_FROM_FILE}" to rewrite; etcd3 changed, check build/etcd-proto-plugin.ts`);
  }
  return source.replace(LOAD_FROM_FILE, `(0, proto_loader_1.fromJSON)(${JSON.stringify(json)}, {`);
}

export const etcdProtosParsedAtBuild: Plugin = {
  name: 'etcd-protos-parsed-at-build',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => ({
      contents: connectionPoolFromDescriptor(await readFile(args.path, 'utf8'), etcdProtoDescriptor()), loader: 'js',
    }));
  },
};
