import { randomFillSync, randomUUID } from 'node:crypto';
import { KmsError } from './errors.js';

/** Where this service lives: the parts of every ARN it mints (DESIGN.md, "Identity"). */
export interface ServiceLocation {
  readonly partition: string;
  readonly region: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ACCOUNT = /^\d{12}$/;

export const newKeyId = (): string => randomUUID();
export const newKeyVersionId = (): string => randomUUID();
export const isKeyId = (value: string): boolean => UUID.test(value);
export const isAccountId = (value: string): boolean => ACCOUNT.test(value);

/** Random bytes for 256 request ids at a time, from the host CSPRNG (as randomUUID keeps them). */
const requestIdBytes = Buffer.allocUnsafeSlow(16 * 256);
let requestIdAt = requestIdBytes.length;
/** The text of the id being made: its 36 characters are written here, then read as one string. */
const requestIdText = Buffer.allocUnsafeSlow(36);
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A random (version 4) UUID for a request id, in the form crypto.randomUUID gives. randomUUID
 * writes its text by twenty string concatenations, whose intermediate strings were ~0.5 KB of
 * garbage per request (an exact heap count under Encrypt at 64 in flight, bench/FINDINGS.md);
 * here the 36 characters are written into one buffer and read out as the only string made.
 */
export function newRequestId(): string {
  if (requestIdAt === requestIdBytes.length) {
    randomFillSync(requestIdBytes);
    requestIdAt = 0;
  }
  let at = 0;
  for (let i = 0; i < 16; i++) {
    let byte = requestIdBytes[requestIdAt + i]!;
    if (i === 6) byte = (byte & 0x0f) | 0x40; // version 4 (RFC 9562 §5.4)
    else if (i === 8) byte = (byte & 0x3f) | 0x80; // variant 10xx
    if (i === 4 || i === 6 || i === 8 || i === 10) requestIdText[at++] = 0x2d; // '-'
    requestIdText[at++] = HEX_DIGITS[byte >> 4]!;
    requestIdText[at++] = HEX_DIGITS[byte & 0x0f]!;
  }
  requestIdAt += 16;
  return requestIdText.toString('latin1', 0, 36);
}

export function keyArn(location: ServiceLocation, account: string, keyId: string): string {
  return `arn:${location.partition}:kms:${location.region}:${account}:key/${keyId}`;
}

export interface Arn {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

export function parseArn(value: string): Arn | undefined {
  const parts = value.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  const [, partition, service, region, account] = parts as [string, string, string, string, string];
  // Region and account may be empty (IAM, S3); partition and service never are.
  if (partition === '' || service === '') return undefined;
  return { partition, service, region, account, resource: parts.slice(5).join(':') };
}

/** A key reference as the caller gave it: AWS KMS accepts a key id, key ARN, alias name or alias ARN. */
export type KeyReference =
  | { readonly kind: 'keyId'; readonly keyId: string }
  | { readonly kind: 'keyArn'; readonly keyId: string; readonly account: string; readonly region: string }
  | { readonly kind: 'aliasName'; readonly aliasName: string }
  | { readonly kind: 'aliasArn'; readonly aliasName: string; readonly account: string; readonly region: string };

export const MAX_KEY_REFERENCE_LENGTH = 2048;

export function parseKeyReference(value: string | undefined, field = 'KeyId'): KeyReference {
  if (value === undefined || value.length === 0) {
    throw new KmsError('ValidationException', `${field} is required.`);
  }
  if (value.length > MAX_KEY_REFERENCE_LENGTH) {
    throw new KmsError('ValidationException', `${field} must be at most ${MAX_KEY_REFERENCE_LENGTH} characters.`);
  }
  if (value.startsWith('alias/')) return { kind: 'aliasName', aliasName: value };
  if (isKeyId(value)) return { kind: 'keyId', keyId: value };
  const arn = parseArn(value);
  if (arn && arn.service === 'kms') {
    if (arn.resource.startsWith('key/') && isKeyId(arn.resource.slice(4))) {
      return { kind: 'keyArn', keyId: arn.resource.slice(4), account: arn.account, region: arn.region };
    }
    if (arn.resource.startsWith('alias/')) {
      return { kind: 'aliasArn', aliasName: arn.resource, account: arn.account, region: arn.region };
    }
  }
  // AWS KMS answers NotFoundException for a well-formed string that names no key.
  throw new KmsError('NotFoundException', `Invalid keyId '${value}'.`);
}
