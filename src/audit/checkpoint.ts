import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { ChainHead } from './chain.js';
import { canonicalJson } from './json-value.js';

/**
 * A signed statement "the ledger's hash at `seq` was `hash`" (issue 6, item 4). Without it a
 * forger could rewrite a suffix of the chain and recompute every hash; with it, every entry up to a
 * checkpoint is fixed by a key that never leaves the token.
 */
export interface Checkpoint {
  readonly seq: number;
  /** Lowercase hex of the chain hash at `seq`. */
  readonly hash: string;
  /** When it was signed, ISO 8601 UTC. */
  readonly time: string;
  /** Base64 of a DER-encoded ECDSA P-256 signature (SEC 1 / RFC 3279 Ecdsa-Sig-Value) over SHA-256. */
  readonly signature: string;
}

/**
 * Signs checkpoint payloads with the audit key: ECDSA P-256, hashing the payload with SHA-256, and
 * answering the DER signature. The token-resident audit key implements it (hsmCheckpointSigner in
 * checkpointer.ts): SHA-256 on the host, CKM_ECDSA in the token — SoftHSM2 has no CKM_ECDSA_SHA256 —
 * and the raw r‖s converted to DER by the PKCS#11 adapter; tests use node:crypto.
 */
export interface CheckpointSigner {
  sign(payload: Buffer): Promise<Buffer>;
}

/** Bumped if the payload ever changes, so an old signature can never be read as a new statement. */
export const CHECKPOINT_PAYLOAD_VERSION = 1;
/** Domain separation: a signature by the audit key over anything else never reads as a checkpoint. */
export const CHECKPOINT_DOMAIN = 'p11kms-ledger-checkpoint';

const HASH_HEX = /^[0-9a-f]{64}$/;

/**
 * The exact bytes signed: UTF-8 of the RFC 8785 canonical JSON of {domain, hash, seq, time, v}, e.g.
 * {"domain":"p11kms-ledger-checkpoint","hash":"<64 lowercase hex>","seq":40,"time":"2026-01-02T03:04:05.678Z","v":1}
 */
export function checkpointPayload(seq: number, hashHex: string, time: string): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 1) {
    throw new RangeError(`checkpoint seq must be a positive integer, got ${seq}`);
  }
  if (!HASH_HEX.test(hashHex)) throw new RangeError('checkpoint hash must be 64 lowercase hex digits');
  return Buffer.from(
    canonicalJson({ domain: CHECKPOINT_DOMAIN, hash: hashHex, seq, time, v: CHECKPOINT_PAYLOAD_VERSION }),
    'utf8',
  );
}

/** Signs the head of the chain as of `time`. */
export async function signCheckpoint(signer: CheckpointSigner, head: ChainHead, time: Date): Promise<Checkpoint> {
  const hash = head.hash.toString('hex');
  const iso = time.toISOString();
  const signature = await signer.sign(checkpointPayload(head.seq, hash, iso));
  return { seq: head.seq, hash, time: iso, signature: signature.toString('base64') };
}

/** Parses the exported audit public key (SPKI PEM); anything but an EC P-256 key is refused. */
export function auditPublicKey(pem: string | Buffer): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('the audit public key must be an ECDSA P-256 key');
  }
  return key;
}

/** True only if `checkpoint.signature` is the audit key's signature over its payload. */
export function verifyCheckpoint(checkpoint: Checkpoint, publicKey: KeyObject | string): boolean {
  const key = typeof publicKey === 'string' ? auditPublicKey(publicKey) : publicKey;
  let payload: Buffer;
  try {
    payload = checkpointPayload(checkpoint.seq, checkpoint.hash, checkpoint.time);
  } catch {
    return false;
  }
  const signature = Buffer.from(checkpoint.signature, 'base64');
  try {
    return verify('sha256', payload, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false; // a signature that is not even DER
  }
}
