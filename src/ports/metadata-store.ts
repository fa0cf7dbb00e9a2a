import type { EncryptionContext } from '../domain/encryption-context.js';
import type { KeyRecord, KeyState, KeyVersion, Tag } from '../domain/key.js';
import type { Awaitable } from './awaitable.js';

/** One page of a listing: AWS KMS's Limit/Marker/Truncated convention. */
export interface Page<T> {
  readonly items: T[];
  /** Present when more items follow; pass it back as `marker`. */
  readonly nextMarker: string | undefined;
}

/** Where a listing starts and how long a page is. An unknown marker throws InvalidMarkerException. */
export interface PageQuery {
  readonly limit: number;
  readonly marker: string | undefined;
}

export interface ListKeysQuery extends PageQuery {
  readonly account: string;
}

export interface NewKey {
  readonly key: KeyRecord;
  readonly version: KeyVersion;
  readonly tags: readonly Tag[];
  /**
   * The key policy document (CreateKey's Policy, or the default key policy the operation built),
   * stored with the key in the same transaction and returned by getKeyPolicy exactly as given.
   */
  readonly policy: string;
}

/** AWS KMS's tag quota per key (API Reference, TagResource); the store enforces it atomically. */
export const MAX_TAGS_PER_KEY = 50;

/**
 * An alias as stored (AWS KMS API Reference, AliasListEntry). Names are unique per account and
 * compared exactly; the store does not validate them. The alias ARN is
 * `arn:<partition>:kms:<region>:<account>:<aliasName>`, built by callers from the service location.
 */
export interface AliasRecord {
  /** `alias/…`, as given to CreateAlias. */
  readonly aliasName: string;
  readonly account: string;
  readonly keyId: string;
  readonly createdAt: Date;
  readonly lastUpdatedAt: Date;
}

export interface NewAlias {
  readonly aliasName: string;
  readonly account: string;
  readonly keyId: string;
  readonly createdAt: Date;
}

export interface ListAliasesQuery extends PageQuery {
  readonly account: string;
  /** Only the aliases of this key (ListAliases' KeyId). */
  readonly keyId?: string | undefined;
}

/**
 * Aliases (AWS KMS CreateAlias, UpdateAlias, DeleteAlias, ListAliases). An alias and its key are
 * in the same account: naming a key that does not exist in the alias's account is NotFoundException.
 * Key state is the pipeline's concern (key-state table), not the store's.
 */
export interface AliasStore {
  /** AlreadyExistsException when the account already has this alias name; NotFoundException for the key. */
  createAlias(alias: NewAlias): Promise<AliasRecord>;
  /**
   * Points the alias at another key and sets lastUpdatedAt. NotFoundException when the alias or
   * the key does not exist in the account; the alias is then unchanged. Whether the two keys have
   * the same type and usage (as AWS KMS requires) is the operation's check.
   */
  updateAlias(account: string, aliasName: string, keyId: string, now: Date): Promise<AliasRecord>;
  /** Returns false when the account has no such alias. */
  deleteAlias(account: string, aliasName: string): Promise<boolean>;
  getAlias(account: string, aliasName: string): Awaitable<AliasRecord | undefined>;
  /** Aliases of one account ordered by creation, then name. */
  listAliases(query: ListAliasesQuery): Promise<Page<AliasRecord>>;
  /** Every alias of a key, ordered by creation, then name (DescribeKey, deletion). */
  listAliasesForKey(keyId: string): Awaitable<AliasRecord[]>;
}

export type RotationType = 'AUTOMATIC' | 'ON_DEMAND';

/** One entry of ListKeyRotations: the version a rotation made and when. */
export interface KeyRotationRecord {
  readonly keyId: string;
  readonly versionId: string;
  readonly rotationDate: Date;
  readonly rotationType: RotationType;
}

/**
 * How a new version joins its key. The rotation date is `version.createdAt`. The key must be
 * Enabled (AWS KMS neither rotates a disabled key nor one pending deletion): otherwise
 * DisabledException or KMSInvalidStateException and nothing is written. The pipeline checks state
 * first; this check closes the race with a DisableKey or ScheduleKeyDeletion arriving meanwhile.
 */
export type KeyVersionRotation =
  | {
      /** A new version always becomes the current one today; importing material may add others later. */
      readonly makeCurrent: true;
      readonly rotationType: 'ON_DEMAND';
      /**
       * RotateKeyOnDemand's quota (25): LimitExceededException, nothing written, when the key
       * already has this many on-demand rotations. Counted inside the transaction, so concurrent
       * requests cannot pass it together.
       */
      readonly maxOnDemandRotations?: number;
    }
  | {
      readonly makeCurrent: true;
      readonly rotationType: 'AUTOMATIC';
      /**
       * The schedule's next date, written in the same transaction. The rotation is refused
       * (KMSInvalidStateException, nothing written) unless rotation is enabled and due at
       * `version.createdAt`; so a second scheduler run or replica that raced this one cannot
       * rotate the key twice, and a crash cannot leave a rotation without its new date.
       */
      readonly nextRotationAt: Date;
    };

/** EnableKeyRotation / DisableKeyRotation / GetKeyRotationStatus. */
export interface RotationSchedule {
  readonly enabled: boolean;
  /** RotationPeriodInDays; the operation validates the range (90–2560). */
  readonly periodDays: number;
  /** Required when enabled (ValidationException otherwise); kept as given when disabled. */
  readonly nextRotationAt: Date | undefined;
}

/** Key versions, rotations and the automatic-rotation schedule. */
export interface KeyRotationStore {
  /**
   * In one transaction: inserts the version, makes it current, records the rotation for
   * ListKeyRotations (and, for AUTOMATIC, advances the schedule). Returns the updated key.
   * NotFoundException for an unknown key, ValidationException when `version.keyId` is not `keyId`
   * or the version id is not a UUID (as newKeyVersionId makes), AlreadyExistsException when the
   * version id is taken (by any key). Takes the version's intent as createKey does.
   */
  addKeyVersion(keyId: string, version: KeyVersion, rotation: KeyVersionRotation): Promise<KeyRecord>;
  /** Rotations of a key oldest first (by date, then version id); empty for an unknown key. */
  listKeyRotations(keyId: string, page: PageQuery): Promise<Page<KeyRotationRecord>>;
  countOnDemandRotations(keyId: string): Promise<number>;
  /** Creates or replaces the schedule. NotFoundException for an unknown key. */
  setRotation(keyId: string, schedule: RotationSchedule): Promise<void>;
  /** Undefined when rotation was never configured for the key (or the key does not exist). */
  getRotation(keyId: string): Promise<RotationSchedule | undefined>;
  /** Ids of Enabled keys whose rotation is enabled and nextRotationAt <= now, earliest first. */
  listKeysDueForRotation(now: Date, limit: number): Promise<string[]>;
}

/**
 * Scheduled deletion (AWS KMS ScheduleKeyDeletion, CancelKeyDeletion). PendingDeletion and
 * deletionDate are set and cleared together, only through these methods.
 *
 * The deletion scheduler, for each id from listKeysDueForDeletion:
 *   1. reads the key's versions (listKeyVersions);
 *   2. destroys their token objects, treating an object already gone as destroyed;
 *   3. calls deleteKeyMetadata, which removes the key, its versions, rotations, rotation schedule,
 *      tags, aliases, key policy and grants in one transaction.
 * Token objects go first: if the metadata went first, a crash would orphan token objects that no
 * metadata names any more. While step 2 runs the key is PendingDeletion, so no operation uses it,
 * and a due key can no longer be cancelled, so it stays PendingDeletion until step 3. A crash
 * anywhere leaves the key due and PendingDeletion; the next run repeats every step, and step 2 is
 * idempotent. No metadata ever points at a missing object while the key is usable.
 */
export interface KeyDeletionStore {
  /**
   * Sets PendingDeletion and the deletion date; returns the updated key. NotFoundException for
   * an unknown key; KMSInvalidStateException (date unchanged) when deletion is already pending.
   */
  scheduleKeyDeletion(keyId: string, deletionDate: Date): Promise<KeyRecord>;
  /**
   * Sets Disabled and clears the deletion date; returns the updated key. KMSInvalidStateException
   * (nothing changed) when the key is not PendingDeletion, or when its deletion date is at or
   * before `now`: the scheduler may already be destroying its token objects.
   */
  cancelKeyDeletion(keyId: string, now: Date): Promise<KeyRecord>;
  /** Ids of PendingDeletion keys whose deletion date is <= now, earliest first. */
  listKeysDueForDeletion(now: Date, limit: number): Promise<string[]>;
  /**
   * Removes the key and everything that names it, in one transaction. Returns false when the key
   * is already gone (a repeated run). KMSInvalidStateException, nothing removed, when the key is
   * not PendingDeletion.
   */
  deleteKeyMetadata(keyId: string): Promise<boolean>;
}

/** A token object about to be made for a key version: recorded before the object exists. */
export interface KeyMaterialIntent {
  readonly versionId: string;
  readonly keyId: string;
  readonly recordedAt: Date;
}

/**
 * Crash-safe making of key material. A token object and the metadata that names it cannot be
 * written in one transaction, so CreateKey and every rotation:
 *   1. record an intent naming the version id (recordKeyMaterialIntent), durably;
 *   2. make the token object, whose CKA_ID is that version id;
 *   3. store the metadata (createKey / addKeyVersion), which takes the intent in its own
 *      transaction: a pending intent is removed with the write, an abandoned one refuses it.
 * If the store refuses in step 3, the caller destroys the object and drops the intent. A crash
 * or failure anywhere else leaves the intent pending. The scheduler leader then, once an intent
 * is older than any CreateKey can take, marks it abandoned, destroys the object (none, or already
 * gone, is not an error) and marks the intent destroyed. Abandoned and destroyed intents stay as
 * tombstones, so a CreateKey paused past the sweep cannot store metadata for destroyed material:
 * its step 3 fails with KMSInternalException and writes nothing.
 */
export interface KeyMaterialIntentStore {
  /** Step 1. AlreadyExistsException, nothing written, when the version id has an intent already. */
  recordKeyMaterialIntent(intent: KeyMaterialIntent): Promise<void>;
  /** Removes a pending intent whose object the caller destroyed; abandoned or absent ones stay as they are. */
  dropKeyMaterialIntent(versionId: string): Promise<void>;
  /**
   * Marks every pending intent recorded before `before` abandoned, then answers the abandoned
   * intents whose objects are not yet destroyed (including those an earlier sweep left), oldest
   * first, at most `limit`.
   */
  abandonKeyMaterialIntents(before: Date, limit: number): Promise<KeyMaterialIntent[]>;
  /** Records that an abandoned intent's object is destroyed; the intent stays, as a tombstone. */
  markKeyMaterialDestroyed(versionId: string): Promise<void>;
}

/** TagResource / UntagResource; the operations validate keys and values, the store the quota. */
export interface KeyTagStore {
  /**
   * Adds the tags, replacing the value of tag keys the key already has. TagException, tags
   * unchanged, when the key would then have more than MAX_TAGS_PER_KEY tags. NotFoundException for
   * an unknown key.
   */
  tagResource(keyId: string, tags: readonly Tag[]): Promise<void>;
  /** Removes the named tags; names the key does not have are ignored. NotFoundException for an unknown key. */
  untagResource(keyId: string, tagKeys: readonly string[]): Promise<void>;
}

/** The name of a key's one policy (AWS KMS ListKeyPolicies, GetKeyPolicy's PolicyName). */
export const KEY_POLICY_NAME = 'default';

/**
 * Key policies (AWS KMS GetKeyPolicy, PutKeyPolicy). A key has one policy, named KEY_POLICY_NAME;
 * createKey stores the first one. The store keeps the document verbatim: GetKeyPolicy must return
 * the text byte for byte as it was put (whitespace, key order, escapes), so it never parses,
 * normalises or trims it. Any well-formed Unicode string round-trips; the operations validate the
 * grammar, the size (32 KiB) and AWS's character set before they call the store.
 */
export interface KeyPolicyStore {
  /**
   * The document as last stored. Undefined for an unknown key, and for a key created before the
   * store kept policies (SQLite schema < 3): for such a key the caller applies the AWS default key
   * policy, and a putKeyPolicy gives it a stored one.
   */
  getKeyPolicy(keyId: string): Awaitable<string | undefined>;
  /**
   * Stores `policy` as the key's policy, replacing any other. NotFoundException, nothing written,
   * for an unknown key. Key state is the pipeline's check (key-state table), not the store's.
   */
  putKeyPolicy(keyId: string, policy: string): Promise<void>;
}

/** AWS KMS's quota of grants per key (Grants per KMS key: 50,000); see GrantLimits. */
export const MAX_GRANTS_PER_KEY = 50_000;

/** A grant id as the caller mints it: 64 lowercase hex digits (AWS KMS GrantId's form). */
export const GRANT_ID_PATTERN = /^[0-9a-f]{64}$/;

/**
 * GrantConstraints (AWS KMS API reference). Stored and returned exactly as given: an absent
 * member stays absent, and an empty `encryptionContextEquals` ({}: "only an empty context")
 * stays empty. Structurally a `GrantConstraints` of src/policy/grants.ts.
 */
export interface GrantConstraintsRecord {
  readonly encryptionContextEquals?: EncryptionContext;
  readonly encryptionContextSubset?: EncryptionContext;
}

/**
 * A grant as stored (AWS KMS CreateGrant, GrantListEntry). Every field is made by the caller and
 * returned exactly as given (optional fields that were absent come back absent). A GrantRecord is
 * structurally a `Grant` of src/policy/grants.ts, so grantsForKey feeds the evaluator directly.
 */
export interface GrantRecord {
  /** GRANT_ID_PATTERN; unique across all keys (AlreadyExistsException otherwise). */
  readonly grantId: string;
  readonly keyId: string;
  /** The key's account: a grant of a key that is not in this account is NotFoundException. */
  readonly account: string;
  /** CreateGrant's Name. Not unique: several grants of a key may share a name (see createGrant). */
  readonly name?: string | undefined;
  readonly granteePrincipal: string;
  readonly retiringPrincipal?: string | undefined;
  /** Grant operations (`Decrypt`, `Encrypt` …), in the order given. */
  readonly operations: readonly string[];
  readonly constraints?: GrantConstraintsRecord | undefined;
  /** GrantListEntry's IssuingAccount, as the operation writes it (e.g. `arn:aws:iam::<account>:root`). */
  readonly issuingAccount: string;
  readonly createdAt: Date;
  /**
   * The grant token issued when the grant was created; opaque to the store, unique across all
   * grants (AlreadyExistsException otherwise), and found again by getGrantByToken.
   */
  readonly grantToken: string;
}

export interface GrantLimits {
  /**
   * LimitExceededException, nothing written, when the key already has this many grants
   * (MAX_GRANTS_PER_KEY as AWS KMS, or less by configuration). Counted inside the transaction that
   * inserts, so concurrent CreateGrant calls cannot pass the limit together, on any replica.
   */
  readonly maxGrantsPerKey: number;
}

/** ListGrants: one key's grants, optionally only one grant id and/or one grantee (both must match). */
export interface ListGrantsQuery extends PageQuery {
  readonly grantId?: string | undefined;
  readonly granteePrincipal?: string | undefined;
}

/**
 * Grants (AWS KMS CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant). Every
 * listing orders by (createdAt, grantId) and pages with the same opaque markers as listKeys
 * (InvalidMarkerException for a marker no grant listing gave). Grants have no state of their own:
 * a grant exists until deleteGrant or deleteKeyMetadata removes it, and a new grant is visible to
 * every read as soon as createGrant returns ("grant tokens usable at once").
 */
export interface GrantStore {
  /**
   * Stores a new grant and returns it, in one transaction, checking in this order:
   * - ValidationException when grantId does not match GRANT_ID_PATTERN;
   * - NotFoundException when `keyId` is not a key of `account`;
   * - CreateGrant's idempotency (AWS KMS: "you can retry a CreateGrant request with identical
   *   parameters; if the grant already exists, the original GrantId is returned"): when `name` is
   *   given and the key already has a grant of that name with the same parameters, that grant is
   *   returned unchanged, with its own grantId, grantToken and createdAt, and nothing is written
   *   (the limit is not counted). Callers tell a retry by `returned.grantId !== grant.grantId`.
   *   Same parameters: equal granteePrincipal, retiringPrincipal (both absent counts as equal),
   *   issuingAccount, the same set of operations (order and repeats ignored), and equal
   *   constraints, compared member by member with an absent constraints object counting as one
   *   with no members; encryption-context maps are equal when they have the same pairs, compared
   *   exactly. A grant of the same name with other parameters is no match: a new grant is created.
   * - AlreadyExistsException when the grantId or the grantToken is already stored (on any key);
   * - LimitExceededException per `limits.maxGrantsPerKey`.
   * Any failure writes nothing.
   */
  createGrant(grant: GrantRecord, limits: GrantLimits): Promise<GrantRecord>;
  /** The key's grants named `name` (exact match), in (createdAt, grantId) order; empty for an unknown key. */
  findGrantsByName(keyId: string, name: string): Promise<GrantRecord[]>;
  /** The grant, when it exists and belongs to this key. */
  getGrant(keyId: string, grantId: string): Promise<GrantRecord | undefined>;
  /** The grant whose grantToken is exactly `grantToken`, whatever its key (RetireGrant by GrantToken). */
  getGrantByToken(grantToken: string): Promise<GrantRecord | undefined>;
  /** Every grant of the key in (createdAt, grantId) order, in one indexed read (the authorizer's). */
  grantsForKey(keyId: string): Awaitable<GrantRecord[]>;
  /** ListGrants: one page of the key's grants; an empty page for an unknown key. */
  listGrants(keyId: string, query: ListGrantsQuery): Promise<Page<GrantRecord>>;
  /** ListRetirableGrants: grants of any key whose retiringPrincipal is exactly `retiringPrincipal`. */
  listRetirableGrants(retiringPrincipal: string, page: PageQuery): Promise<Page<GrantRecord>>;
  /** RetireGrant / RevokeGrant: removes the grant if it belongs to the key; false when there is none. */
  deleteGrant(keyId: string, grantId: string): Promise<boolean>;
}

/**
 * Key metadata (DESIGN.md, "Core contracts"). Every method is atomic; SQLite and PostgreSQL
 * implementations pass the same contract suites (test/contract/metadata-store*.contract.ts).
 * Writes that name a key the store does not hold throw NotFoundException (setKeyState, older,
 * returns undefined instead). The reads on the request path are Awaitable: the caching store
 * answers a hit with the value itself.
 */
export interface MetadataStore
  extends
    AliasStore,
    KeyRotationStore,
    KeyDeletionStore,
    KeyMaterialIntentStore,
    KeyTagStore,
    KeyPolicyStore,
    GrantStore {
  /**
   * Inserts a key, its first version, its tags and its policy in one transaction, taking the
   * version's intent if one is recorded (KeyMaterialIntentStore): KMSInternalException, nothing
   * written, when that intent was abandoned.
   */
  createKey(newKey: NewKey): Promise<void>;
  /** The key, with its deletion date while deletion is pending. */
  getKey(keyId: string): Awaitable<KeyRecord | undefined>;
  getKeyVersion(keyId: string, versionId: string): Awaitable<KeyVersion | undefined>;
  /** Versions of a key ordered by creation, then id. */
  listKeyVersions(keyId: string): Promise<KeyVersion[]>;
  /** Keys of one account ordered by creation, then id. An unknown marker throws InvalidMarkerException. */
  listKeys(query: ListKeysQuery): Promise<Page<KeyRecord>>;
  /**
   * Sets the state; returns the updated record, or undefined when the key does not exist.
   * Use scheduleKeyDeletion / cancelKeyDeletion to enter or leave PendingDeletion.
   */
  setKeyState(keyId: string, state: KeyState): Promise<KeyRecord | undefined>;
  /** UpdateKeyDescription; returns the updated key. NotFoundException for an unknown key. */
  updateDescription(keyId: string, description: string): Promise<KeyRecord>;
  /** Tags ordered by tag key. */
  listTags(keyId: string): Awaitable<Tag[]>;
  close(): Promise<void>;
}
