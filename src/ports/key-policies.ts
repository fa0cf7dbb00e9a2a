import type { Principal } from '../domain/principal.js';
import type { ConditionKeys } from './authorizer.js';

/** What the key-policy operations (CreateKey, PutKeyPolicy) need from the policy engine. */
export interface KeyPolicies {
  /** Parses a key policy document; MalformedPolicyDocumentException names what is wrong. */
  validate(text: string): void;
  /** The AWS default key policy for a key of `account`: the account root gets kms:*. */
  defaultPolicy(account: string): string;
  /**
   * The policy lockout safety check (AWS KMS PutKeyPolicy): refuses, with
   * MalformedPolicyDocumentException, a policy under which the caller could not call
   * PutKeyPolicy again, unless the caller set BypassPolicyLockoutSafetyCheck.
   */
  checkLockout(input: {
    readonly principal: Principal;
    readonly callerAccount: string;
    readonly conditions: ConditionKeys;
    readonly keyArn: string;
    readonly keyAccount: string;
    readonly policy: string;
    readonly bypass: boolean;
  }): void;
}
