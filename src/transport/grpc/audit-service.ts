import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { AuditOperations } from '../../operations/audit/index.js';
import type { AnyOperation } from '../../operations/operation.js';
import type { AuditServiceHandlers } from './generated/p11kms/v1/AuditService.js';
import { KMS_PROTO, LOADER_OPTIONS, protoRoot } from './proto-files.js';

export const AUDIT_SERVICE = 'p11kms.v1.AuditService';
export const AUDIT_PROTO = 'p11kms/v1/audit.proto';

/** How the server turns an operation into a gRPC unary handler (server.ts owns the envelope and errors). */
export type UnaryHandlerFactory = (
  operation: AnyOperation,
  requestType: protobuf.Type,
  responseType: protobuf.Type,
) => grpc.handleUnaryCall<Record<string, unknown>, unknown>;

/** RPC name → operation; `satisfies` refuses an RPC of audit.proto without one, or one it does not declare. */
export function auditRoutes(operations: AuditOperations) {
  return {
    ListAuditEvents: operations.listAuditEvents,
    GetLedgerHead: operations.getLedgerHead,
    ListCheckpoints: operations.listCheckpoints,
    GetAuditPublicKey: operations.getAuditPublicKey,
    GetKeyLastUsage: operations.getKeyLastUsage,
  } satisfies Record<keyof AuditServiceHandlers, AnyOperation>;
}

export function loadAuditPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([AUDIT_PROTO], { ...LOADER_OPTIONS, includeDirs: [protoRoot()] });
}

/**
 * kms.proto and audit.proto in one definition, for the reflection service: protobufjs names its file
 * descriptors by package (p11kms_v1.proto), so two separately loaded definitions would hide one
 * service from reflection.
 */
export function loadKmsAndAuditPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([KMS_PROTO, AUDIT_PROTO], { ...LOADER_OPTIONS, includeDirs: [protoRoot()] });
}

/** protobufjs reflection over audit.proto, for the codec (as proto-files.ts does for kms.proto). */
export function loadAuditReflection(): protobuf.Root {
  const root = new protobuf.Root();
  const base = protoRoot();
  root.resolvePath = (_origin, target) => (existsSync(join(base, target)) ? join(base, target) : target);
  root.loadSync([AUDIT_PROTO], { keepCase: true });
  root.resolveAll();
  return root;
}

/**
 * Serves the AuditService (audit.proto) on `server`: the same unary handlers as the KMS service,
 * so every audit read is authenticated, authorized and recorded by the pipeline like any request.
 */
export function addAuditService(server: grpc.Server, operations: AuditOperations, handler: UnaryHandlerFactory): void {
  const service = loadAuditReflection().lookupService(AUDIT_SERVICE);
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [rpc, operation] of Object.entries(auditRoutes(operations)) as Array<[string, AnyOperation]>) {
    const method = service.methods[rpc]!;
    handlers[rpc] = handler(operation, method.resolvedRequestType!, method.resolvedResponseType!);
  }
  const grpcObject = grpc.loadPackageDefinition(loadAuditPackageDefinition()) as unknown as {
    p11kms: { v1: { AuditService: { service: grpc.ServiceDefinition } } };
  };
  server.addService(grpcObject.p11kms.v1.AuditService.service, handlers);
}
