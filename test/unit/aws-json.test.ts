import { describe, expect, it } from 'vitest';
import { toAwsJson } from '../../src/cli/aws-json.js';

describe('toAwsJson, the CLI output shape', () => {
  it('capitalises the API field names at every depth, with blobs in base64 and times in ISO 8601', () => {
    expect(
      toAwsJson({
        keyId: 'k',
        ciphertextBlob: Buffer.from('hi'),
        keyMetadata: { creationDate: new Date(0), encryptionAlgorithms: ['SYMMETRIC_DEFAULT'] },
        tags: [{ tagKey: 'team', tagValue: 'a' }],
      }),
    ).toEqual({
      KeyId: 'k',
      CiphertextBlob: 'aGk=',
      KeyMetadata: { CreationDate: '1970-01-01T00:00:00.000Z', EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'] },
      Tags: [{ TagKey: 'team', TagValue: 'a' }],
    });
  });

  it('leaves out the fields AWS KMS omits when they do not apply, and keeps lists that are empty by content', () => {
    expect(
      toAwsJson({
        keyMetadata: { keyId: 'k', signingAlgorithms: [], encryptionAlgorithms: ['SYMMETRIC_DEFAULT'], macAlgorithms: [] },
        grants: [
          { grantId: 'g1', constraints: { encryptionContextSubset: { team: 'a' }, encryptionContextEquals: {} } },
          { grantId: 'g2', constraints: { encryptionContextSubset: {}, encryptionContextEquals: {} }, operations: ['Decrypt'] },
        ],
        tags: [],
      }),
    ).toEqual({
      KeyMetadata: { KeyId: 'k', EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'] },
      Grants: [
        { GrantId: 'g1', Constraints: { EncryptionContextSubset: { team: 'a' } } },
        { GrantId: 'g2', Operations: ['Decrypt'] },
      ],
      Tags: [],
    });
  });

  it("prints an encryption context's keys as the caller gave them: they are data, not field names", () => {
    const constraints = { encryptionContextSubset: { team: 'a', 'x-y': 'b' }, encryptionContextEquals: { purpose: 'demo' } };
    expect(toAwsJson({ grants: [{ grantId: 'g', constraints }] })).toEqual({
      Grants: [{ GrantId: 'g', Constraints: { EncryptionContextSubset: { team: 'a', 'x-y': 'b' }, EncryptionContextEquals: { purpose: 'demo' } } }],
    });
  });
});
