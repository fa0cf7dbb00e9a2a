import { DatabaseError, TypeOverrides, types, type Pool, type PoolClient } from 'pg';
import { KmsError } from '../../domain/errors.js';
import { keyNotFound, type KeyRow } from './sqlite-rows.js';

// The row shapes and their mapping to records are shared with the SQLite store (sqlite-rows.ts):
// both schemas have the same columns, and epoch-millisecond bigints arrive as numbers (below).
export { keyNotFound, requireEnabled, toKeyRecord, toKeyVersion, type KeyRow, type VersionRow } from './sqlite-rows.js';

/** Something that runs a query: the pool, outside a transaction, or the client holding one. */
export type Queryable = Pick<Pool | PoolClient, 'query'>;

/**
 * pg returns `bigint` (and `count(*)`) as strings, since an int8 may exceed 2^53. The store's
 * int8 values are epoch milliseconds and row counts, far below that, so this pool reads them as
 * numbers. Scoped to the store's pool rather than set on pg's global `types`.
 */
export function storeTypes(): TypeOverrides {
  const overrides = new TypeOverrides();
  overrides.setTypeParser(types.builtins.INT8, (value: string) => Number(value));
  return overrides;
}

/**
 * Runs `work` in one READ COMMITTED transaction on a connection of its own. Race safety comes
 * from row locks taken inside `work` (lockKey): a check and the writes it guards run while the
 * key's row is locked, so concurrent requests on any connection or replica queue behind each other.
 * Any error rolls everything back; a connection that cannot even roll back is discarded.
 */
export async function inTransaction<T>(pool: Pool, work: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection that breaks between two statements emits 'error' on the checked-out client; with
  // no listener that would end the process. The statement awaiting it fails anyway; remember it
  // so the connection is discarded, not returned to the pool.
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/**
 * Reads a key's row and locks it until the transaction ends. Every write transaction that checks
 * a key's state, schedule or quotas takes this lock first, so the check holds until its writes commit.
 */
export async function lockKey(tx: PoolClient, keyId: string): Promise<KeyRow | undefined> {
  const { rows } = await tx.query<KeyRow>('SELECT * FROM keys WHERE id = $1 FOR UPDATE', [keyId]);
  return rows[0];
}

/** lockKey, or NotFoundException. */
export async function lockExistingKey(tx: PoolClient, keyId: string): Promise<KeyRow> {
  const row = await lockKey(tx, keyId);
  if (row === undefined) throw keyNotFound(keyId);
  return row;
}

/**
 * The store's own checks find duplicates first; a concurrent transaction inserting the same id
 * can still win between check and insert, and then PostgreSQL reports a unique violation. This
 * turns a violation of one of `constraints` into the AlreadyExistsException the check would have
 * thrown, and rethrows anything else unchanged.
 */
export function alreadyExistsOn(constraints: readonly string[], message: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof DatabaseError && error.code === '23505' && constraints.includes(error.constraint ?? '')) {
      throw new KmsError('AlreadyExistsException', message);
    }
    throw error;
  };
}
