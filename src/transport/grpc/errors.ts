import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { isKmsError, type KmsErrorName } from '../../domain/errors.js';

/** The one place where AWS exception names become gRPC status codes (DESIGN.md, KmsError). */
const STATUS_BY_ERROR: Record<KmsErrorName, grpc.status> = {
  AccessDeniedException: grpc.status.PERMISSION_DENIED,
  AlreadyExistsException: grpc.status.ALREADY_EXISTS,
  DependencyTimeoutException: grpc.status.UNAVAILABLE,
  DisabledException: grpc.status.FAILED_PRECONDITION,
  // HTTP 412 in AWS KMS: the request was fine, and the caller asked that it not be carried out.
  DryRunOperationException: grpc.status.FAILED_PRECONDITION,
  IncorrectKeyException: grpc.status.INVALID_ARGUMENT,
  InvalidAliasNameException: grpc.status.INVALID_ARGUMENT,
  InvalidArnException: grpc.status.INVALID_ARGUMENT,
  InvalidCiphertextException: grpc.status.INVALID_ARGUMENT,
  InvalidGrantTokenException: grpc.status.INVALID_ARGUMENT,
  InvalidKeyUsageException: grpc.status.INVALID_ARGUMENT,
  InvalidMarkerException: grpc.status.INVALID_ARGUMENT,
  KeyUnavailableException: grpc.status.UNAVAILABLE,
  KMSInternalException: grpc.status.INTERNAL,
  KMSInvalidMacException: grpc.status.INVALID_ARGUMENT,
  KMSInvalidSignatureException: grpc.status.INVALID_ARGUMENT,
  KMSInvalidStateException: grpc.status.FAILED_PRECONDITION,
  LimitExceededException: grpc.status.RESOURCE_EXHAUSTED,
  MalformedPolicyDocumentException: grpc.status.INVALID_ARGUMENT,
  NotAuthorizedException: grpc.status.PERMISSION_DENIED,
  NotFoundException: grpc.status.NOT_FOUND,
  TagException: grpc.status.INVALID_ARGUMENT,
  UnrecognizedClientException: grpc.status.UNAUTHENTICATED,
  UnsupportedOperationException: grpc.status.UNIMPLEMENTED,
  ValidationException: grpc.status.INVALID_ARGUMENT,
};

export const ERROR_TYPE_TRAILER = 'kms-error-type';
export const REQUEST_ID_TRAILER = 'kms-request-id';
export const ERROR_DOMAIN = 'kms.p11kms.dev';

export class StatusMapper {
  private readonly statusType: protobuf.Type;
  private readonly errorInfoType: protobuf.Type;

  constructor(reflection: protobuf.Root) {
    this.statusType = reflection.lookupType('google.rpc.Status');
    this.errorInfoType = reflection.lookupType('google.rpc.ErrorInfo');
  }

  /**
   * A KmsError becomes its status code, its safe message, and its AWS name in the trailers.
   * The pipeline has already turned anything else into KMSInternalException with a request id.
   */
  toStatus(error: unknown, requestId: string): Partial<grpc.StatusObject> {
    const name: KmsErrorName = isKmsError(error) ? error.name : 'KMSInternalException';
    const message = isKmsError(error) ? error.message : `An internal error occurred. Request id: ${requestId}`;
    const code = STATUS_BY_ERROR[name];
    const errorInfo = this.errorInfoType.encode({ reason: name, domain: ERROR_DOMAIN, metadata: { requestId } }).finish();
    const details = this.statusType
      .encode({
        code,
        message,
        details: [{ type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: errorInfo }],
      })
      .finish();
    const metadata = new grpc.Metadata();
    metadata.set(ERROR_TYPE_TRAILER, name);
    metadata.set(REQUEST_ID_TRAILER, requestId);
    metadata.set('grpc-status-details-bin', Buffer.from(details));
    return { code, details: `${name}: ${message}`, metadata };
  }
}
