import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { KmsError, KMS_ERROR_NAMES, type KmsErrorName } from '../../domain/errors.js';
import { MessageCodec } from './codec.js';
import { ERROR_TYPE_TRAILER } from './errors.js';
import { AUDIT_SERVICE, loadAuditPackageDefinition, loadAuditReflection } from './audit-service.js';
import type { AuditServiceHandlers } from './generated/p11kms/v1/AuditService.js';
import { loadPackageDefinition, loadReflection } from './proto-files.js';
import { KMS_ROUTES } from './routes.js';
import { KMS_SERVICE, type TlsMaterial } from './server.js';

export type KmsRpc = keyof typeof KMS_ROUTES;
export type AuditRpc = keyof AuditServiceHandlers & string;

type UnaryMethod = (
  request: unknown,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: Record<string, unknown>) => void,
) => void;

/**
 * A client over mutual TLS that speaks in the operations' shapes (camelCase, Buffers, Dates) and
 * turns error statuses back into KmsError. Used by the CLI; tests use raw gRPC to stay independent.
 * `KmsClient.connect` reaches the KeyManagementService, `KmsClient.connectAudit` the AuditService.
 */
export class KmsClient<Rpc extends string = KmsRpc> {
  private readonly codec = new MessageCodec();

  private constructor(
    private readonly client: grpc.Client,
    private readonly reflection: protobuf.Root,
    private readonly service: string,
  ) {}

  static connect(endpoint: string, tls: TlsMaterial): KmsClient<KmsRpc> {
    const grpcObject = grpc.loadPackageDefinition(loadPackageDefinition()) as unknown as {
      p11kms: { v1: { KeyManagementService: grpc.ServiceClientConstructor } };
    };
    const Client = grpcObject.p11kms.v1.KeyManagementService;
    return new KmsClient(new Client(endpoint, ...channel(endpoint, tls)), loadReflection(), KMS_SERVICE);
  }

  static connectAudit(endpoint: string, tls: TlsMaterial): KmsClient<AuditRpc> {
    const grpcObject = grpc.loadPackageDefinition(loadAuditPackageDefinition()) as unknown as {
      p11kms: { v1: { AuditService: grpc.ServiceClientConstructor } };
    };
    const Client = grpcObject.p11kms.v1.AuditService;
    return new KmsClient(new Client(endpoint, ...channel(endpoint, tls)), loadAuditReflection(), AUDIT_SERVICE);
  }

  call(rpc: Rpc, request: Record<string, unknown>, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const method = this.reflection.lookupService(this.service).methods[rpc]!;
    const wire = this.codec.toWire(method.resolvedRequestType!, request);
    const invoke = (this.client as unknown as Record<string, UnaryMethod>)[rpc]!;
    return new Promise((resolve, reject) => {
      invoke.call(
        this.client,
        wire,
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error) reject(toKmsError(error));
          else resolve(this.codec.toOperation(method.resolvedResponseType!, response));
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

function channel(endpoint: string, tls: TlsMaterial): [grpc.ChannelCredentials, grpc.ChannelOptions] {
  const credentials = grpc.credentials.createSsl(tls.caPem, tls.keyPem, tls.certPem);
  // TLS SNI may not carry an IP address (RFC 6066 §3): name the host the development server
  // certificate also holds instead; the certificate is still verified against the CA.
  const host = endpoint.slice(0, endpoint.lastIndexOf(':'));
  return [credentials, isIP(host.replace(/^\[|\]$/g, '')) ? { 'grpc.ssl_target_name_override': 'localhost' } : {}];
}

function toKmsError(error: grpc.ServiceError): Error {
  const name = error.metadata?.get(ERROR_TYPE_TRAILER)[0]?.toString();
  if (name && (KMS_ERROR_NAMES as readonly string[]).includes(name)) {
    return new KmsError(name as KmsErrorName, error.details.replace(`${name}: `, ''));
  }
  return error;
}
