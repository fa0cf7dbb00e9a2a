/**
 * The one error type a handler may throw on purpose. `name` is the AWS KMS exception name
 * (the API reference's "Errors" section of each operation); `message` is safe to show the caller:
 * it never holds plaintext, key material or a PIN.
 */
export const KMS_ERROR_NAMES = [
  'AccessDeniedException',
  'AlreadyExistsException',
  'DependencyTimeoutException',
  'DisabledException',
  'DryRunOperationException',
  'IncorrectKeyException',
  'InvalidAliasNameException',
  'InvalidArnException',
  'InvalidCiphertextException',
  'InvalidGrantTokenException',
  'InvalidKeyUsageException',
  'InvalidMarkerException',
  'KeyUnavailableException',
  'KMSInternalException',
  'KMSInvalidMacException',
  'KMSInvalidSignatureException',
  'KMSInvalidStateException',
  'LimitExceededException',
  'MalformedPolicyDocumentException',
  'NotAuthorizedException',
  'NotFoundException',
  'TagException',
  'UnrecognizedClientException',
  'UnsupportedOperationException',
  'ValidationException',
] as const;

export type KmsErrorName = (typeof KMS_ERROR_NAMES)[number];

export class KmsError extends Error {
  override readonly name: KmsErrorName;

  constructor(name: KmsErrorName, message: string) {
    super(message);
    this.name = name;
  }
}

export function isKmsError(error: unknown): error is KmsError {
  return error instanceof KmsError;
}

export const notFound = (message: string) => new KmsError('NotFoundException', message);
export const validation = (message: string) => new KmsError('ValidationException', message);
export const accessDenied = (message: string) => new KmsError('AccessDeniedException', message);

/** Every failed decryption looks the same to the caller, whatever went wrong inside. */
export const invalidCiphertext = () =>
  new KmsError(
    'InvalidCiphertextException',
    'The ciphertext is invalid, was altered, or does not match the encryption context.',
  );

/**
 * AWS KMS DryRun ("Testing your permissions"): a request that asked for a dry run and passed every
 * check gets this instead of the work. Nothing was done, and the ledger records it all the same.
 */
export const dryRunDone = () =>
  new KmsError('DryRunOperationException', 'The request would have succeeded; DryRun was specified, so nothing was done.');

/** A precondition that carries the sentence naming its test (STYLE.md, habit 6). */
export function needs(condition: unknown, error: () => KmsError): asserts condition {
  if (!condition) throw error();
}
