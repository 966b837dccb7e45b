// esbuild plugin: @grpc/proto-loader builds, at load, a reflection descriptor (toDescriptor + toObject)
// for every message and enum of etcd3's protos, twice more per RPC, plus every file's encoded
// FileDescriptorProto: ~100 ms of CPU at every weftd start. Only gRPC server reflection reads them,
// never etcd3's client (grpc-js uses each method's serializers), so the bundle computes each on
// first read instead: same objects, same fields, built when (if ever) something asks. The same goes
// for protobufjs/ext/descriptor (the descriptor types, built from JSON when it loads, ~10 ms), which
// only those descriptors and the FileDescriptorSet loaders (unused by etcd3) need.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Plugin } from 'esbuild';

/** [as published in @grpc/proto-loader 0.7, lazy replacement]. */
const REWRITES: [string, string][] = [
  [
    'const descriptor = require("protobufjs/ext/descriptor");',
    'let weftDescriptorModule;\nconst weftDescriptor = () => (weftDescriptorModule ??= require("protobufjs/ext/descriptor"));',
  ],
  [
    `    const messageDescriptor = message.toDescriptor('proto3');
    return {
        format: 'Protocol Buffer 3 DescriptorProto',
        type: messageDescriptor.$type.toObject(messageDescriptor, descriptorOptions),
        fileDescriptorProtos: fileDescriptors,
    };`,
    `    return weftLazyDefinition('Protocol Buffer 3 DescriptorProto', message, fileDescriptors);`,
  ],
  [
    `    const enumDescriptor = enumType.toDescriptor('proto3');
    return {
        format: 'Protocol Buffer 3 EnumDescriptorProto',
        type: enumDescriptor.$type.toObject(enumDescriptor, descriptorOptions),
        fileDescriptorProtos: fileDescriptors,
    };`,
    `    return weftLazyDefinition('Protocol Buffer 3 EnumDescriptorProto', enumType, fileDescriptors);`,
  ],
  [
    `    const descriptorList = root.toDescriptor('proto3').file;
    const bufferList = descriptorList.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish()));`,
    `    let weftFiles;
    const bufferList = () => (weftFiles ??= weftFileDescriptorProtos(root));`,
  ],
  ['const decodedDescriptorSet = descriptor.FileDescriptorSet.decode(descriptorSet);', 'const decodedDescriptorSet = weftDescriptor().FileDescriptorSet.decode(descriptorSet);'],
  ['const decodedDescriptorSet = descriptor.FileDescriptorSet.fromObject(descriptorSet);', 'const decodedDescriptorSet = weftDescriptor().FileDescriptorSet.fromObject(descriptorSet);'],
];

/** The definition object proto-loader returns, with `type` and `fileDescriptorProtos` computed on first read. */
const LAZY_DEFINITION = `
function weftFileDescriptorProtos(root) {
    const extension = weftDescriptor(); // first: it adds toDescriptor to protobufjs's types
    return root.toDescriptor('proto3').file.map(value => Buffer.from(extension.FileDescriptorProto.encode(value).finish()));
}
function weftLazyDefinition(format, reflected, fileDescriptors) {
    let type;
    return {
        format,
        get type() {
            if (type === undefined) {
                weftDescriptor(); // adds toDescriptor to protobufjs's types
                const d = reflected.toDescriptor('proto3');
                type = d.$type.toObject(d, descriptorOptions);
            }
            return type;
        },
        get fileDescriptorProtos() { return fileDescriptors(); },
    };
}
`;

export function lazyProtoLoaderSource(source: string, path: string): string {
  let out = source;
  for (const [published, lazy] of REWRITES) {
    if (!out.includes(published)) {
      throw new Error(`${path}: text to rewrite not found; @grpc/proto-loader changed, check build/proto-loader-plugin.ts`);
    }
    out = out.replace(published, lazy);
  }
  return out + LAZY_DEFINITION;
}

/** The proto-loader etcd3 loads (grpc-js nests another version, for ORCA only: left as it is). */
const ETCD3_PROTO_LOADER = createRequire(createRequire(import.meta.url).resolve('etcd3')).resolve('@grpc/proto-loader');
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const lazyProtoDescriptors: Plugin = {
  name: 'lazy-proto-descriptors',
  setup(build) {
    build.onLoad({ filter: new RegExp(`^${escapeRegExp(ETCD3_PROTO_LOADER)}$`) }, async (args) => ({
      contents: lazyProtoLoaderSource(await readFile(args.path, 'utf8'), args.path), loader: 'js',
    }));
  },
};
