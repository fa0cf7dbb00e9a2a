import type { EncryptionAlgorithm, KeyRecord } from '../domain/key.js';
import {
  algorithmListsFor,
  type KeyAgreementAlgorithm,
  type MacAlgorithm,
  type SigningAlgorithm,
} from '../domain/key-spec-facts.js';
import type { HsmCapabilities } from '../ports/hsm.js';

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
  /** AWS KMS still answers the deprecated name beside KeySpec, with the same value. */
  readonly customerMasterKeySpec: KeyRecord['keySpec'];
  readonly encryptionAlgorithms: EncryptionAlgorithm[];
  readonly signingAlgorithms: SigningAlgorithm[];
  readonly macAlgorithms: MacAlgorithm[];
  readonly keyAgreementAlgorithms: KeyAgreementAlgorithm[];
  readonly multiRegion: boolean;
}

/** The algorithm lists of a key, only those this token can run (issue 4, item 9). */
export function keyAlgorithms(key: KeyRecord, capabilities: HsmCapabilities) {
  const lists = algorithmListsFor(key.keySpec, key.keyUsage);
  const works = <A extends Parameters<HsmCapabilities['supportsAlgorithm']>[0]>(algorithms: readonly A[]) =>
    algorithms.filter((algorithm) => capabilities.supportsAlgorithm(algorithm));
  return {
    encryptionAlgorithms: works(lists.encryptionAlgorithms),
    signingAlgorithms: works(lists.signingAlgorithms),
    macAlgorithms: works(lists.macAlgorithms),
    keyAgreementAlgorithms: works(lists.keyAgreementAlgorithms),
  };
}

export function keyMetadata(key: KeyRecord, capabilities: HsmCapabilities): KeyMetadata {
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
    customerMasterKeySpec: key.keySpec,
    ...keyAlgorithms(key, capabilities),
    multiRegion: false,
  };
}
