import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect } from 'vitest';
import { KmsError } from '../../src/domain/errors.js';
import { keyArn } from '../../src/domain/ids.js';
import type { KeyRecord, KeyVersion, Tag } from '../../src/domain/key.js';
import type { MetadataStore, NewKey, Page, PageQuery } from '../../src/ports/metadata-store.js';

/** Shared by the MetadataStore contract suites (metadata-store*.contract.ts). */

export const LOCATION = { partition: 'aws', region: 'eu-west-1' };
export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';

/** Opens a fresh, empty store; `cleanup` runs after it is closed (e.g. to delete a temp file). */
export interface StoreFactory {
  readonly open: () => Promise<MetadataStore>;
  readonly cleanup?: (() => Promise<void> | void) | undefined;
}

/**
 * A key policy as a caller might write it: indentation, CRLF line ends, a tab, escapes and Latin-1
 * characters, so that a store which parsed, re-serialised or trimmed it would be caught.
 */
export function samplePolicy(account: string, sid = 'Enable IAM User Permissions'): string {
  return [
    '{',
    '  "Version" : "2012-10-17",\r',
    '\t"Id": "key-consolidated-policy-3",',
    '  "Statement": [ {',
    `    "Sid": "${sid}", "Effect": "Allow",`,
    `    "Principal": {"AWS": "arn:aws:iam::${account}:root"},`,
    '    "Action": "kms:*", "Resource": "*",',
    '    "Condition": {"StringEquals": {"kms:EncryptionContext:caf\u00e9": "d\\u00e9j\u00e0 \\"vu\\""}}',
    '  } ]',
    '}  ',
  ].join('\n');
}

/**
 * A key as CreateKey would build it; `createdAt` carries milliseconds so round trips are exact.
 * The policy defaults to samplePolicy of the key's account.
 */
export function sampleKey(overrides: Partial<KeyRecord> = {}, tags: Tag[] = [], policy?: string): NewKey {
  const id = overrides.id ?? randomUUID();
  const account = overrides.account ?? ACCOUNT;
  const createdAt = overrides.createdAt ?? new Date(1_700_000_000_123);
  const versionId = randomUUID();
  const key: KeyRecord = {
    id,
    arn: keyArn(LOCATION, account, id),
    account,
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    origin: 'AWS_KMS',
    description: 'contract test key',
    state: 'Enabled',
    createdAt,
    deletionDate: undefined,
    currentVersionId: versionId,
    ...overrides,
  };
  return { key, version: { id: versionId, keyId: id, createdAt }, tags, policy: policy ?? samplePolicy(account) };
}

/** A new version of a key, as a rotation would mint it. */
export function sampleVersion(keyId: string, createdAt: Date): KeyVersion {
  return { id: randomUUID(), keyId, createdAt };
}

export async function expectKmsError(promise: Promise<unknown>, name: string): Promise<KmsError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).name).toBe(name);
  return error as KmsError;
}

/** Opens a fresh store before each test and closes it after; call inside a describe block. */
export function freshStoreEachTest(factory: StoreFactory): () => MetadataStore {
  let store: MetadataStore | undefined;
  beforeEach(async () => {
    store = await factory.open();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await factory.cleanup?.();
  });
  return () => {
    if (!store) throw new Error('the store is only open inside a test');
    return store;
  };
}

/** Follows NextMarker to the end; returns each page's items. Stops at 50 pages to end a loop. */
export async function allPages<T>(list: (page: PageQuery) => Promise<Page<T>>, limit: number): Promise<T[][]> {
  const pages: T[][] = [];
  let marker: string | undefined;
  do {
    const page = await list({ limit, marker });
    pages.push(page.items);
    marker = page.nextMarker;
  } while (marker !== undefined && pages.length < 50);
  return pages;
}

/** Markers that are not a NextMarker this listing gave (garbled, truncated, re-cased, foreign). */
export function badMarkers(valid: string): string[] {
  const crafted = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
  const candidates = [
    '', 'garbage', '!!!!', 'AAAA', randomUUID(),
    `${valid}x`, `x${valid}`, valid.slice(0, -2), valid.slice(0, -4), valid.toUpperCase(),
    `${valid.slice(0, 10)}.${valid.slice(10)}`, ` ${valid}`, `${valid}==`,
    crafted('v1:1700000000000:not-a-key-id'), crafted(`v1:soon:${randomUUID()}`), crafted(`v9:0:${randomUUID()}`),
  ];
  return candidates.filter((candidate) => candidate !== valid);
}

export const DAY_MS = 24 * 60 * 60 * 1000;
