import type { ChainedEntry, ChainHead } from './chain.js';
import type { Checkpoint } from './checkpoint.js';
import type { LedgerEntry } from './entry.js';

/**
 * Where the ledger lives (issue 6, item 2): append-only, beside the key metadata. SQLite
 * (src/adapters/sql/sqlite-ledger.ts) and PostgreSQL implement it; the group-commit appender
 * (ledger.ts) and the checkpointer (checkpointer.ts) are the only writers.
 */
export interface LedgerAppendStore {
  /** The last stored entry's seq and chain hash; GENESIS_HEAD for an empty ledger. */
  readHead(): Promise<ChainHead>;
  /**
   * True when appendEntries calls are applied one after another, in the order they are made (one
   * writer queue): a ledger may then send its next batch before the previous one has committed.
   */
  readonly appendsInOrder?: boolean;
  /**
   * Appends `entries` (contiguous, starting at `after.seq + 1`) in ONE transaction, durable when the
   * promise resolves (an fsync'd commit). Inside the transaction the stored head must still be
   * `after`; if another writer moved it, either nothing is written and the promise rejects (SQLite:
   * one process owns the file), or — a store shared by several replicas (PostgreSQL) — the batch is
   * re-chained after the stored head (same entries, renumbered and hashed again) and stored, and the
   * promise resolves with the head after it. Resolving with nothing means "stored as given". On any
   * rejection nothing of the batch is stored.
   */
  appendEntries(after: ChainHead, entries: readonly ChainedEntry[]): Promise<ChainHead | void>;
  /** The checkpoint with the highest seq, if any. */
  lastCheckpoint(): Promise<Checkpoint | undefined>;
  /** Stores a signed checkpoint; its seq must be above every stored one. */
  appendCheckpoint(checkpoint: Checkpoint): Promise<void>;
  close(): Promise<void>;
}

/** One stored entry as a reader sees it: the parsed entry, and the bytes and hash the chain holds. */
export interface StoredEntry {
  readonly entry: LedgerEntry;
  /** The canonical JSON exactly as stored (what the chain hash covers). */
  readonly canonical: string;
  /** Lowercase hex of the chain hash after this entry. */
  readonly hash: string;
}

/** AWS KMS's Limit/Marker convention over the ledger (seq order). */
export interface LedgerPage<T> {
  readonly items: T[];
  /** Present when more items follow; pass it back as `marker`. */
  readonly nextMarker: string | undefined;
}

/**
 * ListAuditEvents' filters (issue 6, item 5). Every given filter must match. `account` is always
 * set: a caller sees the entries of requests made by principals of its account, and the entries
 * that name a key of its account (as CloudTrail delivers a cross-account call to both accounts).
 */
export interface LedgerEntryQuery {
  readonly account: string;
  /** Entries that name this key (by key id: any ARN of the key matches). */
  readonly keyId?: string | undefined;
  readonly principalArn?: string | undefined;
  readonly operation?: string | undefined;
  readonly outcome?: string | undefined;
  /** Inclusive bounds on the entry's time. */
  readonly startTime?: Date | undefined;
  readonly endTime?: Date | undefined;
  /**
   * Newest entry first (as CloudTrail LookupEvents answers); default oldest first. In seq order; with
   * a time bound and no key, principal or operation, in (time, seq) order: the order of the index
   * that answers such a page.
   */
  readonly newestFirst?: boolean | undefined;
  readonly limit: number;
  readonly marker?: string | undefined;
}

export interface LedgerHeadInfo {
  readonly seq: number;
  /** Lowercase hex chain hash at `seq` (the genesis hash for an empty ledger). */
  readonly hash: string;
  /** The time of the entry at `seq`; undefined for an empty ledger. */
  readonly time: string | undefined;
}

/** What the AuditService operations read (src/operations/audit/). */
export interface LedgerReader {
  head(): Promise<LedgerHeadInfo>;
  /** InvalidMarkerException for a marker this listing did not make. */
  listEntries(query: LedgerEntryQuery): Promise<LedgerPage<StoredEntry>>;
  /** Checkpoints in seq order. */
  listCheckpoints(page: { readonly limit: number; readonly marker?: string | undefined }): Promise<LedgerPage<Checkpoint>>;
  lastCheckpoint(): Promise<Checkpoint | undefined>;
  /** The newest entry naming the key whose operation is one of `operations` and whose outcome is Success. */
  lastSuccessfulUse(keyId: string, operations: readonly string[]): Promise<StoredEntry | undefined>;
  /** The time of entry 1: since when this ledger has recorded anything. */
  firstEntryTime(): Promise<Date | undefined>;
}
