import { KmsError } from '../../domain/errors.js';
import { parseArn } from '../../domain/ids.js';
import { boundedMemo } from '../../domain/memo.js';
import type { ChainedEntry } from '../../audit/chain.js';
import type { Checkpoint } from '../../audit/checkpoint.js';
import type { LedgerEntry } from '../../audit/entry.js';
import type { LedgerEntryQuery, StoredEntry } from '../../audit/ledger-store.js';

/**
 * Rows of the ledger tables as both SQL stores write and read them, and the opaque page markers
 * of their listings: one definition, so SQLite and PostgreSQL exports and markers stay identical.
 */
export interface EntryRow {
  seq: number;
  canonical: string;
  hash: Buffer;
}

export interface CheckpointRowRead {
  seq: number;
  hash: Buffer;
  time: string;
  signature: Buffer;
}

/** One entry's columns of ledger_entries and its index rows (PostgreSQL's insert; the SQLite writer packs the same). */
export interface LedgerEntryRow {
  readonly entry: {
    readonly seq: number;
    readonly canonical: string;
    readonly hash: Buffer;
    readonly time: number;
    readonly requestId: string;
    readonly operation: string;
    readonly principalArn: string | null;
    readonly principalAccount: string | null;
    readonly outcome: string;
    readonly kind: string;
  };
  /** The ids of the keys it names (ledger_entry_keys, ListAuditEvents by key). */
  readonly keyIds: readonly string[];
  /** The accounts that may read this entry (ListAuditEvents). */
  readonly accounts: readonly string[];
}

/** The row of a chained entry: its columns, the keys it names and its reader accounts. */
export function entryRow({ entry, canonical, hash }: ChainedEntry): LedgerEntryRow {
  const { keyIds, accounts } = indexRowsOf(entry);
  return {
    entry: {
      seq: entry.seq,
      canonical,
      hash,
      time: Date.parse(entry.time),
      requestId: entry.requestId,
      operation: entry.operation,
      principalArn: entry.principalArn,
      principalAccount: entry.principalAccount,
      outcome: entry.outcome,
      kind: entry.kind,
    },
    keyIds,
    accounts,
  };
}

/** The index rows of an entry: the ids of the keys it names, and the accounts that may read it. */
export interface IndexRows {
  readonly keyIds: readonly string[];
  readonly accounts: readonly string[];
}

/**
 * Each key id once, whatever the number of its ARNs in the entry; the readers are the caller's
 * account and each key's, in that order. Nearly every entry names one key of the caller's own
 * account, or none: those answers are made once per key (or account) and shared, frozen, so that
 * an entry costs no arrays of its own (heap count under Encrypt at 64 in flight, bench/FINDINGS.md).
 */
export function indexRowsOf(entry: Pick<LedgerEntry, 'keyArns' | 'principalAccount'>): IndexRows {
  const { keyArns, principalAccount } = entry;
  if (keyArns.length === 0) return principalAccount === null ? NO_INDEX_ROWS : callerOnly(principalAccount);
  if (keyArns.length === 1) {
    const rows = oneKey(keyArns[0]!);
    if (principalAccount === null || rows.accounts[0] === principalAccount) return rows;
  }
  // An entry names one or two keys: arrays and includes, not a Map and a Set and their copies.
  const keyIds: string[] = [];
  const accounts: string[] = [];
  if (principalAccount !== null) accounts.push(principalAccount);
  for (const keyArn of keyArns) {
    const key = keyOfArn(keyArn);
    if (keyIds.includes(key.keyId)) continue;
    keyIds.push(key.keyId);
    if (key.account !== '' && !accounts.includes(key.account)) accounts.push(key.account);
  }
  return { keyIds, accounts };
}

const NO_INDEX_ROWS: IndexRows = Object.freeze({ keyIds: Object.freeze([]), accounts: Object.freeze([]) });

const callerOnly = boundedMemo(
  (account): IndexRows => Object.freeze({ keyIds: Object.freeze([]), accounts: Object.freeze([account]) }),
);

/** An entry naming this one key ARN, by a caller of the key's account (or by none). */
const oneKey = boundedMemo((keyArn): IndexRows => {
  const key = keyOfArn(keyArn);
  return Object.freeze({
    keyIds: Object.freeze([key.keyId]),
    accounts: Object.freeze(key.account === '' ? [] : [key.account]),
  });
}, 50_000);

/**
 * A key ARN's id and account; the same keys recur in entry after entry. Room for as many keys as
 * the metadata cache keeps (50,000, caching-metadata-store.ts).
 */
const keyOfArn = boundedMemo((keyArn): { readonly keyId: string; readonly account: string } => {
  const arn = parseArn(keyArn);
  const keyId = arn?.resource.startsWith('key/') ? arn.resource.slice(4) : keyArn;
  return { keyId, account: arn?.account ?? '' };
}, 50_000);

export function toStoredEntry(row: EntryRow): StoredEntry {
  return { entry: JSON.parse(row.canonical) as LedgerEntry, canonical: row.canonical, hash: row.hash.toString('hex') };
}

export function toCheckpoint(row: CheckpointRowRead): Checkpoint {
  return { seq: row.seq, hash: row.hash.toString('hex'), time: row.time, signature: row.signature.toString('base64') };
}

export const ENTRY_MARKER = 'ledger-entries';
export const CHECKPOINT_MARKER = 'ledger-checkpoints';

/** Opaque Marker (AWS KMS convention): `<listing>:v1:<seq>` in base64url; a position, not a row. */
export function encodeSeqMarker(seq: number, listing: string): string {
  return Buffer.from(`${listing}:v1:${seq}`, 'utf8').toString('base64url');
}

/**
 * Whether a ListAuditEvents page walks the time index, in (time, seq) order: when the query bounds
 * the time and names no key, principal or operation. In seq order such a page had to read and sort
 * the whole window from the time index on every page (1.5–1.6 s a page at 1,000,000 entries). Time
 * order is seq order for the entries of one process (an entry's time is read as it joins the
 * ledger's queue) unless its clock steps back, and nearly so across replicas; ties go by seq. A key,
 * principal or operation keeps the walk on that column's own index, in seq order, each entry
 * checked against the window (SQLite's plan for them never sorted).
 */
export function inTimeOrder(query: LedgerEntryQuery): boolean {
  return (
    query.keyId === undefined &&
    query.principalArn === undefined &&
    query.operation === undefined &&
    (query.startTime !== undefined || query.endTime !== undefined)
  );
}

/**
 * A page's time bounds (epoch ms): the query's, and for a page in time order the marker's too.
 * `markerTime` is the time of the entry the marker names (undefined on a first page or in seq
 * order), so that the index walk starts where the last page ended rather than at the window's
 * edge; entries at exactly `markerTime` are told apart by seq.
 */
export function pageTimeBounds(query: LedgerEntryQuery, markerTime: number | undefined): { start?: number; end?: number } {
  let start = query.startTime?.getTime();
  let end = query.endTime?.getTime();
  if (markerTime !== undefined && query.newestFirst) end = end === undefined ? markerTime : Math.min(end, markerTime);
  if (markerTime !== undefined && !query.newestFirst) start = start === undefined ? markerTime : Math.max(start, markerTime);
  return { start, end };
}

/** The time of the entry a time-ordered page's marker names; a marker past the ledger's end is not one it made. */
export function markerEntryTime(time: number | undefined): number {
  if (time === undefined) throw invalidMarker();
  return time;
}

function invalidMarker(): KmsError {
  return new KmsError('InvalidMarkerException', 'The Marker is not valid; pass the NextMarker of a previous response.');
}

export function decodeSeqMarker(marker: string, listing: string): number {
  const text = Buffer.from(marker, 'base64url').toString('utf8');
  const match = new RegExp(`^${listing}:v1:(0|[1-9]\\d{0,15})$`).exec(text);
  const seq = Number(match?.[1]);
  if (!match || !Number.isSafeInteger(seq) || Buffer.from(text, 'utf8').toString('base64url') !== marker) {
    throw invalidMarker();
  }
  return seq;
}
