import type { KeyRecord, KeyState, KeyVersion, Tag } from '../../domain/key.js';
import type { Awaitable } from '../../ports/awaitable.js';
import type {
  AliasRecord,
  GrantLimits,
  GrantRecord,
  KeyMaterialIntent,
  KeyRotationRecord,
  KeyVersionRotation,
  ListAliasesQuery,
  ListGrantsQuery,
  ListKeysQuery,
  MetadataStore,
  NewAlias,
  NewKey,
  Page,
  PageQuery,
  RotationSchedule,
} from '../../ports/metadata-store.js';

/**
 * Tells a cache which keys changed elsewhere (another replica, the scheduler of another process)
 * and whether it is safe to serve cached entries at all.
 */
export interface KeyChangeFeed {
  /**
   * True while every change committed more than the feed's bound ago has been delivered to the
   * subscriber. False when the feed lost its source (e.g. the LISTEN connection): then the cache
   * serves nothing from memory until the feed is live again.
   */
  isLive(): boolean;
  subscribe(subscriber: KeyChangeSubscriber): void;
}

export interface KeyChangeSubscriber {
  /** Everything cached about this key may be stale. */
  keyChanged(keyId: string): void;
  /** Changes may have been missed (the feed reconnected): everything cached may be stale. */
  reset(): void;
}

/** One process owns the database (SQLite): its own writes are the only changes, and they invalidate directly. */
export const IN_PROCESS_ONLY: KeyChangeFeed = { isLive: () => true, subscribe: () => undefined };

export interface MetadataCacheStats {
  hits: number;
  misses: number;
  invalidations: number;
  resets: number;
}

/** What is cached of one key: what the pipeline reads on every request naming it. */
interface KeyEntries {
  key?: KeyRecord;
  versions?: Map<string, KeyVersion>;
  policy?: { value: string | undefined };
  grants?: GrantRecord[];
  aliases?: AliasRecord[];
  tags?: Tag[];
}

/**
 * Keys whose entries are kept; past it the oldest key's entries are dropped. Emptying the whole
 * cache when it filled made a service with just over 10,000 keys in use (the benchmark's scale
 * case) miss on every request.
 */
const DEFAULT_MAX_KEYS = 50_000;

/**
 * A per-replica cache of key metadata in front of a MetadataStore (issue 7, item 3), so that the
 * hot path (resolve the key or alias, read its policy, grants, aliases and tags for the condition
 * keys, find the key version of a ciphertext) does not query the database on every request.
 *
 * Correctness before hit rate:
 *  - Writes through this store drop the key's entries as soon as they return (or fail: a write that
 *    timed out may still have committed), so this replica sees its own writes at once.
 *  - Changes made elsewhere arrive through the KeyChangeFeed (PostgreSQL LISTEN/NOTIFY from
 *    triggers, so every committed change is announced, whoever made it) and drop the same entries.
 *  - A read that was in flight while any invalidation arrived does not fill the cache (a generation
 *    counter): it may have read the row before the change and would otherwise pin the old value.
 *  - While the feed is not live (its connection lost, or not confirmed within its bound), nothing
 *    is served from memory; when it comes back, the whole cache is dropped.
 *  - Only things that exist are cached, except per-key listings (a key's grants, tags, aliases,
 *    policy), which the key's own invalidation covers. An unknown key, alias or grant token is
 *    always asked of the database, so something created on another replica works there at once.
 * Scheduled rotation and deletion write through the same store and trigger the same notifications.
 */
export class CachingMetadataStore implements MetadataStore {
  readonly stats: MetadataCacheStats = { hits: 0, misses: 0, invalidations: 0, resets: 0 };
  readonly #byKey = new Map<string, KeyEntries>();
  /** `${account}\0${aliasName}` → alias. */
  readonly #aliases = new Map<string, AliasRecord>();
  readonly #grantsByToken = new Map<string, GrantRecord>();
  #generation = 0;
  #wasLive = true;
  readonly #maxKeys: number;

  constructor(
    private readonly inner: MetadataStore,
    private readonly feed: KeyChangeFeed = IN_PROCESS_ONLY,
    options: { readonly maxKeys?: number } = {},
  ) {
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    feed.subscribe({ keyChanged: (keyId) => this.invalidate(keyId), reset: () => this.clear() });
  }

  /** Drops everything cached about `keyId` (and aliases and grant tokens that lead to it). */
  invalidate(keyId: string): void {
    this.#generation++;
    this.stats.invalidations++;
    this.#byKey.delete(keyId);
    for (const [name, alias] of this.#aliases) if (alias.keyId === keyId) this.#aliases.delete(name);
    for (const [token, grant] of this.#grantsByToken) if (grant.keyId === keyId) this.#grantsByToken.delete(token);
  }

  clear(): void {
    this.#generation++;
    this.stats.resets++;
    this.#byKey.clear();
    this.#aliases.clear();
    this.#grantsByToken.clear();
  }

  // Cached reads.

  // A hit answers with the value itself: these reads run several times per request, and the
  // pipeline awaits only what is not there yet (an await costs a promise and a microtask turn).

  getKey(keyId: string): Awaitable<KeyRecord | undefined> {
    const hit = this.#entries(keyId)?.key;
    if (hit !== undefined) return this.#hit(hit);
    return this.#miss(keyId, () => this.inner.getKey(keyId), (entries, key) => key && (entries.key = key));
  }

  getKeyVersion(keyId: string, versionId: string): Awaitable<KeyVersion | undefined> {
    const hit = this.#entries(keyId)?.versions?.get(versionId);
    if (hit !== undefined) return this.#hit(hit);
    return this.#miss(
      keyId,
      () => this.inner.getKeyVersion(keyId, versionId),
      (entries, version) => version && (entries.versions ??= new Map()).set(versionId, version),
    );
  }

  getKeyPolicy(keyId: string): Awaitable<string | undefined> {
    const hit = this.#entries(keyId)?.policy;
    if (hit !== undefined) return this.#hit(hit).value;
    return this.#miss(
      keyId,
      async () => ({ value: await this.inner.getKeyPolicy(keyId) }),
      (entries, value) => (entries.policy = value),
    ).then((policy) => policy.value);
  }

  grantsForKey(keyId: string): Awaitable<GrantRecord[]> {
    const hit = this.#entries(keyId)?.grants;
    if (hit !== undefined) return this.#hit(hit);
    return this.#miss(keyId, () => this.inner.grantsForKey(keyId), (entries, grants) => (entries.grants = grants));
  }

  listAliasesForKey(keyId: string): Awaitable<AliasRecord[]> {
    const hit = this.#entries(keyId)?.aliases;
    if (hit !== undefined) return this.#hit(hit);
    return this.#miss(keyId, () => this.inner.listAliasesForKey(keyId), (entries, aliases) => (entries.aliases = aliases));
  }

  listTags(keyId: string): Awaitable<Tag[]> {
    const hit = this.#entries(keyId)?.tags;
    if (hit !== undefined) return this.#hit(hit);
    return this.#miss(keyId, () => this.inner.listTags(keyId), (entries, tags) => (entries.tags = tags));
  }

  getAlias(account: string, aliasName: string): Awaitable<AliasRecord | undefined> {
    const name = `${account}\0${aliasName}`;
    const hit = this.#live() ? this.#aliases.get(name) : undefined;
    if (hit) return this.#hit(hit);
    return this.#missAlias(name, account, aliasName);
  }

  async #missAlias(name: string, account: string, aliasName: string): Promise<AliasRecord | undefined> {
    this.stats.misses++;
    const generation = this.#generation;
    const alias = await this.inner.getAlias(account, aliasName);
    if (alias && this.#mayFill(generation)) this.#aliases.set(name, alias);
    return alias;
  }

  async getGrantByToken(grantToken: string): Promise<GrantRecord | undefined> {
    if (this.#live()) {
      const hit = this.#grantsByToken.get(grantToken);
      if (hit) {
        this.stats.hits++;
        return hit;
      }
    }
    this.stats.misses++;
    const generation = this.#generation;
    const grant = await this.inner.getGrantByToken(grantToken);
    if (grant && this.#mayFill(generation)) this.#grantsByToken.set(grantToken, grant);
    return grant;
  }

  // Writes: the key's entries go as soon as the write settles, whether it succeeded or not.

  async createKey(newKey: NewKey): Promise<void> {
    await this.#writing([newKey.key.id], () => this.inner.createKey(newKey));
    await this.#warm(newKey.key.id, newKey.version.id);
  }
  setKeyState(keyId: string, state: KeyState): Promise<KeyRecord | undefined> {
    return this.#writing([keyId], () => this.inner.setKeyState(keyId, state));
  }
  updateDescription(keyId: string, description: string): Promise<KeyRecord> {
    return this.#writing([keyId], () => this.inner.updateDescription(keyId, description));
  }
  tagResource(keyId: string, tags: readonly Tag[]): Promise<void> {
    return this.#writing([keyId], () => this.inner.tagResource(keyId, tags));
  }
  untagResource(keyId: string, tagKeys: readonly string[]): Promise<void> {
    return this.#writing([keyId], () => this.inner.untagResource(keyId, tagKeys));
  }
  createAlias(alias: NewAlias): Promise<AliasRecord> {
    return this.#writing([alias.keyId], () => this.inner.createAlias(alias));
  }
  async updateAlias(account: string, aliasName: string, keyId: string, now: Date): Promise<AliasRecord> {
    const before = await this.inner.getAlias(account, aliasName);
    return this.#writing([keyId, ...(before ? [before.keyId] : [])], () =>
      this.inner.updateAlias(account, aliasName, keyId, now),
    );
  }
  async deleteAlias(account: string, aliasName: string): Promise<boolean> {
    const before = await this.inner.getAlias(account, aliasName);
    this.#aliases.delete(`${account}\0${aliasName}`);
    return this.#writing(before ? [before.keyId] : [], () => this.inner.deleteAlias(account, aliasName));
  }
  addKeyVersion(keyId: string, version: KeyVersion, rotation: KeyVersionRotation): Promise<KeyRecord> {
    return this.#writing([keyId], () => this.inner.addKeyVersion(keyId, version, rotation));
  }
  setRotation(keyId: string, schedule: RotationSchedule): Promise<void> {
    return this.#writing([keyId], () => this.inner.setRotation(keyId, schedule));
  }
  scheduleKeyDeletion(keyId: string, deletionDate: Date): Promise<KeyRecord> {
    return this.#writing([keyId], () => this.inner.scheduleKeyDeletion(keyId, deletionDate));
  }
  cancelKeyDeletion(keyId: string, now: Date): Promise<KeyRecord> {
    return this.#writing([keyId], () => this.inner.cancelKeyDeletion(keyId, now));
  }
  deleteKeyMetadata(keyId: string): Promise<boolean> {
    return this.#writing([keyId], () => this.inner.deleteKeyMetadata(keyId));
  }
  putKeyPolicy(keyId: string, policy: string): Promise<void> {
    return this.#writing([keyId], () => this.inner.putKeyPolicy(keyId, policy));
  }
  createGrant(grant: GrantRecord, limits: GrantLimits): Promise<GrantRecord> {
    return this.#writing([grant.keyId], () => this.inner.createGrant(grant, limits));
  }
  deleteGrant(keyId: string, grantId: string): Promise<boolean> {
    return this.#writing([keyId], () => this.inner.deleteGrant(keyId, grantId));
  }

  // Listings and scheduler queries: rarely on the hot path, always from the database.

  listKeyVersions(keyId: string): Promise<KeyVersion[]> {
    return this.inner.listKeyVersions(keyId);
  }
  listKeys(query: ListKeysQuery): Promise<Page<KeyRecord>> {
    return this.inner.listKeys(query);
  }
  listAliases(query: ListAliasesQuery): Promise<Page<AliasRecord>> {
    return this.inner.listAliases(query);
  }
  listKeyRotations(keyId: string, page: PageQuery): Promise<Page<KeyRotationRecord>> {
    return this.inner.listKeyRotations(keyId, page);
  }
  countOnDemandRotations(keyId: string): Promise<number> {
    return this.inner.countOnDemandRotations(keyId);
  }
  getRotation(keyId: string): Promise<RotationSchedule | undefined> {
    return this.inner.getRotation(keyId);
  }
  listKeysDueForRotation(now: Date, limit: number): Promise<string[]> {
    return this.inner.listKeysDueForRotation(now, limit);
  }
  listKeysDueForDeletion(now: Date, limit: number): Promise<string[]> {
    return this.inner.listKeysDueForDeletion(now, limit);
  }
  findGrantsByName(keyId: string, name: string): Promise<GrantRecord[]> {
    return this.inner.findGrantsByName(keyId, name);
  }
  getGrant(keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    return this.inner.getGrant(keyId, grantId);
  }
  listGrants(keyId: string, query: ListGrantsQuery): Promise<Page<GrantRecord>> {
    return this.inner.listGrants(keyId, query);
  }
  listRetirableGrants(retiringPrincipal: string, page: PageQuery): Promise<Page<GrantRecord>> {
    return this.inner.listRetirableGrants(retiringPrincipal, page);
  }

  // Key material intents name no cached record: the key's own write (createKey, addKeyVersion)
  // invalidates what it changes.

  recordKeyMaterialIntent(intent: KeyMaterialIntent): Promise<void> {
    return this.inner.recordKeyMaterialIntent(intent);
  }
  dropKeyMaterialIntent(versionId: string): Promise<void> {
    return this.inner.dropKeyMaterialIntent(versionId);
  }
  abandonKeyMaterialIntents(before: Date, limit: number): Promise<KeyMaterialIntent[]> {
    return this.inner.abandonKeyMaterialIntents(before, limit);
  }
  markKeyMaterialDestroyed(versionId: string): Promise<void> {
    return this.inner.markKeyMaterialDestroyed(versionId);
  }

  close(): Promise<void> {
    this.clear();
    return this.inner.close();
  }

  /** Serving from memory is allowed now; a feed that was down and is back first empties the cache. */
  #live(): boolean {
    const live = this.feed.isLive();
    if (live && !this.#wasLive) this.clear();
    this.#wasLive = live;
    return live;
  }

  #mayFill(generation: number): boolean {
    return generation === this.#generation && this.#live();
  }

  /** What is cached about a key, when serving from memory is allowed. */
  #entries(keyId: string): KeyEntries | undefined {
    return this.#live() ? this.#byKey.get(keyId) : undefined;
  }

  #hit<T>(value: T): T {
    this.stats.hits++;
    return value;
  }

  async #miss<T>(keyId: string, load: () => Awaitable<T>, fill: (entries: KeyEntries, value: T) => unknown): Promise<T> {
    this.stats.misses++;
    const generation = this.#generation;
    const value = await load();
    if (this.#mayFill(generation)) {
      let entries = this.#byKey.get(keyId);
      if (entries === undefined) {
        if (this.#byKey.size >= this.#maxKeys) this.#byKey.delete(this.#byKey.keys().next().value!);
        this.#byKey.set(keyId, (entries = {}));
      }
      fill(entries, value);
    }
    return value;
  }

  /**
   * Reads a key just created through the cached reads, so the cache holds what the database holds
   * and the key's first request finds it there. Without it, a key's first request read its key,
   * version, policy, grants, aliases and tags (five queries): with 10,000 keys each used about once
   * per bench cell, ~10% of the event loop's samples. A failed read only leaves the cache cold.
   */
  async #warm(keyId: string, versionId: string): Promise<void> {
    await Promise.all([
      this.getKey(keyId),
      this.getKeyVersion(keyId, versionId),
      this.getKeyPolicy(keyId),
      this.grantsForKey(keyId),
      this.listAliasesForKey(keyId),
      this.listTags(keyId),
    ]).catch(() => undefined);
  }

  async #writing<T>(keyIds: readonly string[], write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      for (const keyId of keyIds) this.invalidate(keyId);
    }
  }
}
