import { KmsError, needs, validation } from '../domain/errors.js';
import { isRotatable } from '../domain/key-spec-facts.js';
import { newKeyVersionId } from '../domain/ids.js';
import type { KeyRecord } from '../domain/key.js';
import type { Hsm } from '../ports/hsm.js';
import type { KeyVersionRotation, MetadataStore } from '../ports/metadata-store.js';
import { withNewKeyMaterial } from './key-material.js';

/** AWS KMS EnableKeyRotation: RotationPeriodInDays 90–2560, 365 when absent. */
export const MIN_ROTATION_DAYS = 90;
export const MAX_ROTATION_DAYS = 2560;
export const DEFAULT_ROTATION_DAYS = 365;
/** AWS KMS RotateKeyOnDemand: at most 25 on-demand rotations per key. */
export const MAX_ON_DEMAND_ROTATIONS = 25;

const DAY_MS = 86_400_000;

export function validateRotationPeriod(days: number | undefined): void {
  needs(days === undefined || (Number.isInteger(days) && days >= MIN_ROTATION_DAYS && days <= MAX_ROTATION_DAYS), () =>
    validation(`RotationPeriodInDays must be between ${MIN_ROTATION_DAYS} and ${MAX_ROTATION_DAYS}.`),
  );
}

/**
 * AWS KMS rotates symmetric encryption keys only: EnableKeyRotation, DisableKeyRotation and
 * RotateKeyOnDemand on an asymmetric or HMAC key answer UnsupportedOperationException.
 */
export function requireRotatable(key: KeyRecord): void {
  needs(isRotatable(key.keySpec), () =>
    new KmsError('UnsupportedOperationException', `${key.arn} is a ${key.keySpec} key; only symmetric encryption keys can be rotated.`),
  );
}

export const daysAfter = (date: Date, days: number): Date => new Date(date.getTime() + days * DAY_MS);

/**
 * A rotation: a new AES-256 object in the token, then the new version in the store (which makes it
 * current), in the crash-safe order of withNewKeyMaterial. If the store refuses (quota, a raced
 * scheduler, a state change), the new object is destroyed so no orphan remains; earlier versions
 * stay, so every older ciphertext still decrypts.
 */
export async function rotateKey(
  hsm: Hsm,
  store: Pick<MetadataStore, 'addKeyVersion' | 'recordKeyMaterialIntent' | 'dropKeyMaterialIntent'>,
  key: KeyRecord,
  now: Date,
  rotation: KeyVersionRotation,
): Promise<KeyRecord> {
  const versionId = newKeyVersionId();
  return withNewKeyMaterial(
    hsm,
    store,
    { versionId, keyId: key.id, recordedAt: now },
    () => hsm.generateSymmetricKey({ versionId, label: `p11kms:${key.id}:${versionId}` }),
    () => store.addKeyVersion(key.id, { id: versionId, keyId: key.id, createdAt: now }, rotation),
  );
}
