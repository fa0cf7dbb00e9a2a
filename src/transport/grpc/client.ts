import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { KmsError, KMS_ERROR_NAMES, type KmsErrorName } from '../../domain/errors.js';
import { MessageCodec } from './codec.js';
import { ERROR_TYPE_TRAILER } from './errors.js';
import { loadPackageDefinition, loadReflection } from './proto-files.js';
import { KMS_ROUTES } from './routes.js';
import { KMS_SERVICE, type TlsMaterial } from './server.js';

export type KmsRpc = keyof typeof KMS_ROUTES;

type UnaryMethod = (
  request: unknown,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: Record<string, unknown>) => void,
) => void;

/**
 * A client over mutual TLS that speaks in the operations' shapes (camelCase, Buffers, Dates) and
 * turns error statuses back into KmsError. Used by the CLI; tests use raw gRPC to stay independent.
 */
export class KmsClient {
  private readonly codec = new MessageCodec();
  private readonly reflection = loadReflection();

  private constructor(private readonly client: grpc.Client) {}

  static connect(endpoint: string, tls: TlsMaterial): KmsClient {
    const definition = loadPackageDefinition();
    const grpcObject = grpc.loadPackageDefinition(definition) as unknown as {
      p11kms: { v1: { KeyManagementService: grpc.ServiceClientConstructor } };
    };
    const credentials = grpc.credentials.createSsl(tls.caPem, tls.keyPem, tls.certPem);
    // TLS SNI may not carry an IP address (RFC 6066 §3): name the host the development server
    // certificate also holds instead; the certificate is still verified against the CA.
    const host = endpoint.slice(0, endpoint.lastIndexOf(':'));
    const options = isIP(host.replace(/^\[|\]$/g, '')) ? { 'grpc.ssl_target_name_override': 'localhost' } : {};
    return new KmsClient(new grpcObject.p11kms.v1.KeyManagementService(endpoint, credentials, options));
  }

  call(rpc: KmsRpc, request: Record<string, unknown>, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const method = this.reflection.lookupService(KMS_SERVICE).methods[rpc]!;
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

function toKmsError(error: grpc.ServiceError): Error {
  const name = error.metadata?.get(ERROR_TYPE_TRAILER)[0]?.toString();
  if (name && (KMS_ERROR_NAMES as readonly string[]).includes(name)) {
    return new KmsError(name as KmsErrorName, error.details.replace(`${name}: `, ''));
  }
  return error;
}
