import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { type ChainedEntry, type ChainHead, GENESIS_HASH, GENESIS_HEAD } from '../../audit/chain.js';
import type { Checkpoint } from '../../audit/checkpoint.js';
import type {
  LedgerAppendStore,
  LedgerEntryQuery,
  LedgerHeadInfo,
  LedgerPage,
  LedgerReader,
  StoredEntry,
} from '../../audit/ledger-store.js';
import { applySqliteMigrations, SQLITE_MIGRATIONS } from './migrations.js';
import { SqliteLedgerWriter } from './sqlite-ledger-writer.js';
import { CHECKPOINT_MARKER, decodeSeqMarker, encodeSeqMarker, ENTRY_MARKER, inTimeOrder, markerEntryTime, pageTimeBounds, toCheckpoint, toStoredEntry, type CheckpointRowRead, type EntryRow } from './ledger-rows.js';

const BUSY_TIMEOUT_MS = 5000;
/**
 * The most key rows that may wait before appends move them into the key index
 * (sqlite-ledger-writer.ts: 8 per key with rows waiting, at least 4,096, at most this). 10,000
 * keys in even use reach it; a listing by key scans the waiting rows, ~2.5 ms for 65,536 here.
 */
const KEY_INDEX_LAG = 65_536;

/**
 * The audit ledger in the SQLite metadata database (issue 6, item 2), beside the key metadata.
 * Writes go through a worker thread (sqlite-ledger-writer.ts) so that their fsync leaves the event
 * loop; reads use this connection, which WAL lets run beside the writer.
 */
export class SqliteLedgerStore implements LedgerAppendStore, LedgerReader {
  /** One writer thread takes the appends from a message queue, in order. */
  readonly appendsInOrder = true;
  readonly #statements: ReturnType<typeof prepareStatements>;
  readonly #listings = new Map<string, Statement>();

  private constructor(
    private readonly db: Database.Database,
    private readonly writer: SqliteLedgerWriter,
  ) {
    this.#statements = prepareStatements(db);
  }

  /** Opens (and migrates) the database file; the metadata store may hold it open too. */
  static async open(path: string, options: { busyTimeoutMs?: number; keyIndexLag?: number } = {}): Promise<SqliteLedgerStore> {
    const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
    const keyIndexLag = options.keyIndexLag ?? KEY_INDEX_LAG;
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      applySqliteMigrations(db, SQLITE_MIGRATIONS);
      return new SqliteLedgerStore(db, await SqliteLedgerWriter.start(path, { busyTimeoutMs, keyIndexLag }));
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async readHead(): Promise<ChainHead> {
    const row = this.#statements.head.get() as { seq: number; hash: Buffer } | undefined;
    return row === undefined ? GENESIS_HEAD : { seq: row.seq, hash: row.hash };
  }

  appendEntries(after: ChainHead, entries: readonly ChainedEntry[]): Promise<void> {
    return this.writer.append({ seq: after.seq, hash: after.hash }, entries);
  }

  async lastCheckpoint(): Promise<Checkpoint | undefined> {
    const row = this.#statements.lastCheckpoint.get() as CheckpointRowRead | undefined;
    return row && toCheckpoint(row);
  }

  appendCheckpoint(checkpoint: Checkpoint): Promise<void> {
    return this.writer.appendCheckpoint({
      seq: checkpoint.seq,
      hash: Buffer.from(checkpoint.hash, 'hex'),
      time: checkpoint.time,
      signature: Buffer.from(checkpoint.signature, 'base64'),
    });
  }

  async head(): Promise<LedgerHeadInfo> {
    const row = this.#statements.headWithTime.get() as { seq: number; hash: Buffer; time: number } | undefined;
    if (row === undefined) return { seq: 0, hash: GENESIS_HASH.toString('hex'), time: undefined };
    return { seq: row.seq, hash: row.hash.toString('hex'), time: new Date(row.time).toISOString() };
  }

  async listEntries(query: LedgerEntryQuery): Promise<LedgerPage<StoredEntry>> {
    const after = query.marker === undefined ? undefined : decodeSeqMarker(query.marker, ENTRY_MARKER);
    // Every filter is a probe of one row per candidate, walked newest (or oldest) first from an
    // index in order, so that a page costs about its own size however long the ledger is: by key
    // from ledger_entry_keys (key_id, seq); by principal or operation from that column's index;
    // bounded only in time from the time index (inTimeOrder); otherwise from ledger_entries. An
    // `IN (SELECT …)` here would build the account's whole seq list per query (~200 ms at
    // 1,000,000 entries, bench/ledger-verify.ts).
    const byKey = query.keyId !== undefined;
    const byTime = inTimeOrder(query);
    const seq = byKey ? 'k.seq' : 'e.seq';
    const beyond = query.newestFirst ? '<' : '>';
    const direction = query.newestFirst ? 'DESC' : 'ASC';
    const where = [`EXISTS (SELECT 1 FROM ledger_entry_accounts a WHERE a.account = @account AND a.seq = ${seq})`];
    const params: Record<string, unknown> = { account: query.account, limit: query.limit + 1 };
    const filter = (name: string, value: unknown, condition: string) => {
      if (value === undefined) return;
      where.push(condition);
      params[name] = value;
    };
    filter('keyId', query.keyId, 'k.key_id = @keyId');
    filter('principalArn', query.principalArn, 'e.principal_arn = @principalArn');
    filter('operation', query.operation, 'e.operation = @operation');
    filter('outcome', query.outcome, 'e.outcome = @outcome');
    const markerTime = byTime && after !== undefined ? markerEntryTime(this.#statements.entryTime.get(after) as number | undefined) : undefined;
    const { start, end } = pageTimeBounds(query, markerTime);
    filter('startTime', start, 'e.time >= @startTime');
    filter('endTime', end, 'e.time <= @endTime');
    if (markerTime === undefined) filter('after', after, `${seq} ${beyond} @after`);
    else {
      // Past the marker's entry in (time, seq) order; pageTimeBounds already narrowed the time.
      where.push(`(e.time ${beyond} @markerTime OR e.seq ${beyond} @after)`);
      Object.assign(params, { markerTime, after });
    }
    // CROSS JOIN fixes the join order: SQLite walks the key's rows and looks up each entry.
    // INDEXED BY pins a page in time order to the index that answers it in that order.
    const order = byTime ? `e.time ${direction}, e.seq ${direction}` : `${seq} ${direction}`;
    const select = (from: string, more: readonly string[]) =>
      this.#listing(`SELECT e.seq, e.canonical, e.hash FROM ${from} WHERE ${[...where, ...more].join(' AND ')} ORDER BY ${order} LIMIT @limit`);
    let rows: EntryRow[];
    if (byKey) {
      // A key's rows are in the key index (key_id, seq) or still wait in seq order (migration 7),
      // and those in the index are all older than those waiting: newest first reads the waiting
      // rows, then the index; oldest first the other way round. A waiting row at or below the
      // key's newest indexed seq was moved already. One read transaction, so that a move the
      // writer commits between the two reads neither repeats nor loses a row.
      const indexed = select(KEY_ROWS.indexed.from, KEY_ROWS.indexed.where);
      const waiting = select(KEY_ROWS.waiting.from, KEY_ROWS.waiting.where);
      const [first, then] = query.newestFirst ? [waiting, indexed] : [indexed, waiting];
      rows = this.db.transaction(() => {
        const found = first.all(params) as EntryRow[];
        return found.length > query.limit ? found : found.concat(then.all(params) as EntryRow[]);
      })();
    } else {
      rows = select(byTime ? 'ledger_entries e INDEXED BY ledger_entries_by_time' : 'ledger_entries e', []).all(params) as EntryRow[];
    }
    const items = rows.slice(0, query.limit).map(toStoredEntry);
    const last = items.at(-1);
    return {
      items,
      nextMarker: rows.length > query.limit && last ? encodeSeqMarker(last.entry.seq, ENTRY_MARKER) : undefined,
    };
  }

  async listCheckpoints(page: { limit: number; marker?: string | undefined }): Promise<LedgerPage<Checkpoint>> {
    const after = page.marker === undefined ? 0 : decodeSeqMarker(page.marker, CHECKPOINT_MARKER);
    const rows = this.#statements.checkpointsAfter.all(after, page.limit + 1) as CheckpointRowRead[];
    const items = rows.slice(0, page.limit).map(toCheckpoint);
    const last = items.at(-1);
    return {
      items,
      nextMarker: rows.length > page.limit && last ? encodeSeqMarker(last.seq, CHECKPOINT_MARKER) : undefined,
    };
  }

  async lastSuccessfulUse(keyId: string, operations: readonly string[]): Promise<StoredEntry | undefined> {
    const params = { keyId, operations: JSON.stringify(operations) };
    const { lastSuccessfulUseWaiting, lastSuccessfulUseIndexed } = this.#statements;
    // The key's rows still waiting are newer than those in the index (listEntries).
    const row = this.db.transaction(
      () => (lastSuccessfulUseWaiting.get(params) ?? lastSuccessfulUseIndexed.get(params)) as EntryRow | undefined,
    )();
    return row && toStoredEntry(row);
  }

  async firstEntryTime(): Promise<Date | undefined> {
    const time = this.#statements.firstEntryTime.get() as number | undefined;
    return time === undefined ? undefined : new Date(time);
  }

  #listing(sql: string): Statement {
    let statement = this.#listings.get(sql);
    if (statement === undefined) this.#listings.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** Waits for the writes already sent, then closes both connections. */
  async close(): Promise<void> {
    try {
      await this.writer.close();
    } finally {
      this.db.close();
    }
  }
}

/**
 * Where a key's rows are (alias k, joined to their entries e): the key index, and the rows still
 * waiting for it (migration 7), of which only those above the key's newest indexed seq count.
 */
const KEY_ROWS = {
  indexed: { from: 'ledger_entry_keys k CROSS JOIN ledger_entries e ON e.seq = k.seq', where: [] },
  waiting: {
    from: 'ledger_entry_keys_waiting k CROSS JOIN ledger_entries e ON e.seq = k.seq',
    where: ['k.seq > (SELECT coalesce(max(i.seq), 0) FROM ledger_entry_keys i WHERE i.key_id = @keyId)'],
  },
} as const satisfies Record<string, { from: string; where: readonly string[] }>;

function prepareStatements(db: Database.Database) {
  const lastSuccessfulUse = (rows: { from: string; where: readonly string[] }) =>
    db.prepare(`SELECT e.seq, e.canonical, e.hash FROM ${rows.from}
      WHERE ${['k.key_id = @keyId', ...rows.where, "e.outcome = 'Success'", 'e.operation IN (SELECT value FROM json_each(@operations))'].join(' AND ')}
      ORDER BY k.seq DESC LIMIT 1`);
  return {
    head: db.prepare('SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1'),
    headWithTime: db.prepare('SELECT seq, hash, time FROM ledger_entries ORDER BY seq DESC LIMIT 1'),
    lastCheckpoint: db.prepare('SELECT seq, hash, time, signature FROM ledger_checkpoints ORDER BY seq DESC LIMIT 1'),
    checkpointsAfter: db.prepare(
      'SELECT seq, hash, time, signature FROM ledger_checkpoints WHERE seq > ? ORDER BY seq LIMIT ?',
    ),
    // AWS GetKeyLastUsage: the last *successful cryptographic* operation with the key.
    // Walks the key's own entries newest first, those still waiting first (see listEntries).
    lastSuccessfulUseWaiting: lastSuccessfulUse(KEY_ROWS.waiting),
    lastSuccessfulUseIndexed: lastSuccessfulUse(KEY_ROWS.indexed),
    firstEntryTime: db.prepare('SELECT time FROM ledger_entries ORDER BY seq LIMIT 1').pluck(),
    entryTime: db.prepare('SELECT time FROM ledger_entries WHERE seq = ?').pluck(),
  };
}
