import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { newRequestId } from '../../domain/ids.js';
import { wipeSecrets } from '../../domain/secret-fields.js';
import type { AnyOperation } from '../../operations/operation.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { MessageCodec } from './codec.js';
import { Turns } from './turns.js';
import { REQUEST_ID_TRAILER, StatusMapper } from './errors.js';
import { loadPackageDefinition, loadReflection } from './proto-files.js';
import { KMS_ROUTES } from './routes.js';
import { addAuditService, AUDIT_SERVICE, loadKmsAndAuditPackageDefinition, type UnaryHandlerFactory } from './audit-service.js';
import type { AuditOperations } from '../../operations/audit/index.js';

export const KMS_SERVICE = 'p11kms.v1.KeyManagementService';
/** Request metadata a trusted service principal sets to call on behalf of an end user (issue 5). */
export const ON_BEHALF_OF_HEADER = 'kms-on-behalf-of';

export interface TlsMaterial {
  readonly caPem: Buffer;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
}

export interface GrpcServerOptions {
  /** host:port; port 0 picks a free one. */
  readonly listen: string;
  readonly tls: TlsMaterial;
  readonly pipeline: Pipeline;
  /** The AuditService's operations (audit-service.ts); served when given. */
  readonly audit?: AuditOperations;
}

export interface RunningGrpcServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The gRPC front door: mutual TLS (a client certificate from the configured CA is required),
 * the KMS service, and the standard health and reflection services.
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const packageDefinition = loadPackageDefinition();
  const reflection = loadReflection();
  const codec = new MessageCodec();
  const statuses = new StatusMapper(reflection);
  const serviceReflection = reflection.lookupService(KMS_SERVICE);
  const grpcObject = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    p11kms: { v1: { KeyManagementService: { service: grpc.ServiceDefinition } } };
  };

  const turns = new Turns();
  const unaryHandler: UnaryHandlerFactory = (operation, requestType, responseType) =>
    (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      turns.run(() => {
        const requestId = newRequestId();
        const answer = (result: Record<string, unknown>) => {
          const trailer = new grpc.Metadata();
          trailer.set(REQUEST_ID_TRAILER, requestId);
          callback(null, codec.toWire(responseType, result), trailer);
          // grpc-js has serialised the response inside callback(); wipe the plaintext we held.
          wipeSecrets(result);
        };
        const fail = (error: unknown) => callback(statuses.toStatus(error, requestId));
        try {
          const envelope = {
            requestId,
            peerIdentities: peerIdentities(call),
            sourceAddress: call.getPeer(),
            onBehalfOf: call.metadata.get(ON_BEHALF_OF_HEADER)[0]?.toString(),
          };
          options.pipeline
            .execute<Record<string, unknown>>(operation, codec.toOperation(requestType, call.request), envelope)
            .then(answer, fail);
        } catch (error) {
          fail(error);
        }
      });
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [rpc, operation] of Object.entries(KMS_ROUTES) as Array<[string, AnyOperation]>) {
    const method = serviceReflection.methods[rpc]!;
    handlers[rpc] = unaryHandler(operation, method.resolvedRequestType!, method.resolvedResponseType!);
  }

  const server = new grpc.Server();
  server.addService(grpcObject.p11kms.v1.KeyManagementService.service, handlers);
  if (options.audit) addAuditService(server, options.audit, unaryHandler);
  const serving: Record<string, 'SERVING'> = { '': 'SERVING', [KMS_SERVICE]: 'SERVING' };
  if (options.audit) serving[AUDIT_SERVICE] = 'SERVING';
  new HealthImplementation(serving).addToServer(server);
  new ReflectionService(options.audit ? loadKmsAndAuditPackageDefinition() : packageDefinition).addToServer(server);

  const credentials = grpc.ServerCredentials.createSsl(
    options.tls.caPem,
    [{ private_key: options.tls.keyPem, cert_chain: options.tls.certPem }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen, credentials, (error, boundPort) => (error ? reject(error) : resolve(boundPort))),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/**
 * The client certificate's URI SANs, read once per TLS connection. grpc-js's getAuthContext()
 * calls getPeerCertificate() — a full certificate decode — on every call (8% of the main thread
 * under load in the benchmark profile); a connection's certificate cannot change, so the answer
 * is cached against its socket. The socket is reached through grpc-js 1.14's call internals; where
 * they differ, every call falls back to getAuthContext().
 */
const identitiesBySocket = new WeakMap<object, string[]>();

interface InternalCall {
  readonly stream?: { readonly session?: { readonly socket?: unknown } };
  readonly nextCall?: InternalCall;
}

export function peerIdentities(call: grpc.ServerUnaryCall<unknown, unknown>): string[] {
  // The base call holds the HTTP/2 stream; server interceptors, if any, wrap it in nextCall links.
  let internal = (call as unknown as { call?: InternalCall }).call;
  while (internal && !internal.stream && internal.nextCall) internal = internal.nextCall;
  const socket = internal?.stream?.session?.socket;
  const read = () => uriSans(call.getAuthContext().sslPeerCertificate?.subjectaltname);
  if (typeof socket !== 'object' || socket === null) return read();
  let identities = identitiesBySocket.get(socket);
  if (identities === undefined) {
    identities = read();
    // An unauthenticated answer is not cached: it costs the caller nothing to be asked again.
    if (identities.length > 0) identitiesBySocket.set(socket, identities);
  }
  return identities;
}

/** `URI:arn:aws:iam::111122223333:role/Dev, DNS:x` → ['arn:aws:iam::111122223333:role/Dev']. */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
}
