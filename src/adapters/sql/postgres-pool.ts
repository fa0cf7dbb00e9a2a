import pg from 'pg';
import { KmsError, isKmsError } from '../../domain/errors.js';
import { storeTypes } from './postgres-rows.js';

/**
 * How long p11kms waits for PostgreSQL (issue 7, "Faults"). While the database is down or stuck,
 * a request fails within these bounds with a retryable error instead of hanging past its deadline.
 */
export interface PostgresTimeouts {
  /** Waiting for a pooled connection, or for a new one to open; default 2000 ms. */
  readonly connectionTimeoutMs?: number;
  /** Server side: a statement running longer is cancelled (statement_timeout); default 5000 ms. */
  readonly statementTimeoutMs?: number;
  /** Server side: waiting longer for a row or advisory lock fails (lock_timeout); default 3000 ms. */
  readonly lockTimeoutMs?: number;
  /** Client side: no answer at all (a silent network) fails the query; default 7000 ms. */
  readonly queryTimeoutMs?: number;
}

export interface PostgresPoolOptions extends PostgresTimeouts {
  readonly maxConnections?: number;
  readonly applicationName?: string;
  /** An idle pooled connection broke; the pool drops it and opens another on demand. */
  readonly onIdleConnectionError?: (error: Error) => void;
}

export const DEFAULT_POSTGRES_TIMEOUTS: Required<PostgresTimeouts> = {
  connectionTimeoutMs: 2000,
  statementTimeoutMs: 5000,
  lockTimeoutMs: 3000,
  queryTimeoutMs: 7000,
};

/** A pool with the store's type parsers and every timeout set. */
export function createPostgresPool(connectionString: string, options: PostgresPoolOptions = {}): pg.Pool {
  const timeouts = { ...DEFAULT_POSTGRES_TIMEOUTS, ...definedOnly(options) };
  const pool = new pg.Pool({
    connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: timeouts.connectionTimeoutMs,
    statement_timeout: timeouts.statementTimeoutMs,
    lock_timeout: timeouts.lockTimeoutMs,
    query_timeout: timeouts.queryTimeoutMs,
    // A transaction left open by a dead client must not hold row locks for long.
    idle_in_transaction_session_timeout: timeouts.queryTimeoutMs * 2,
    keepAlive: true,
    application_name: options.applicationName ?? 'p11kms',
    types: storeTypes(),
  });
  pool.on('error', options.onIdleConnectionError ?? (() => undefined));
  return pool;
}

function definedOnly(options: PostgresTimeouts): PostgresTimeouts {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as PostgresTimeouts;
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const UNAVAILABLE_MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /Connection terminated/i,
  /Query read timeout/i,
  /not queryable/i,
  /Connection ended/i,
  /Client was closed/i,
];

/**
 * Whether `error` says PostgreSQL is unreachable, restarting or too slow, rather than that the
 * request is wrong: SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, crash,
 * starting up), 57014 (statement_timeout), 55P03 (lock_timeout), 53300 (too many connections),
 * 40001/40P01 (serialization failure, deadlock), and the driver's own connection errors.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNAVAILABLE_CODES.has(code)) return true;
    if (code.startsWith('08') || ['57P01', '57P02', '57P03', '57014', '55P03', '53300', '40001', '40P01'].includes(code)) {
      return true;
    }
  }
  return UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(error.message));
}

/**
 * AWS KMS answers DependencyTimeoutException ("the system timed out while trying to fulfill the
 * request; the request can be retried") when a dependency does not answer: the transport maps it to
 * UNAVAILABLE, which gRPC clients treat as retryable. The message names no host or query.
 */
export function dependencyUnavailable(): KmsError {
  return new KmsError(
    'DependencyTimeoutException',
    'The key metadata database is not available; the request was not carried out. Retry it.',
  );
}

function mapError(error: unknown): never {
  if (!isKmsError(error) && isDatabaseUnavailable(error)) throw dependencyUnavailable();
  throw error;
}

/**
 * `target` with every promise-returning method's database unavailability turned into
 * DependencyTimeoutException; KmsErrors and other errors pass unchanged. One place instead of a
 * catch in each of the store's sixty methods.
 */
export function withDependencyErrors<T extends object>(target: T): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(object, args);
        } catch (error) {
          mapError(error);
        }
        return result instanceof Promise ? result.catch(mapError) : result;
      };
    },
  });
}
