import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { EncryptionContext } from '../domain/encryption-context.js';
import type { KeyRecord } from '../domain/key.js';
import { DATA_KEY_PAIR_SPECS, KEY_SPEC_FACTS, type DataKeyPairSpec } from '../domain/key-spec-facts.js';
import type { Hsm } from '../ports/hsm.js';
import { validateChoice } from './key-algorithms.js';
import { seal, validateContext } from './symmetric.js';

/** The request shared by GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext. */
export interface DataKeyPairRequest {
  readonly keyId?: string;
  readonly keyPairSpec?: DataKeyPairSpec;
  readonly encryptionContext?: EncryptionContext;
  readonly grantTokens?: readonly string[];
}

export interface DataKeyPair {
  /** DER SubjectPublicKeyInfo. */
  readonly publicKey: Buffer;
  /** PKCS#8 DER: the caller must wipe it once it is no longer needed. */
  readonly privateKeyPlaintext: Buffer;
  /** The PKCS#8 private key sealed under the KMS key, in the normal ciphertext format. */
  readonly privateKeyCiphertextBlob: Buffer;
}

export function validateDataKeyPairRequest(request: DataKeyPairRequest): void {
  validateChoice(request.keyPairSpec, DATA_KEY_PAIR_SPECS, 'KeyPairSpec');
  validateContext(request.encryptionContext);
}

const generate = promisify(generateKeyPair);

/**
 * A data key pair (AWS KMS GenerateDataKeyPair). It is data, not a KMS key: like AWS, the service
 * makes it for the caller and keeps nothing. It is generated on the host (node:crypto, off the event
 * loop), its PKCS#8 form is sealed under the symmetric KMS key inside the token, so Decrypt returns it.
 */
export async function generateDataKeyPair(hsm: Hsm, key: KeyRecord, request: DataKeyPairRequest): Promise<DataKeyPair> {
  const facts = KEY_SPEC_FACTS[request.keyPairSpec!];
  const pair =
    facts.modulusBytes !== undefined
      ? await generate('rsa', { modulusLength: facts.modulusBytes * 8, publicExponent: 0x10001 })
      : await generate('ec', { namedCurve: facts.curve! });
  const publicKey = pair.publicKey.export({ format: 'der', type: 'spki' });
  const privateKeyPlaintext = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
  try {
    const privateKeyCiphertextBlob = await seal(hsm, key, privateKeyPlaintext, request.encryptionContext);
    return { publicKey, privateKeyPlaintext, privateKeyCiphertextBlob };
  } catch (error) {
    privateKeyPlaintext.fill(0);
    throw error;
  }
}

export const dataKeyPairConditions = (r: DataKeyPairRequest) => ({
  encryptionContext: r.encryptionContext ?? {},
  keys: { 'kms:DataKeyPairSpec': r.keyPairSpec },
});

export const dataKeyPairAudit = (r: DataKeyPairRequest) => ({
  keyId: r.keyId,
  keyPairSpec: r.keyPairSpec,
  encryptionContext: r.encryptionContext,
});
