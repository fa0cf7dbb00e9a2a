import { describe, expect, it } from 'vitest';
import { MessageCodec, pascalCase, upperSnakeCase } from '../../src/transport/grpc/codec.js';
import { loadReflection } from '../../src/transport/grpc/proto-files.js';

const reflection = loadReflection();
const codec = new MessageCodec();
const type = (name: string) => reflection.lookupType(`p11kms.v1.${name}`);

describe('MessageCodec (proto reflection driven)', () => {
  it('maps a request from the wire: snake_case → camelCase, prefixed enums → AWS values, absent stays absent', () => {
    const request = codec.toOperation(type('GenerateDataKeyRequest'), {
      key_id: 'alias/x',
      encryption_context: { a: 'b' },
      key_spec: 'DATA_KEY_SPEC_AES_256',
    });
    expect(request).toEqual({ keyId: 'alias/x', encryptionContext: { a: 'b' }, keySpec: 'AES_256' });
    expect(codec.toOperation(type('CreateKeyRequest'), { key_spec: 'KEY_SPEC_UNSPECIFIED', tags: [] })).toEqual({ tags: [] });
  });

  it('maps a response to the wire, with PascalCase AWS enums and Dates as Timestamps', () => {
    const wire = codec.toWire(type('DescribeKeyResponse'), {
      keyMetadata: {
        keyId: 'k',
        keyState: 'PendingDeletion',
        keySpec: 'SYMMETRIC_DEFAULT',
        creationDate: new Date(1_700_000_000_123),
        encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
        deletionDate: undefined,
      },
    });
    expect(wire).toEqual({
      key_metadata: {
        key_id: 'k',
        key_state: 'KEY_STATE_PENDING_DELETION',
        key_spec: 'KEY_SPEC_SYMMETRIC_DEFAULT',
        creation_date: { seconds: '1700000000', nanos: 123_000_000 },
        encryption_algorithms: ['ENCRYPTION_ALGORITHM_SPEC_SYMMETRIC_DEFAULT'],
      },
    });
    expect(codec.toOperation(type('DescribeKeyResponse'), wire)).toEqual({
      keyMetadata: {
        keyId: 'k',
        keyState: 'PendingDeletion',
        keySpec: 'SYMMETRIC_DEFAULT',
        creationDate: new Date(1_700_000_000_123),
        encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      },
    });
  });

  it('answers the same the second time (enum names are remembered), and drops names of another enum', () => {
    const wire = { key_id: 'k', encryption_context: JSON.parse('{"__proto__":"x","b":"y"}'), key_spec: 'DATA_KEY_SPEC_AES_128' };
    const first = codec.toOperation(type('GenerateDataKeyRequest'), wire);
    const second = codec.toOperation(type('GenerateDataKeyRequest'), wire);
    expect(second).toEqual(first);
    expect(first.keySpec).toBe('AES_128');
    // A map entry named __proto__ stays data, not the object's prototype.
    expect(Object.keys(first.encryptionContext as object)).toEqual(['__proto__', 'b']);
    expect(Object.getPrototypeOf(first.encryptionContext)).toBe(Object.prototype);
    for (let i = 0; i < 2; i++) {
      expect(codec.toOperation(type('GenerateDataKeyRequest'), { key_spec: 'KEY_SPEC_RSA_2048' })).toEqual({});
      expect(codec.toOperation(type('GenerateDataKeyRequest'), { key_spec: 'DATA_KEY_SPEC_UNSPECIFIED' })).toEqual({});
    }
    for (let i = 0; i < 2; i++) {
      expect(codec.toWire(type('DescribeKeyResponse'), { keyMetadata: { keyState: 'PendingImport' } })).toEqual({
        key_metadata: { key_state: 'KEY_STATE_PENDING_IMPORT' },
      });
    }
  });

  it('converts between PascalCase and UPPER_SNAKE both ways', () => {
    for (const value of ['Enabled', 'PendingDeletion', 'ReEncryptFrom', 'GenerateDataKeyPairWithoutPlaintext']) {
      expect(pascalCase(upperSnakeCase(value))).toBe(value);
    }
    expect(upperSnakeCase('EncryptionAlgorithmSpec')).toBe('ENCRYPTION_ALGORITHM_SPEC');
  });
});
