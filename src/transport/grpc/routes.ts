import * as operations from '../../operations/index.js';
import type { AnyOperation } from '../../operations/operation.js';
import type { KeyManagementServiceHandlers } from './generated/p11kms/v1/KeyManagementService.js';

/**
 * RPC name → operation. `satisfies` makes the compiler refuse a proto RPC without an operation,
 * or an entry the proto does not declare.
 */
export const KMS_ROUTES = {
  CreateKey: operations.createKey,
  DescribeKey: operations.describeKey,
  ListKeys: operations.listKeys,
  EnableKey: operations.enableKey,
  DisableKey: operations.disableKey,
  Encrypt: operations.encrypt,
  Decrypt: operations.decrypt,
  ReEncrypt: operations.reEncrypt,
  GenerateDataKey: operations.generateDataKey,
  GenerateDataKeyWithoutPlaintext: operations.generateDataKeyWithoutPlaintext,
  GenerateRandom: operations.generateRandom,
  CreateAlias: operations.createAlias,
  UpdateAlias: operations.updateAlias,
  DeleteAlias: operations.deleteAlias,
  ListAliases: operations.listAliases,
  EnableKeyRotation: operations.enableKeyRotation,
  DisableKeyRotation: operations.disableKeyRotation,
  GetKeyRotationStatus: operations.getKeyRotationStatus,
  RotateKeyOnDemand: operations.rotateKeyOnDemand,
  ListKeyRotations: operations.listKeyRotations,
  ScheduleKeyDeletion: operations.scheduleKeyDeletion,
  CancelKeyDeletion: operations.cancelKeyDeletion,
  UpdateKeyDescription: operations.updateKeyDescription,
  TagResource: operations.tagResource,
  UntagResource: operations.untagResource,
  ListResourceTags: operations.listResourceTags,
  PutKeyPolicy: operations.putKeyPolicy,
  GetKeyPolicy: operations.getKeyPolicy,
  ListKeyPolicies: operations.listKeyPolicies,
  CreateGrant: operations.createGrant,
  ListGrants: operations.listGrants,
  ListRetirableGrants: operations.listRetirableGrants,
  RetireGrant: operations.retireGrant,
  RevokeGrant: operations.revokeGrant,
} satisfies Record<keyof KeyManagementServiceHandlers, AnyOperation>;
