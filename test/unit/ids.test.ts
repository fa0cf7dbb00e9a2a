import { describe, expect, it } from 'vitest';
import { KmsError } from '../../src/domain/errors.js';
import {
  isAccountId,
  isKeyId,
  keyArn,
  MAX_KEY_REFERENCE_LENGTH,
  newKeyId,
  newRequestId,
  parseArn,
  parseKeyReference,
} from '../../src/domain/ids.js';

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const ACCOUNT = '111122223333';

function errorName(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KmsError);
    return (error as KmsError).name;
  }
  return undefined;
}

describe('keyArn', () => {
  it('formats arn:<partition>:kms:<region>:<account>:key/<id>', () => {
    expect(keyArn({ partition: 'aws', region: 'us-east-2' }, ACCOUNT, KEY_ID)).toBe(
      `arn:aws:kms:us-east-2:${ACCOUNT}:key/${KEY_ID}`,
    );
    expect(keyArn({ partition: 'aws-cn', region: 'cn-north-1' }, ACCOUNT, KEY_ID)).toBe(
      `arn:aws-cn:kms:cn-north-1:${ACCOUNT}:key/${KEY_ID}`,
    );
  });

  it('parses back to the key it names', () => {
    const arn = keyArn({ partition: 'aws', region: 'eu-west-1' }, ACCOUNT, KEY_ID);
    expect(parseKeyReference(arn)).toEqual({ kind: 'keyArn', keyId: KEY_ID, account: ACCOUNT, region: 'eu-west-1' });
  });
});

describe('parseKeyReference', () => {
  it('recognises a key id', () => {
    expect(parseKeyReference(KEY_ID)).toEqual({ kind: 'keyId', keyId: KEY_ID });
  });

  it('recognises a key ARN', () => {
    expect(parseKeyReference(`arn:aws:kms:us-west-2:${ACCOUNT}:key/${KEY_ID}`)).toEqual({
      kind: 'keyArn',
      keyId: KEY_ID,
      account: ACCOUNT,
      region: 'us-west-2',
    });
  });

  it('recognises an alias name', () => {
    expect(parseKeyReference('alias/ExampleAlias')).toEqual({ kind: 'aliasName', aliasName: 'alias/ExampleAlias' });
    expect(parseKeyReference('alias/aws/s3')).toEqual({ kind: 'aliasName', aliasName: 'alias/aws/s3' });
  });

  it('recognises an alias ARN, keeping the alias/ prefix in the name', () => {
    expect(parseKeyReference(`arn:aws:kms:us-west-2:${ACCOUNT}:alias/ExampleAlias`)).toEqual({
      kind: 'aliasArn',
      aliasName: 'alias/ExampleAlias',
      account: ACCOUNT,
      region: 'us-west-2',
    });
  });

  it('gives ValidationException for a missing, empty or over-long reference, naming the field', () => {
    expect(errorName(() => parseKeyReference(undefined))).toBe('ValidationException');
    expect(errorName(() => parseKeyReference(''))).toBe('ValidationException');
    expect(errorName(() => parseKeyReference('a'.repeat(MAX_KEY_REFERENCE_LENGTH + 1)))).toBe('ValidationException');
    expect(() => parseKeyReference('', 'DestinationKeyId')).toThrow(/DestinationKeyId/);
  });

  it('gives NotFoundException for a well-formed string that names no key', () => {
    const junk = [
      'not-a-key',
      'key/' + KEY_ID,
      KEY_ID.toUpperCase(),
      KEY_ID.slice(0, -1),
      `${KEY_ID}0`,
      `arn:aws:kms:us-west-2:${ACCOUNT}:key/not-a-uuid`,
      `arn:aws:kms:us-west-2:${ACCOUNT}:key/${KEY_ID}:extra`,
      `arn:aws:kms:us-west-2:${ACCOUNT}:grant/${KEY_ID}`,
      `arn:aws:s3:::bucket/${KEY_ID}`,
      `arn:aws:iam::${ACCOUNT}:alias/x`,
      `arn:aws:kms:us-west-2:${ACCOUNT}`,
      `arn::kms:us-west-2:${ACCOUNT}:key/${KEY_ID}`,
      'a'.repeat(MAX_KEY_REFERENCE_LENGTH),
    ];
    for (const reference of junk) {
      expect(errorName(() => parseKeyReference(reference)), reference).toBe('NotFoundException');
    }
  });
});

describe('parseArn', () => {
  it('splits an ARN into its parts, keeping colons in the resource', () => {
    expect(parseArn('arn:aws:iam::111122223333:role/a:b')).toEqual({
      partition: 'aws',
      service: 'iam',
      region: '',
      account: ACCOUNT,
      resource: 'role/a:b',
    });
  });

  it('refuses strings that are not ARNs', () => {
    for (const value of ['', 'arn:aws:kms', 'urn:aws:kms:r:a:key/x', 'arn::kms:r:a:key/x', 'arn:aws::r:a:key/x']) {
      expect(parseArn(value), value).toBeUndefined();
    }
  });
});

describe('ids', () => {
  it('mints lowercase UUID key ids', () => {
    const ids = new Set(Array.from({ length: 100 }, newKeyId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(isKeyId(id), id).toBe(true);
  });

  it('accepts only 12-digit account ids', () => {
    expect(isAccountId(ACCOUNT)).toBe(true);
    for (const bad of ['', '11112222333', '1111222233334', '11112222333a', ` ${ACCOUNT}`]) {
      expect(isAccountId(bad), bad).toBe(false);
    }
  });
});

describe('newRequestId', () => {
  const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('gives version 4 UUIDs in the form randomUUID gives, each one new, across refills of its random bytes', () => {
    // 256 ids per fill: 1,000 ids cross three refills.
    const ids = Array.from({ length: 1000 }, () => newRequestId());
    for (const id of ids) expect(id).toMatch(V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draws every hex digit it may: the random nibbles are not stuck', () => {
    const ids = Array.from({ length: 300 }, () => newRequestId());
    // The first character is a whole random nibble; the variant character one of four.
    expect(new Set(ids.map((id) => id[0])).size).toBe(16);
    expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(['8', '9', 'a', 'b']));
  });

  it('returns a string of its own, unchanged by the ids made after it', () => {
    const first = newRequestId();
    const copy = `${first}`;
    for (let i = 0; i < 600; i++) newRequestId();
    expect(first).toBe(copy);
  });
});
