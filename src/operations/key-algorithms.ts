import { KmsError, needs, validation } from '../domain/errors.js';
import type { KeyRecord } from '../domain/key.js';
import { algorithmListsFor, type Algorithm, type AlgorithmLists } from '../domain/key-spec-facts.js';
import type { HsmCapabilities } from '../ports/hsm.js';

/** AWS KMS Sign, Verify, GenerateMac, VerifyMac: Message is 1 to 4,096 bytes. */
export const MAX_MESSAGE_BYTES = 4096;

export function validateMessage(message: Buffer | undefined, field = 'Message'): asserts message is Buffer {
  needs(message !== undefined && message.length > 0, () => validation(`${field} is required.`));
  needs(message.length <= MAX_MESSAGE_BYTES, () =>
    validation(`${field} must be at most ${MAX_MESSAGE_BYTES} bytes; it is ${message.length}.`),
  );
}

/** A required enum field: present and one of the values AWS KMS defines. */
export function validateChoice<T extends string>(value: T | undefined, allowed: readonly T[], field: string): asserts value is T {
  needs(value !== undefined, () => validation(`${field} is required.`));
  needs(allowed.includes(value), () => validation(`${field} must be one of ${allowed.join(', ')}.`));
}

/**
 * The algorithm must be one the key's spec and usage offer (else InvalidKeyUsageException, as AWS
 * KMS answers "the algorithm is not compatible with the key spec"), and one this token can run
 * (else UnsupportedOperationException, naming it, rather than a PKCS#11 return code).
 */
export function requireKeyAlgorithm(
  key: KeyRecord,
  list: keyof AlgorithmLists,
  algorithm: Algorithm,
  capabilities: HsmCapabilities,
  field: string,
): void {
  const offered = algorithmListsFor(key.keySpec, key.keyUsage)[list] as readonly Algorithm[];
  needs(offered.includes(algorithm), () =>
    new KmsError('InvalidKeyUsageException', `${field} ${algorithm} is not compatible with ${key.arn} (${key.keySpec}, ${key.keyUsage}).`),
  );
  needs(capabilities.supportsAlgorithm(algorithm), () =>
    new KmsError('UnsupportedOperationException', `${algorithm} is not supported by the HSM token of this service.`),
  );
}

/** AWS KMS: asymmetric and HMAC algorithms take no encryption context. */
export function requireNoContext(context: Readonly<Record<string, string>> | undefined, field = 'EncryptionContext'): void {
  needs(context === undefined || Object.keys(context).length === 0, () =>
    validation(`${field} is valid only with symmetric encryption KMS keys.`),
  );
}
