import type { KmsErrorName } from './errors.js';
import type { KeyState } from './key.js';

/**
 * Which key states allow an operation, and the error every other state gives, after the AWS KMS
 * Developer Guide's "Key states of AWS KMS keys" table. The pipeline applies it to every operation
 * that names a key; operations never check state themselves.
 */
export type StateRule = 'allow' | KmsErrorName;
export type StateRules = Readonly<Record<KeyState, StateRule>>;

const INVALID = 'KMSInvalidStateException';

/** Encrypt, Decrypt, GenerateDataKey*, ReEncrypt …: Enabled only; Disabled says so. */
const CRYPTOGRAPHIC: StateRules = {
  Enabled: 'allow',
  Disabled: 'DisabledException',
  PendingDeletion: INVALID,
  PendingImport: INVALID,
  Creating: INVALID,
  Unavailable: 'KeyUnavailableException',
  Updating: INVALID,
};

/** DescribeKey and the other read-only metadata operations work in every state. */
const ANY_STATE: StateRules = {
  Enabled: 'allow',
  Disabled: 'allow',
  PendingDeletion: 'allow',
  PendingImport: 'allow',
  Creating: 'allow',
  Unavailable: 'allow',
  Updating: 'allow',
};

/** EnableKey and DisableKey: not while deletion is pending or material is missing. */
const ENABLE_DISABLE: StateRules = {
  Enabled: 'allow',
  Disabled: 'allow',
  PendingDeletion: INVALID,
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
} as const satisfies Record<string, StateRules>;

export type KeyOperationName = keyof typeof KEY_STATE_RULES;
