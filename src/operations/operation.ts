import type { ServiceLocation } from '../domain/ids.js';
import type { KeyRecord, KeyUsage } from '../domain/key.js';
import type { KeyOperationName } from '../domain/key-state-rules.js';
import type { Principal } from '../domain/principal.js';
import type { EncryptionContext } from '../domain/encryption-context.js';
import type { ConditionKeys, GrantToRetire } from '../ports/authorizer.js';
import type { Clock } from '../ports/clock.js';
import type { Hsm } from '../ports/hsm.js';
import type { KeyPolicies } from '../ports/key-policies.js';
import type { MetadataStore } from '../ports/metadata-store.js';

/** What an operation may use once the pipeline has authenticated, resolved and authorized. */
export interface OperationServices {
  readonly hsm: Hsm;
  readonly policies: KeyPolicies;
  readonly store: MetadataStore;
  readonly clock: Clock;
  readonly location: ServiceLocation;
}

export interface Caller {
  readonly requestId: string;
  readonly principal: Principal;
  /** The principal's account, or the service's default account for service principals. */
  readonly account: string;
  /** The IAM condition keys of the request (the caller's, the transport's and the operation's). */
  readonly conditions: ConditionKeys;
}

/** A key an operation acts on: how to find it in the request, and what it must be. */
export interface KeyRequirement<Req> {
  /**
   * The key reference (id, ARN, alias) from the request; may throw a KmsError for a bad request.
   * It may read the store (RetireGrant finds its key from a grant token).
   */
  readonly ref: (request: Req, store: MetadataStore) => string | undefined | Promise<string | undefined>;
  /** The request field named in errors. */
  readonly field: string;
  /** The IAM action authorized on this key (ReEncrypt needs kms:ReEncryptFrom and kms:ReEncryptTo). */
  readonly action: string;
  /** The key-state table's row (src/domain/key-state-rules.ts). */
  readonly stateRules: KeyOperationName;
  /**
   * A second reference the caller may give for the same key (Decrypt's KeyId beside the key the
   * ciphertext names); when given, it must resolve to the same key, else IncorrectKeyException.
   */
  readonly mustMatch?: { readonly ref: (request: Req) => string | undefined; readonly field: string };
  /** Required KeyUsage; a key of another usage gives InvalidKeyUsageException. */
  readonly usage?: KeyUsage;
}

export interface OperationContext<K extends string> extends OperationServices {
  readonly caller: Caller;
  readonly keys: Readonly<Record<K, KeyRecord>>;
  /**
   * The caller asked for a dry run (AWS KMS DryRun). `hsm` then refuses every call with
   * DryRunOperationException, so an operation whose work is in the token needs nothing more; one
   * whose work is a store write (the grant operations) throws `dryRunDone()` before it.
   */
  readonly dryRun: boolean;
}

/**
 * One AWS KMS operation (STYLE.md, "An operation declares what it needs and lets the pipeline
 * enforce it"): the pipeline validates, resolves `keys`, authorizes, checks state and usage, then
 * calls `run`, and records the outcome.
 */
export interface Operation<Req, Res, K extends string = never> {
  readonly name: string;
  /** The action authorized when the operation names no key (CreateKey, ListKeys, GenerateRandom). */
  readonly action?: string;
  readonly keys: { readonly [P in K]: KeyRequirement<Req> };
  /** Limits and required fields, checked before any lookup (DESIGN.md, "validate request"). */
  readonly validate?: (request: Req) => void;
  /**
   * What this request adds to authorization: its IAM condition keys (kms:EncryptionAlgorithm,
   * aws:RequestTag/… ) and its encryption context (kms:EncryptionContext:… and grant constraints).
   */
  readonly conditions?: (
    request: Req,
    keys: Readonly<Record<K, KeyRecord>>,
    store: MetadataStore,
  ) => RequestConditions | Promise<RequestConditions>;
  /**
   * Whether the request may ask for a dry run (its `dryRun` field, as in AWS KMS: CreateGrant,
   * Decrypt, DeriveSharedSecret, Encrypt, the GenerateDataKey family, GenerateMac, ReEncrypt,
   * RetireGrant, RevokeGrant, Sign, Verify, VerifyMac). See OperationContext.dryRun.
   */
  readonly dryRun?: true;
  /** Keys the operation made (CreateKey), recorded with the keys the request named. */
  readonly resultKeyArns?: (response: Res) => string[];
  /** The non-secret request parameters to record in the audit trail. */
  readonly audit?: (request: Req) => Record<string, unknown>;
  readonly run: (request: Req, context: OperationContext<K>) => Promise<Res>;
}

export interface RequestConditions {
  readonly encryptionContext?: EncryptionContext;
  readonly keys?: ConditionKeys;
  /** RetireGrant: the grant, whose retiring principal (and grantee, if allowed) may retire it. */
  readonly grantToRetire?: GrantToRetire;
}

export function defineOperation<Req, Res, K extends string = never>(
  operation: Operation<Req, Res, K>,
): Operation<Req, Res, K> {
  return operation;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyOperation = Operation<any, any, string>;
