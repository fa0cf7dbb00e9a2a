import { KmsError, type KmsErrorName } from './errors.js';
import type { KeyRecord, KeyState } from './key.js';

/**
 * Which key states allow an operation, and the error every other state gives, after the AWS KMS
 * Developer Guide's "Key states of AWS KMS keys" table. The pipeline applies it to every key an
 * operation names; operations never check state themselves.
 */
export type StateRule = 'allow' | KmsErrorName;
export type StateRules = Readonly<Record<KeyState, StateRule>>;

const INVALID = 'KMSInvalidStateException';

/** Cryptographic use: Enabled only; a disabled key says so (table note: "<key ARN> is disabled"). */
const CRYPTOGRAPHIC: StateRules = {
  Enabled: 'allow',
  Disabled: 'DisabledException',
  PendingDeletion: INVALID,
  PendingImport: INVALID,
  Creating: INVALID,
  Unavailable: 'KeyUnavailableException',
  Updating: INVALID,
};

/** Reading metadata, policies, aliases, grants and tags works in every state. */
const ANY_STATE: StateRules = {
  Enabled: 'allow',
  Disabled: 'allow',
  PendingDeletion: 'allow',
  PendingImport: 'allow',
  Creating: 'allow',
  Unavailable: 'allow',
  Updating: 'allow',
};

/** Managing a key (aliases, tags, description, scheduling deletion): not once deletion is pending. */
const MANAGE: StateRules = {
  Enabled: 'allow',
  Disabled: 'allow',
  PendingDeletion: INVALID,
  PendingImport: 'allow',
  Creating: INVALID,
  Unavailable: 'allow',
  Updating: INVALID,
};

/** EnableKey and DisableKey: not while deletion is pending or material is missing. */
const ENABLE_DISABLE: StateRules = { ...MANAGE, PendingImport: INVALID, Unavailable: INVALID };

/** Rotation settings and on-demand rotation need an enabled key with material in the token. */
const ROTATION: StateRules = { ...CRYPTOGRAPHIC, Unavailable: INVALID };

/** CancelKeyDeletion: only a key pending deletion ("<key ARN> is not pending deletion"). */
const CANCEL_DELETION: StateRules = {
  Enabled: INVALID,
  Disabled: INVALID,
  PendingDeletion: 'allow',
  PendingImport: INVALID,
  Creating: INVALID,
  Unavailable: INVALID,
  Updating: INVALID,
};

export const KEY_STATE_RULES = {
  DescribeKey: ANY_STATE,
  EnableKey: ENABLE_DISABLE,
  DisableKey: ENABLE_DISABLE,
  Encrypt: CRYPTOGRAPHIC,
  Decrypt: CRYPTOGRAPHIC,
  ReEncrypt: CRYPTOGRAPHIC,
  GenerateDataKey: CRYPTOGRAPHIC,
  GenerateDataKeyWithoutPlaintext: CRYPTOGRAPHIC,
  GenerateDataKeyPair: CRYPTOGRAPHIC,
  GenerateDataKeyPairWithoutPlaintext: CRYPTOGRAPHIC,
  Sign: CRYPTOGRAPHIC,
  Verify: CRYPTOGRAPHIC,
  GetPublicKey: CRYPTOGRAPHIC,
  GenerateMac: CRYPTOGRAPHIC,
  VerifyMac: CRYPTOGRAPHIC,
  DeriveSharedSecret: CRYPTOGRAPHIC,
  CreateAlias: MANAGE,
  UpdateAlias: MANAGE,
  /** UpdateAlias checks the state of the key it points the alias to, not of the one it leaves. */
  UpdateAliasCurrentKey: ANY_STATE,
  DeleteAlias: ANY_STATE,
  EnableKeyRotation: ROTATION,
  DisableKeyRotation: ROTATION,
  GetKeyRotationStatus: ANY_STATE,
  RotateKeyOnDemand: ROTATION,
  ListKeyRotations: ANY_STATE,
  ScheduleKeyDeletion: MANAGE,
  CancelKeyDeletion: CANCEL_DELETION,
  UpdateKeyDescription: MANAGE,
  TagResource: MANAGE,
  UntagResource: MANAGE,
  ListResourceTags: ANY_STATE,
  PutKeyPolicy: ANY_STATE,
  GetKeyPolicy: ANY_STATE,
  ListKeyPolicies: ANY_STATE,
  CreateGrant: CRYPTOGRAPHIC,
  ListGrants: ANY_STATE,
  RetireGrant: ANY_STATE,
  RevokeGrant: ANY_STATE,
} as const satisfies Record<string, StateRules>;

export type KeyOperationName = keyof typeof KEY_STATE_RULES;

const STATE_PHRASES: Record<KeyState, string> = {
  Enabled: 'is enabled',
  Disabled: 'is disabled',
  PendingDeletion: 'is pending deletion',
  PendingImport: 'is pending import',
  Creating: 'is being created',
  Unavailable: 'is unavailable',
  Updating: 'is being updated',
};

/** Throws the table's error when `key`'s state does not allow `operation`. */
export function checkKeyState(operation: KeyOperationName, key: KeyRecord): void {
  const rule = KEY_STATE_RULES[operation][key.state];
  if (rule === 'allow') return;
  const phrase = operation === 'CancelKeyDeletion' ? 'is not pending deletion' : STATE_PHRASES[key.state];
  throw new KmsError(rule, `${key.arn} ${phrase}.`);
}
