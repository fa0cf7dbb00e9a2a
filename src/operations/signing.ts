import { createHash } from 'node:crypto';
import { needs, validation } from '../domain/errors.js';
import {
  HASH_BYTES,
  MESSAGE_TYPES,
  SIGNING_ALGORITHM_FACTS,
  SIGNING_ALGORITHMS,
  type MessageType,
  type SigningAlgorithm,
} from '../domain/key-spec-facts.js';
import { validateChoice, validateMessage } from './key-algorithms.js';

/** The request fields Sign and Verify share (AWS KMS API reference). */
export interface SigningRequest {
  readonly keyId?: string;
  readonly message?: Buffer;
  readonly messageType?: MessageType;
  readonly signingAlgorithm?: SigningAlgorithm;
  readonly grantTokens?: readonly string[];
}

/**
 * Message ≤ 4,096 bytes; SigningAlgorithm required; a DIGEST is exactly as long as the algorithm's
 * hash (AWS KMS Sign, MessageType); ED25519_SHA_512 is PureEdDSA and signs RAW messages only.
 */
export function validateSigningRequest(request: SigningRequest): void {
  const { message, signingAlgorithm } = request;
  validateMessage(message);
  validateChoice(signingAlgorithm, SIGNING_ALGORITHMS, 'SigningAlgorithm');
  needs(request.messageType === undefined || MESSAGE_TYPES.includes(request.messageType), () =>
    validation(`MessageType must be one of ${MESSAGE_TYPES.join(', ')}.`),
  );
  const { hash } = SIGNING_ALGORITHM_FACTS[signingAlgorithm];
  if (request.messageType !== 'DIGEST') return;
  needs(hash !== undefined, () => validation(`${signingAlgorithm} signs RAW messages only.`));
  needs(message.length === HASH_BYTES[hash], () =>
    validation(`A ${signingAlgorithm} DIGEST is ${HASH_BYTES[hash]} bytes; the message is ${message.length}.`),
  );
}

/** What the token signs: the digest for hashed algorithms (computed here for RAW), else the message. */
export function signingInput(request: SigningRequest): Buffer {
  const { hash } = SIGNING_ALGORITHM_FACTS[request.signingAlgorithm!];
  if (hash === undefined || request.messageType === 'DIGEST') return request.message!;
  return createHash(hash).update(request.message!).digest();
}

export const signingConditions = (r: SigningRequest) => ({
  keys: { 'kms:SigningAlgorithm': r.signingAlgorithm, 'kms:MessageType': r.messageType ?? 'RAW' },
});

export const signingAudit = (r: SigningRequest) => ({
  keyId: r.keyId,
  signingAlgorithm: r.signingAlgorithm,
  messageType: r.messageType ?? 'RAW',
});
