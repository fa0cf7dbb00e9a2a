import { encryptionAlgorithmsFor, type EncryptionAlgorithm, type KeyRecord } from '../domain/key.js';

/** The KeyMetadata structure of the AWS KMS API, as CreateKey and DescribeKey return it. */
export interface KeyMetadata {
  readonly awsAccountId: string;
  readonly keyId: string;
  readonly arn: string;
  readonly creationDate: Date;
  readonly enabled: boolean;
  readonly description: string;
  readonly keyUsage: KeyRecord['keyUsage'];
  readonly keyState: KeyRecord['state'];
  readonly deletionDate: Date | undefined;
  readonly origin: KeyRecord['origin'];
  readonly keyManager: 'CUSTOMER';
  readonly keySpec: KeyRecord['keySpec'];
  readonly encryptionAlgorithms: EncryptionAlgorithm[];
  readonly multiRegion: boolean;
}

export function keyMetadata(key: KeyRecord): KeyMetadata {
  return {
    awsAccountId: key.account,
    keyId: key.id,
    arn: key.arn,
    creationDate: key.createdAt,
    enabled: key.state === 'Enabled',
    description: key.description,
    keyUsage: key.keyUsage,
    keyState: key.state,
    deletionDate: key.deletionDate,
    origin: key.origin,
    keyManager: 'CUSTOMER',
    keySpec: key.keySpec,
    encryptionAlgorithms: encryptionAlgorithmsFor(key.keySpec),
    multiRegion: false,
  };
}
