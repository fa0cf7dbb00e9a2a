import pg from 'pg';
import type { LeaderElection } from '../../scheduler/leader-election.js';
import { LEADER_LOCK_KEY } from './postgres-migrations.js';

export interface PostgresLeaderElectionOptions {
  /** How often a follower tries the lock and the leader checks its session; default 2000 ms. */
  readonly pollMs?: number;
  readonly logger?: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
}

/**
 * Leader election among replicas sharing a PostgreSQL database: the leader is whoever holds the
 * session-level advisory lock LEADER_LOCK_KEY on its own dedicated connection. PostgreSQL releases
 * it when that session ends — the process died, was SIGKILLed, or lost the network (TCP keepalive,
 * or the next heartbeat failing) — and a follower's next `pg_try_advisory_lock` (every `pollMs`)
 * takes over. The leader checks its session every `pollMs` and steps down when the check fails,
 * so two leaders can overlap for at most about one poll after a network cut; the work they run is
 * safe to repeat (the store refuses a rotation that is no longer due and a deletion already done).
 */
export class PostgresLeaderElection implements LeaderElection {
  #client: pg.Client | undefined;
  #leader = false;
  readonly #listeners: Array<(leader: boolean) => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #closed = false;

  private constructor(
    private readonly connectionString: string,
    private readonly options: PostgresLeaderElectionOptions,
  ) {}

  static start(connectionString: string, options: PostgresLeaderElectionOptions = {}): PostgresLeaderElection {
    const election = new PostgresLeaderElection(connectionString, options);
    election.#timer = setInterval(() => void election.#campaign(), options.pollMs ?? 2000);
    election.#timer.unref();
    void election.#campaign();
    return election;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  onChange(listener: (leader: boolean) => void): void {
    this.#listeners.push(listener);
    if (this.#leader) queueMicrotask(() => listener(true));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((resolve) => setTimeout(resolve, 10));
    const client = this.#client;
    this.#client = undefined;
    this.#set(false);
    if (client) {
      await client.query(`SELECT pg_advisory_unlock(${LEADER_LOCK_KEY})`).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }

  async #campaign(): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      if (this.#client === undefined) this.#client = await this.#connect();
      if (this.#leader) {
        await this.#client.query('SELECT 1');
      } else {
        const { rows } = await this.#client.query<{ locked: boolean }>(
          `SELECT pg_try_advisory_lock(${LEADER_LOCK_KEY}) AS locked`,
        );
        if (rows[0]?.locked && !this.#closed) {
          this.options.logger?.info({}, 'leader: this replica runs the scheduler and the checkpointer');
          this.#set(true);
        }
      }
    } catch (error) {
      this.#drop(error as Error);
    } finally {
      this.#busy = false;
    }
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      connectionTimeoutMillis: 2000,
      query_timeout: 5000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 1000,
      application_name: 'p11kms-leader-election',
    });
    client.on('error', (error) => {
      if (this.#client === client) this.#drop(error);
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  /** The session is gone or unusable: whatever lock it held is released with it. */
  #drop(error: Error): void {
    const client = this.#client;
    this.#client = undefined;
    void client?.end().catch(() => undefined);
    if (this.#leader) this.options.logger?.warn({ err: error }, 'leader: lost the leader session; stepping down');
    this.#set(false);
  }

  #set(leader: boolean): void {
    if (this.#leader === leader) return;
    this.#leader = leader;
    for (const listener of this.#listeners) listener(leader);
  }
}

/**
 * Runs `work` while holding a session advisory lock on a connection of its own: replicas starting
 * together do one-time set-up (e.g. creating the audit key in a shared token) one at a time.
 */
export async function withPostgresLock<T>(connectionString: string, key: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000, application_name: 'p11kms-setup' });
  await client.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(${key})`);
    try {
      return await work();
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${key})`).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
