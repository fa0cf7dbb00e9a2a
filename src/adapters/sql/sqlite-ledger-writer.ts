import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ChainedEntry } from '../../audit/chain.js';
import { indexRowsOf } from './ledger-rows.js';

/**
 * The ledger's writes run on a worker thread with its own SQLite connection, so that a commit's
 * fsync (synchronous=FULL) never stalls the event loop: while one batch is being made durable, the
 * main thread keeps serving requests and queueing the next batch (group commit, src/audit/ledger.ts).
 *
 * Each append is one BEGIN IMMEDIATE transaction that first checks the stored head is the one the
 * batch was chained from — another process writing the same file cannot fork the chain — then
 * inserts the entries and their index rows. The code is plain CommonJS evaluated in the worker
 * (as blocking-calls.ts does for PKCS#11), which works the same from sources and from dist.
 *
 * An entry's key rows wait in ledger_entry_keys_waiting, in seq order (migration 7), until more
 * than the lag wait: ROWS_PER_KEY for each key with rows waiting, at least MIN_LAG and at most
 * `keyIndexLag`. Then each append also moves the rows of the keys that have waited longest into
 * the key index (ledger_entry_keys), a key's rows together, oldest first, so that a leaf of the
 * index takes several rows at once instead of one per entry. The lag follows the keys in use
 * because a listing by key scans the waiting rows: a few keys need few rows waiting to move
 * several at a time, 10,000 keys need the whole cap. The worker keeps the waiting rows by key in
 * memory (read back from the table when it starts, or after a failed append), and drops rows
 * from the waiting table, by seq, once every row before them is indexed.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.betterSqlitePath);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = ' + Number(workerData.busyTimeoutMs));
const bytes = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
const head = db.prepare('SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1');
const insertEntry = db.prepare(\`INSERT INTO ledger_entries
  (seq, canonical, hash, time, request_id, operation, principal_arn, principal_account, outcome, kind)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)\`);
const insertWaiting = db.prepare('INSERT OR IGNORE INTO ledger_entry_keys_waiting (seq, key_id) VALUES (?, ?)');
const insertIndexed = db.prepare('INSERT OR IGNORE INTO ledger_entry_keys (key_id, seq) VALUES (?, ?)');
const dropWaiting = db.prepare('DELETE FROM ledger_entry_keys_waiting WHERE seq <= ?');
const readWaiting = db.prepare(\`SELECT w.seq, w.key_id FROM ledger_entry_keys_waiting w
  WHERE w.seq > coalesce((SELECT max(k.seq) FROM ledger_entry_keys k WHERE k.key_id = w.key_id), 0)
  ORDER BY w.seq, w.key_id\`);
const firstWaiting = db.prepare('SELECT min(seq) FROM ledger_entry_keys_waiting').pluck();
const insertAccount = db.prepare('INSERT OR IGNORE INTO ledger_entry_accounts (account, seq) VALUES (?, ?)');
const insertCheckpoint = db.prepare('INSERT INTO ledger_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?)');
const lastCheckpoint = db.prepare('SELECT max(seq) FROM ledger_checkpoints').pluck();
const append = db.transaction((after, batch) => {
  const stored = head.get();
  const storedSeq = stored === undefined ? 0 : stored.seq;
  if (storedSeq !== after.seq || (stored !== undefined && !bytes(stored.hash).equals(bytes(after.hash)))) {
    throw new Error('the stored ledger head is ' + storedSeq + ', not ' + after.seq + ': another writer appended');
  }
  // The layout is packBatch's (below): per entry its seq, time and counts in numbers, its strings
  // as lengths there and pieces of text, in the order written.
  const { text, numbers } = batch;
  const hashes = bytes(batch.hashes);
  const keyRows = [];
  const inBatch = new Map();
  let at = 0;
  let n = 0;
  const piece = () => {
    const length = numbers[n++];
    if (length < 0) return null;
    const value = text.slice(at, at + length);
    at += length;
    return value;
  };
  // One 32-byte hash per entry: their buffer also says how many entries the batch holds.
  for (let i = 0; i < hashes.length / 32; i++) {
    const seq = numbers[n++];
    const time = numbers[n++];
    const canonical = piece();
    const requestId = piece();
    const operation = piece();
    const principalArn = piece();
    const principalAccount = piece();
    const outcome = piece();
    const kind = piece();
    insertEntry.run(seq, canonical, hashes.subarray(32 * i, 32 * i + 32), time, requestId, operation, principalArn,
      principalAccount, outcome, kind);
    for (let keys = numbers[n++]; keys > 0; keys--) {
      const keyId = piece();
      keyRows.push(seq, keyId);
      inBatch.set(keyId, (inBatch.get(keyId) ?? 0) + 1);
    }
    for (let accounts = numbers[n++]; accounts > 0; accounts--) insertAccount.run(piece(), seq);
    lastSeq = seq;
  }
  // A key the batch names HOT_KEY_ROWS times or more fills a leaf of the index with its own rows:
  // they go straight there once none of its rows still waits (its oldest move first).
  const budget = Math.max(MOVES_PER_APPEND, keyRows.length);
  for (const [keyId, count] of inBatch) {
    const key = waiting.get(keyId);
    if (count >= HOT_KEY_ROWS && key !== undefined) moveOldest(keyId, key, budget);
  }
  let kept = 0;
  for (let i = 0; i < keyRows.length; i += 2) {
    const seq = keyRows[i];
    const keyId = keyRows[i + 1];
    if (inBatch.get(keyId) >= HOT_KEY_ROWS && !waiting.has(keyId)) insertIndexed.run(keyId, seq);
    else if (insertWaiting.run(seq, keyId).changes > 0) {
      keepWaiting(keyId, seq);
      kept++;
    }
  }
  indexWaiting(Math.max(MOVES_PER_APPEND, 2 * kept));
  dropIndexed();
});

// The key rows not yet in the index: key id → { seqs (ascending), from (the first not yet moved) }.
// A key joins the Map at its first waiting row and leaves it when all its rows are moved, so the
// Map's order is about that of each key's oldest waiting row: the order in which keys are moved.
let waiting;
let waitingRows;
let droppedThrough;
let nextDropCheck;
let lastSeq = 0;
let stale = true;
function readWaitingState() {
  const stored = head.get();
  lastSeq = stored === undefined ? 0 : stored.seq;
  waiting = new Map();
  waitingRows = 0;
  for (const row of readWaiting.iterate()) keepWaiting(row.key_id, row.seq);
  droppedThrough = (firstWaiting.get() ?? 1) - 1;
  nextDropCheck = 0;
  stale = false;
}
function keepWaiting(keyId, seq) {
  let key = waiting.get(keyId);
  if (key === undefined) waiting.set(keyId, (key = { seqs: [], from: 0 }));
  key.seqs.push(seq);
  waitingRows++;
}
/** Moves at most "most" of the key's oldest waiting rows into the index. */
function moveOldest(keyId, key, most) {
  const end = Math.min(key.seqs.length, key.from + most);
  for (let i = key.from; i < end; i++) insertIndexed.run(keyId, key.seqs[i]);
  const moved = end - key.from;
  waitingRows -= moved;
  key.from = end;
  if (end === key.seqs.length) waiting.delete(keyId);
  else if (key.from > 1024 && key.from * 2 > key.seqs.length) {
    key.seqs = key.seqs.slice(key.from);
    key.from = 0;
  }
  return moved;
}
/** How many rows may wait now: ROWS_PER_KEY for each key with rows waiting, within MIN_LAG and the cap. */
function lag() {
  return Math.min(workerData.keyIndexLag, Math.max(MIN_LAG, ROWS_PER_KEY * waiting.size));
}
/** While more than the lag wait, moves the rows of the keys that have waited longest. */
function indexWaiting(budget) {
  let moved = 0;
  while (waitingRows > lag() && moved < budget) {
    const [keyId, key] = waiting.entries().next().value;
    moved += moveOldest(keyId, key, budget - moved);
  }
}
/** Drops the waiting rows below the oldest one not yet moved (every DROP_EVERY seqs at most). */
function dropIndexed() {
  if (lastSeq < nextDropCheck) return;
  nextDropCheck = lastSeq + DROP_EVERY;
  let oldest = lastSeq + 1;
  for (const key of waiting.values()) oldest = Math.min(oldest, key.seqs[key.from]);
  if (oldest - 1 > droppedThrough) {
    dropWaiting.run(oldest - 1);
    droppedThrough = oldest - 1;
  }
}
// Past the lag, an append moves at most this many rows, or twice as many as it added if that is
// more; before a key it names often goes straight to the index, at most this many of that key's,
// or as many as the batch's key rows (a key with more moves over several appends). So no append
// waits for a long move, and the waiting rows still come back under the lag. A row costs ~3 µs
// more for its stay in the waiting table, and a leaf of the index written for it alone ~20: a
// key with HOT_KEY_ROWS rows in one batch writes them to the index at once.
const MOVES_PER_APPEND = 512;
// Keys are moved in turn, so a key's rows wait about one turn: with ROWS_PER_KEY rows per key
// waiting, a key moved has ~2 × ROWS_PER_KEY rows for one leaf. 10,000 keys reach the cap.
const ROWS_PER_KEY = 8;
const MIN_LAG = 4096;
const HOT_KEY_ROWS = 8;
const DROP_EVERY = 1024;
const checkpoint = db.transaction((c) => {
  const last = lastCheckpoint.get() ?? 0;
  if (c.seq <= last) throw new Error('checkpoint ' + c.seq + ' is not above the last stored checkpoint ' + last);
  insertCheckpoint.run(c.seq, bytes(c.hash), c.time, bytes(c.signature));
});
const ops = {
  append(req) {
    try {
      if (stale) readWaitingState();
      append.immediate(req.after, req.rows);
    } catch (e) {
      // The transaction rolled back, and with it whatever this batch moved: read the state again.
      stale = true;
      throw e;
    }
    return null;
  },
  checkpoint(req) { checkpoint.immediate(req.checkpoint); return null; },
  close() { db.close(); return null; },
};
parentPort.on('message', (req) => {
  try { parentPort.postMessage({ id: req.id, result: ops[req.op](req) }); }
  catch (e) { parentPort.postMessage({ id: req.id, error: { message: String(e && e.message), code: e && e.code } }); }
});
parentPort.postMessage({ ready: true });
`;

export interface CheckpointRow {
  readonly seq: number;
  readonly hash: Buffer;
  readonly time: string;
  readonly signature: Buffer;
}

/** What the worker answered when a write failed: SQLite's message and code (e.g. SQLITE_BUSY). */
export class LedgerWriteError extends Error {
  override readonly name = 'LedgerWriteError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * A batch as one text, one array of numbers and one buffer of hashes, for postMessage. Its
 * structured clone copies each string and array separately, on both threads: column arrays of ~110
 * strings for a batch of 18 Encrypt entries cost the two threads ~110–120 µs of CPU per batch, one
 * text ~65 (bench/FINDINGS.md, "The post to the ledger writer"). The hashes go in a buffer of
 * their own: Buffer.concat's comes from the 8 KiB pool, and the clone copies a view's whole
 * ArrayBuffer. Packed from the chained entries themselves, with the columns entryRow gives
 * (ledger-rows.ts) but no row objects of their own.
 *
 * Per entry, `numbers` holds its seq, its time, then the length of each string (-1 for null) in
 * the order `text` holds them: canonical, requestId, operation, principalArn, principalAccount,
 * outcome, kind; then the number of its key ids and their lengths, and the same for its accounts.
 */
function packBatch(entries: readonly ChainedEntry[]): PackedBatch {
  const pieces: string[] = [];
  const numbers: number[] = [];
  const hashes = new Uint8Array(32 * entries.length);
  const add = (value: string | null) => {
    if (value === null) {
      numbers.push(-1);
      return;
    }
    numbers.push(value.length);
    pieces.push(value);
  };
  for (let index = 0; index < entries.length; index++) {
    const { entry, canonical, hash } = entries[index]!;
    if (hash.length !== 32) throw new RangeError(`entry ${entry.seq} has a hash of ${hash.length} bytes`);
    hashes.set(hash, 32 * index);
    numbers.push(entry.seq, Date.parse(entry.time));
    add(canonical);
    add(entry.requestId);
    add(entry.operation);
    add(entry.principalArn);
    add(entry.principalAccount);
    add(entry.outcome);
    add(entry.kind);
    const { keyIds, accounts } = indexRowsOf(entry);
    numbers.push(keyIds.length);
    for (let i = 0; i < keyIds.length; i++) add(keyIds[i]!);
    numbers.push(accounts.length);
    for (let i = 0; i < accounts.length; i++) add(accounts[i]!);
  }
  return { text: pieces.join(''), numbers, hashes };
}

interface PackedBatch {
  readonly text: string;
  readonly numbers: readonly number[];
  readonly hashes: Uint8Array;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class SqliteLedgerWriter {
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #stopped: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: { id: number; result?: unknown; error?: { message: string; code?: string } }) => {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.error) pending.reject(new LedgerWriteError(message.error.message, message.error.code));
      else pending.resolve(message.result);
    });
    worker.on('error', (error) => this.#stop(error));
    worker.on('exit', () => this.#stop(new Error('the ledger writer thread exited')));
  }

  /**
   * `keyIndexLag`: the most key rows that may wait before appends move them into the key index
   * (fewer may: 8 per key with rows waiting, at least 4,096). More means fewer index pages
   * written per entry when many keys are in use, and a longer scan of the waiting rows for a
   * listing by key (SqliteLedgerStore.listEntries).
   */
  static async start(path: string, options: { busyTimeoutMs: number; keyIndexLag: number }): Promise<SqliteLedgerWriter> {
    const { busyTimeoutMs, keyIndexLag } = options;
    if (!Number.isSafeInteger(keyIndexLag) || keyIndexLag < 0) throw new RangeError(`keyIndexLag must be a whole number ≥ 0, not ${keyIndexLag}`);
    const betterSqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { betterSqlitePath, path, busyTimeoutMs, keyIndexLag } });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new SqliteLedgerWriter(worker);
  }

  append(after: { seq: number; hash: Buffer }, entries: readonly ChainedEntry[]): Promise<void> {
    let batch: PackedBatch;
    try {
      batch = packBatch(entries);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.#call('append', { after, rows: batch }) as Promise<void>;
  }

  appendCheckpoint(checkpoint: CheckpointRow): Promise<void> {
    return this.#call('checkpoint', { checkpoint }) as Promise<void>;
  }

  /** Closes the worker's connection (after the writes already sent) and ends the thread. */
  async close(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#call('close', {});
    } finally {
      await this.worker.terminate();
      this.#stop(new Error('the ledger writer is closed'));
    }
  }

  #call(op: string, args: Record<string, unknown>): Promise<unknown> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...args });
    });
  }

  #stop(error: Error): void {
    this.#stopped ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
