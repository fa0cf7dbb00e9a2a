import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

export const KMS_PROTO = 'p11kms/v1/kms.proto';
export const STATUS_PROTO = 'google/rpc/status.proto';

/** The repository's proto/ folder, found from this module whether it runs from src/ or dist/src/. */
export function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, KMS_PROTO))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('proto/p11kms/v1/kms.proto not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/**
 * One set of loader options for server, client and the generated types (package.json "gen"):
 * snake_case field names, enum names as strings, and no defaults, so an absent field stays absent.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  arrays: true,
  objects: true,
  oneofs: true,
};

export function loadPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([KMS_PROTO], { ...LOADER_OPTIONS, includeDirs: [protoRoot()] });
}

/** protobufjs reflection over the same files, for the codec and the rich error details. */
export function loadReflection(): protobuf.Root {
  const root = new protobuf.Root();
  const base = protoRoot();
  root.resolvePath = (_origin, target) => (existsSync(join(base, target)) ? join(base, target) : target);
  root.loadSync([KMS_PROTO, STATUS_PROTO], { keepCase: true });
  root.resolveAll();
  return root;
}
