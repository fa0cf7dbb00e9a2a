import { invalidCiphertext, needs, validation } from '../domain/errors.js';
import type { EncryptionAlgorithm, KeyRecord } from '../domain/key.js';
import { maxOaepPlaintextBytes } from '../domain/key-spec-facts.js';
import { type Hsm, HsmDecryptionError, type OaepAlgorithm } from '../ports/hsm.js';

/**
 * RSAES-OAEP as Encrypt, Decrypt and ReEncrypt share it. An RSA ciphertext is the raw OAEP output
 * and names no key, so a request that reads one names the key itself.
 */
export const isRsaAlgorithm = (algorithm: EncryptionAlgorithm | undefined): algorithm is OaepAlgorithm =>
  algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT';

/** Encrypts with the key's public key, within OAEP's limit for its size (k − 2·hLen − 2 bytes). */
export async function sealOaep(hsm: Hsm, key: KeyRecord, algorithm: OaepAlgorithm, plaintext: Buffer, field = 'Plaintext'): Promise<Buffer> {
  const limit = maxOaepPlaintextBytes(key.keySpec, algorithm);
  needs(plaintext.length <= limit, () =>
    validation(`${field} must be at most ${limit} bytes for ${key.keySpec} with ${algorithm}; it is ${plaintext.length}.`),
  );
  return hsm.encryptAsymmetric(key.currentVersionId, key.keySpec, algorithm, plaintext);
}

/** Decrypts with the private key in the token; every bad ciphertext gets one answer (RFC 8017 §7.1.2 note). */
export async function openOaep(hsm: Hsm, key: KeyRecord, algorithm: OaepAlgorithm, ciphertext: Buffer): Promise<Buffer> {
  try {
    return await hsm.decryptAsymmetric(key.currentVersionId, key.keySpec, algorithm, ciphertext);
  } catch (error) {
    if (error instanceof HsmDecryptionError) throw invalidCiphertext();
    throw error;
  }
}
