import type { KeyRecord, KeyState, KeyVersion, Tag } from '../domain/key.js';

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
  getAlias(account: string, aliasName: string): Promise<AliasRecord | undefined>;
  /** Aliases of one account ordered by creation, then name. */
  listAliases(query: ListAliasesQuery): Promise<Page<AliasRecord>>;
  /** Every alias of a key, ordered by creation, then name (DescribeKey, deletion). */
  listAliasesForKey(keyId: string): Promise<AliasRecord[]>;
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
   * version id is taken (by any key).
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
 *      tags and aliases in one transaction.
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

/**
 * Key metadata (DESIGN.md, "Core contracts"). Every method is atomic; SQLite and PostgreSQL
 * implementations pass the same contract suites (test/contract/metadata-store*.contract.ts).
 * Writes that name a key the store does not hold throw NotFoundException (setKeyState, older,
 * returns undefined instead).
 */
export interface MetadataStore extends AliasStore, KeyRotationStore, KeyDeletionStore, KeyTagStore {
  /** Inserts a key, its first version and its tags in one transaction. */
  createKey(newKey: NewKey): Promise<void>;
  /** The key, with its deletion date while deletion is pending. */
  getKey(keyId: string): Promise<KeyRecord | undefined>;
  getKeyVersion(keyId: string, versionId: string): Promise<KeyVersion | undefined>;
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
  listTags(keyId: string): Promise<Tag[]>;
  close(): Promise<void>;
}
