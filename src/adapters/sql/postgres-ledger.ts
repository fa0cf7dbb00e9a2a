import type { Pool, PoolClient } from 'pg';
import { ChainBuilder, type ChainedEntry, type ChainHead, GENESIS_HASH, GENESIS_HEAD } from '../../audit/chain.js';
import type { Checkpoint } from '../../audit/checkpoint.js';
import type { LedgerEntry } from '../../audit/entry.js';
import type {
  LedgerAppendStore,
  LedgerEntryQuery,
  LedgerHeadInfo,
  LedgerPage,
  LedgerReader,
  StoredEntry,
} from '../../audit/ledger-store.js';
import { applyPostgresMigrations, LEDGER_APPEND_LOCK_KEY, POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { createPostgresPool, type PostgresPoolOptions } from './postgres-pool.js';
import { inTransaction } from './postgres-rows.js';
import { CHECKPOINT_MARKER, decodeSeqMarker, encodeSeqMarker, ENTRY_MARKER, entryRow, inTimeOrder, markerEntryTime, pageTimeBounds, toCheckpoint, toStoredEntry, type CheckpointRowRead, type EntryRow } from './ledger-rows.js';

/**
 * The audit ledger in PostgreSQL (issue 7, item 4): one chain for every replica that shares the
 * database. Each replica's group-commit ledger (src/audit/ledger.ts) chains a batch from the head
 * it last saw; the append transaction then takes LEDGER_APPEND_LOCK_KEY (an advisory lock held to
 * commit, so appends from all replicas run one after the other), reads the stored head, and:
 *  - when it is the head the batch was chained from, stores the entries as given;
 *  - when another replica appended meanwhile, re-chains the batch from the stored head (the same
 *    entries, renumbered after it and hashed again) and stores that, answering the new head so
 *    the ledger and its checkpointer continue from the truth.
 * Sequence numbers stay contiguous and every entry is chained, whatever the interleaving; a batch
 * is still one transaction (one WAL flush) however many requests it holds. A failed transaction
 * writes nothing.
 */
export class PostgresLedgerStore implements LedgerAppendStore, LedgerReader {
  private constructor(
    private readonly pool: Pool,
    private readonly rechain: boolean,
  ) {}

  /**
   * Connects and applies missing migrations. `rechain: false` makes a moved head a rejection
   * instead (the LedgerAppendStore contract as SQLite keeps it), for tests of that path.
   */
  static async open(
    connectionString: string,
    options: PostgresPoolOptions & { readonly rechain?: boolean } = {},
  ): Promise<PostgresLedgerStore> {
    const pool = createPostgresPool(connectionString, { maxConnections: 4, applicationName: 'p11kms-ledger', ...options });
    try {
      const client = await pool.connect();
      try {
        await applyPostgresMigrations(client, POSTGRES_MIGRATIONS);
      } finally {
        client.release();
      }
      return new PostgresLedgerStore(pool, options.rechain ?? true);
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  async readHead(): Promise<ChainHead> {
    const { rows } = await this.pool.query<{ seq: number; hash: Buffer }>(
      'SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1',
    );
    return rows[0] === undefined ? GENESIS_HEAD : { seq: rows[0].seq, hash: rows[0].hash };
  }

  /** Stores the batch; answers the head after it (which differs from the batch's own when re-chained). */
  async appendEntries(after: ChainHead, entries: readonly ChainedEntry[]): Promise<ChainHead> {
    if (entries.length === 0) return after;
    return inTransaction(this.pool, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${LEDGER_APPEND_LOCK_KEY})`);
      const { rows } = await tx.query<{ seq: number; hash: Buffer }>(
        'SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1',
      );
      const stored = rows[0] === undefined ? GENESIS_HEAD : { seq: rows[0].seq, hash: rows[0].hash };
      let batch = entries;
      if (stored.seq !== after.seq || !stored.hash.equals(after.hash)) {
        if (!this.rechain) {
          throw new Error(`the stored ledger head is ${stored.seq}, not ${after.seq}: another writer appended`);
        }
        batch = rechainFrom(stored, entries);
      }
      await insertEntries(tx, batch);
      const last = batch[batch.length - 1]!;
      return { seq: last.entry.seq, hash: last.hash };
    });
  }

  async lastCheckpoint(): Promise<Checkpoint | undefined> {
    const { rows } = await this.pool.query<CheckpointRowRead>(
      'SELECT seq, hash, time, signature FROM ledger_checkpoints ORDER BY seq DESC LIMIT 1',
    );
    return rows[0] && toCheckpoint(rows[0]);
  }

  /** Under the append lock, so that two replicas that both think they lead cannot store out of order. */
  async appendCheckpoint(checkpoint: Checkpoint): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${LEDGER_APPEND_LOCK_KEY})`);
      const { rows } = await tx.query<{ max: number | null }>('SELECT max(seq) AS max FROM ledger_checkpoints');
      const last = rows[0]?.max ?? 0;
      if (checkpoint.seq <= last) {
        throw new Error(`checkpoint ${checkpoint.seq} is not above the last stored checkpoint ${last}`);
      }
      await tx.query('INSERT INTO ledger_checkpoints (seq, hash, time, signature) VALUES ($1, $2, $3, $4)', [
        checkpoint.seq,
        Buffer.from(checkpoint.hash, 'hex'),
        checkpoint.time,
        Buffer.from(checkpoint.signature, 'base64'),
      ]);
    });
  }

  async head(): Promise<LedgerHeadInfo> {
    const { rows } = await this.pool.query<{ seq: number; hash: Buffer; time: number }>(
      'SELECT seq, hash, time FROM ledger_entries ORDER BY seq DESC LIMIT 1',
    );
    const row = rows[0];
    if (row === undefined) return { seq: 0, hash: GENESIS_HASH.toString('hex'), time: undefined };
    return { seq: row.seq, hash: row.hash.toString('hex'), time: new Date(row.time).toISOString() };
  }

  async listEntries(query: LedgerEntryQuery): Promise<LedgerPage<StoredEntry>> {
    const after = query.marker === undefined ? undefined : decodeSeqMarker(query.marker, ENTRY_MARKER);
    // As in the SQLite store: walk an index in order and probe the account per candidate, so that
    // a page costs about its own size however long the ledger is; by key from ledger_entry_keys
    // (key_id, seq); bounded only in time from the time index, in (time, seq) order (inTimeOrder).
    const byKey = query.keyId !== undefined;
    const byTime = inTimeOrder(query);
    const seq = byKey ? 'k.seq' : 'e.seq';
    const beyond = query.newestFirst ? '<' : '>';
    const direction = query.newestFirst ? 'DESC' : 'ASC';
    const params: unknown[] = [query.account];
    const where = [`EXISTS (SELECT 1 FROM ledger_entry_accounts a WHERE a.account = $1 AND a.seq = ${seq})`];
    const filter = (value: unknown, condition: (placeholder: string) => string) => {
      if (value === undefined) return;
      params.push(value);
      where.push(condition(`$${params.length}`));
    };
    filter(query.keyId, (p) => `k.key_id = ${p}`);
    filter(query.principalArn, (p) => `e.principal_arn = ${p}`);
    filter(query.operation, (p) => `e.operation = ${p}`);
    filter(query.outcome, (p) => `e.outcome = ${p}`);
    const markerTime = byTime && after !== undefined ? markerEntryTime(await this.#entryTime(after)) : undefined;
    const { start, end } = pageTimeBounds(query, markerTime);
    filter(start, (p) => `e.time >= ${p}`);
    filter(end, (p) => `e.time <= ${p}`);
    if (markerTime === undefined) filter(after, (p) => `${seq} ${beyond} ${p}`);
    else {
      // Past the marker's entry in (time, seq) order; pageTimeBounds already narrowed the time.
      params.push(markerTime, after);
      where.push(`(e.time ${beyond} $${params.length - 1} OR e.seq ${beyond} $${params.length})`);
    }
    params.push(query.limit + 1);
    const from = byKey ? 'ledger_entry_keys k JOIN ledger_entries e ON e.seq = k.seq' : 'ledger_entries e';
    const order = byTime ? `e.time ${direction}, e.seq ${direction}` : `${seq} ${direction}`;
    const { rows } = await this.pool.query<EntryRow>(
      `SELECT e.seq, e.canonical, e.hash FROM ${from} WHERE ${where.join(' AND ')}
       ORDER BY ${order} LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, query.limit).map(toStoredEntry);
    const last = items.at(-1);
    return {
      items,
      nextMarker: rows.length > query.limit && last ? encodeSeqMarker(last.entry.seq, ENTRY_MARKER) : undefined,
    };
  }

  async #entryTime(seq: number): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ time: number }>('SELECT time FROM ledger_entries WHERE seq = $1', [seq]);
    return rows[0]?.time;
  }

  async listCheckpoints(page: { limit: number; marker?: string | undefined }): Promise<LedgerPage<Checkpoint>> {
    const after = page.marker === undefined ? 0 : decodeSeqMarker(page.marker, CHECKPOINT_MARKER);
    const { rows } = await this.pool.query<CheckpointRowRead>(
      'SELECT seq, hash, time, signature FROM ledger_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2',
      [after, page.limit + 1],
    );
    const items = rows.slice(0, page.limit).map(toCheckpoint);
    const last = items.at(-1);
    return {
      items,
      nextMarker: rows.length > page.limit && last ? encodeSeqMarker(last.seq, CHECKPOINT_MARKER) : undefined,
    };
  }

  async lastSuccessfulUse(keyId: string, operations: readonly string[]): Promise<StoredEntry | undefined> {
    // AWS GetKeyLastUsage: the last *successful cryptographic* operation with the key.
    const { rows } = await this.pool.query<EntryRow>(
      `SELECT e.seq, e.canonical, e.hash FROM ledger_entry_keys k JOIN ledger_entries e ON e.seq = k.seq
       WHERE k.key_id = $1 AND e.outcome = 'Success' AND e.operation = ANY ($2::text[])
       ORDER BY k.seq DESC LIMIT 1`,
      [keyId, [...operations]],
    );
    return rows[0] && toStoredEntry(rows[0]);
  }

  async firstEntryTime(): Promise<Date | undefined> {
    const { rows } = await this.pool.query<{ time: number }>('SELECT time FROM ledger_entries ORDER BY seq LIMIT 1');
    return rows[0] === undefined ? undefined : new Date(rows[0].time);
  }

  /**
   * The export's rows in seq order, a page at a time, all from one REPEATABLE READ snapshot (one
   * consistent export while replicas keep appending); checkpoints from the same snapshot.
   */
  async exportSnapshot<T>(
    work: (reader: {
      entriesAfter(seq: number, limit: number): Promise<EntryRow[]>;
      checkpoints(): Promise<Checkpoint[]>;
    }) => Promise<T>,
  ): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // An export of millions of entries may take longer than a request's statement budget.
      await client.query('SET LOCAL statement_timeout = 0');
      const result = await work({
        entriesAfter: async (seq, limit) =>
          (
            await client.query<EntryRow>(
              'SELECT seq, canonical, hash FROM ledger_entries WHERE seq > $1 ORDER BY seq LIMIT $2',
              [seq, limit],
            )
          ).rows,
        checkpoints: async () =>
          (
            await client.query<CheckpointRowRead>('SELECT seq, hash, time, signature FROM ledger_checkpoints ORDER BY seq')
          ).rows.map(toCheckpoint),
      });
      await client.query('COMMIT');
      return result;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

/** The batch's entries after `stored`: renumbered from stored.seq + 1 and chained from its hash. */
function rechainFrom(stored: ChainHead, entries: readonly ChainedEntry[]): ChainedEntry[] {
  const chain = new ChainBuilder(stored);
  return entries.map(({ entry }) => chain.appendEntry({ ...entry, seq: chain.head.seq + 1 } as LedgerEntry));
}

/** One INSERT per table for the whole batch (arrays unnested server-side). */
async function insertEntries(tx: PoolClient, batch: readonly ChainedEntry[]): Promise<void> {
  const rows = batch.map(entryRow);
  const column = <T>(pick: (row: (typeof rows)[number]['entry']) => T) => rows.map((row) => pick(row.entry));
  await tx.query(
    `INSERT INTO ledger_entries
       (seq, canonical, hash, time, request_id, operation, principal_arn, principal_account, outcome, kind)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                          $8::text[], $9::text[], $10::text[])`,
    [
      column((e) => e.seq),
      column((e) => e.canonical),
      column((e) => e.hash),
      column((e) => e.time),
      column((e) => e.requestId),
      column((e) => e.operation),
      column((e) => e.principalArn),
      column((e) => e.principalAccount),
      column((e) => e.outcome),
      column((e) => e.kind),
    ],
  );
  const keys = rows.flatMap((row) => row.keyIds.map((keyId) => ({ keyId, seq: row.entry.seq })));
  if (keys.length > 0) {
    await tx.query(
      `INSERT INTO ledger_entry_keys (key_id, seq)
       SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING`,
      [keys.map((k) => k.keyId), keys.map((k) => k.seq)],
    );
  }
  const accounts = rows.flatMap((row) => row.accounts.map((account) => ({ account, seq: row.entry.seq })));
  if (accounts.length > 0) {
    await tx.query(
      `INSERT INTO ledger_entry_accounts (account, seq)
       SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING`,
      [accounts.map((a) => a.account), accounts.map((a) => a.seq)],
    );
  }
}
