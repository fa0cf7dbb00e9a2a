import type { KeyRecord, KeyState, KeyVersion, Tag } from '../domain/key.js';

/** One page of a listing: AWS KMS's Limit/Marker/Truncated convention. */
export interface Page<T> {
  readonly items: T[];
  /** Present when more items follow; pass it back as `marker`. */
  readonly nextMarker: string | undefined;
}

export interface ListKeysQuery {
  readonly account: string;
  readonly limit: number;
  readonly marker: string | undefined;
}

export interface NewKey {
  readonly key: KeyRecord;
  readonly version: KeyVersion;
  readonly tags: readonly Tag[];
}

/**
 * Key metadata (DESIGN.md, "Core contracts"). Every method is atomic; SQLite and PostgreSQL
 * implementations pass the same contract suite (test/contract/metadata-store.contract.ts).
 */
export interface MetadataStore {
  /** Inserts a key, its first version and its tags in one transaction. */
  createKey(newKey: NewKey): Promise<void>;
  getKey(keyId: string): Promise<KeyRecord | undefined>;
  getKeyVersion(keyId: string, versionId: string): Promise<KeyVersion | undefined>;
  listKeyVersions(keyId: string): Promise<KeyVersion[]>;
  /** Keys of one account ordered by creation, then id. An unknown marker throws InvalidMarkerException. */
  listKeys(query: ListKeysQuery): Promise<Page<KeyRecord>>;
  /** Sets the state; returns the updated record, or undefined when the key does not exist. */
  setKeyState(keyId: string, state: KeyState): Promise<KeyRecord | undefined>;
  listTags(keyId: string): Promise<Tag[]>;
  close(): Promise<void>;
}
