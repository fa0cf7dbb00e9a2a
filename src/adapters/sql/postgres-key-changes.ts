import pg from 'pg';
import type { KeyChangeFeed, KeyChangeSubscriber } from '../cache/caching-metadata-store.js';
import { KEY_CHANGES_CHANNEL } from './postgres-migrations.js';

export interface KeyChangeListenerOptions {
  /**
   * The staleness bound: cached entries are served only while a round trip on the LISTEN
   * connection that *started* less than this long ago has completed. Default 750 ms.
   */
  readonly stalenessMs?: number;
  /** How often that round trip runs; default stalenessMs / 4. */
  readonly heartbeatMs?: number;
  readonly logger?: { warn(fields: object, message: string): void; info(fields: object, message: string): void };
}

/**
 * The cross-replica half of the metadata cache (issue 7, item 3): one dedicated connection that
 * LISTENs on KEY_CHANGES_CHANNEL, where triggers (migration 4) NOTIFY the id of every key whose
 * metadata a transaction changed, delivered right after that commit.
 *
 * The bound, and why it holds: PostgreSQL sends a listening session the notifications committed
 * before it answers a later query on that session, and the driver hands them over in socket order.
 * So when a heartbeat `SELECT 1` started at time T has been answered, every change committed
 * before T has been applied to the cache. The feed counts as live only while such a T is less
 * than `stalenessMs` old; otherwise (a silent network, a stalled database, a lost connection) the
 * cache serves nothing from memory. Hence: a change committed on any replica at time W is seen by
 * every replica's cache for every request that starts after W + stalenessMs — in practice within
 * milliseconds, when the notification arrives. A lost connection drops the whole cache (changes may
 * have been missed) and is reopened with backoff.
 */
export class PostgresKeyChangeListener implements KeyChangeFeed {
  readonly #subscribers: KeyChangeSubscriber[] = [];
  readonly #stalenessMs: number;
  readonly #heartbeatMs: number;
  #client: pg.Client | undefined;
  #confirmedAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #heartbeatInFlight = false;
  #closed = false;
  #reconnecting: Promise<void> | undefined;

  private constructor(
    private readonly connectionString: string,
    private readonly options: KeyChangeListenerOptions,
  ) {
    this.#stalenessMs = options.stalenessMs ?? 750;
    this.#heartbeatMs = options.heartbeatMs ?? Math.max(20, Math.floor(this.#stalenessMs / 4));
  }

  /** Starts listening; resolves once the first LISTEN is in place (or the first attempt failed: it keeps retrying). */
  static async start(connectionString: string, options: KeyChangeListenerOptions = {}): Promise<PostgresKeyChangeListener> {
    const listener = new PostgresKeyChangeListener(connectionString, options);
    await listener.#connect().catch(() => listener.#scheduleReconnect());
    listener.#timer = setInterval(() => listener.#heartbeat(), listener.#heartbeatMs);
    listener.#timer.unref();
    return listener;
  }

  get stalenessMs(): number {
    return this.#stalenessMs;
  }

  isLive(): boolean {
    return this.#client !== undefined && performance.now() - this.#confirmedAt < this.#stalenessMs;
  }

  subscribe(subscriber: KeyChangeSubscriber): void {
    this.#subscribers.push(subscriber);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      connectionTimeoutMillis: 2000,
      query_timeout: Math.max(2000, this.#stalenessMs * 2),
      keepAlive: true,
      application_name: 'p11kms-cache-listener',
    });
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('the LISTEN connection ended')));
    client.on('notification', (message) => {
      if (message.channel !== KEY_CHANGES_CHANNEL || !message.payload) return;
      for (const subscriber of this.#subscribers) subscriber.keyChanged(message.payload);
    });
    await client.connect();
    try {
      const started = performance.now();
      await client.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
      if (this.#closed) {
        await client.end();
        return;
      }
      // Anything may have changed while we were not listening.
      for (const subscriber of this.#subscribers) subscriber.reset();
      this.#client = client;
      this.#confirmedAt = started;
      this.options.logger?.info({}, 'key metadata cache: listening for changes');
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  #heartbeat(): void {
    const client = this.#client;
    if (client === undefined || this.#heartbeatInFlight || this.#closed) return;
    this.#heartbeatInFlight = true;
    const started = performance.now();
    client
      .query('SELECT 1')
      .then(() => {
        if (this.#client === client) this.#confirmedAt = Math.max(this.#confirmedAt, started);
      })
      .catch((error: Error) => this.#lost(client, error))
      .finally(() => (this.#heartbeatInFlight = false));
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    for (const subscriber of this.#subscribers) subscriber.reset();
    this.options.logger?.warn({ err: error }, 'key metadata cache: LISTEN connection lost; cache dropped, reconnecting');
    void client.end().catch(() => undefined);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnecting) return;
    this.#reconnecting = (async () => {
      for (let delay = 100; !this.#closed && this.#client === undefined; delay = Math.min(delay * 2, 2000)) {
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        if (this.#closed) return;
        try {
          await this.#connect();
        } catch {
          // PostgreSQL still unreachable: try again later.
        }
      }
    })().finally(() => (this.#reconnecting = undefined));
  }
}
