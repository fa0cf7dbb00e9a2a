import type { KeyRecord, KeyVersion } from '../../domain/key.js';
import type { Awaitable } from '../../ports/awaitable.js';
import type {
  AliasRecord,
  AliasStore,
  GrantLimits,
  GrantRecord,
  GrantStore,
  KeyDeletionStore,
  KeyMaterialIntent,
  KeyMaterialIntentStore,
  KeyPolicyStore,
  KeyRotationRecord,
  KeyRotationStore,
  KeyVersionRotation,
  ListAliasesQuery,
  ListGrantsQuery,
  NewAlias,
  Page,
  PageQuery,
  RotationSchedule,
} from '../../ports/metadata-store.js';

/** The parts of a MetadataStore that each SQL dialect implements in a module of its own. */
export interface StoreAreas {
  readonly aliases: AliasStore;
  readonly rotation: KeyRotationStore;
  readonly deletion: KeyDeletionStore;
  readonly keyMaterial: KeyMaterialIntentStore;
  readonly policies: KeyPolicyStore;
  readonly grants: GrantStore;
}

/**
 * Forwards each area's methods to its module (sqlite-aliases.ts, postgres-grants.ts …), so both
 * stores keep only what differs between the dialects: keys, versions, tags, and opening.
 */
export abstract class AreaDelegatingStore<Areas extends StoreAreas>
  implements AliasStore, KeyRotationStore, KeyDeletionStore, KeyMaterialIntentStore, KeyPolicyStore, GrantStore
{
  protected constructor(protected readonly areas: Areas) {}

  // Aliases.
  createAlias(alias: NewAlias): Promise<AliasRecord> {
    return this.areas.aliases.createAlias(alias);
  }
  updateAlias(account: string, aliasName: string, keyId: string, now: Date): Promise<AliasRecord> {
    return this.areas.aliases.updateAlias(account, aliasName, keyId, now);
  }
  deleteAlias(account: string, aliasName: string): Promise<boolean> {
    return this.areas.aliases.deleteAlias(account, aliasName);
  }
  getAlias(account: string, aliasName: string): Awaitable<AliasRecord | undefined> {
    return this.areas.aliases.getAlias(account, aliasName);
  }
  listAliases(query: ListAliasesQuery): Promise<Page<AliasRecord>> {
    return this.areas.aliases.listAliases(query);
  }
  listAliasesForKey(keyId: string): Awaitable<AliasRecord[]> {
    return this.areas.aliases.listAliasesForKey(keyId);
  }

  // Versions, rotations and the rotation schedule.
  addKeyVersion(keyId: string, version: KeyVersion, rotation: KeyVersionRotation): Promise<KeyRecord> {
    return this.areas.rotation.addKeyVersion(keyId, version, rotation);
  }
  listKeyRotations(keyId: string, page: PageQuery): Promise<Page<KeyRotationRecord>> {
    return this.areas.rotation.listKeyRotations(keyId, page);
  }
  countOnDemandRotations(keyId: string): Promise<number> {
    return this.areas.rotation.countOnDemandRotations(keyId);
  }
  setRotation(keyId: string, schedule: RotationSchedule): Promise<void> {
    return this.areas.rotation.setRotation(keyId, schedule);
  }
  getRotation(keyId: string): Promise<RotationSchedule | undefined> {
    return this.areas.rotation.getRotation(keyId);
  }
  listKeysDueForRotation(now: Date, limit: number): Promise<string[]> {
    return this.areas.rotation.listKeysDueForRotation(now, limit);
  }

  // Scheduled deletion.
  scheduleKeyDeletion(keyId: string, deletionDate: Date): Promise<KeyRecord> {
    return this.areas.deletion.scheduleKeyDeletion(keyId, deletionDate);
  }
  cancelKeyDeletion(keyId: string, now: Date): Promise<KeyRecord> {
    return this.areas.deletion.cancelKeyDeletion(keyId, now);
  }
  listKeysDueForDeletion(now: Date, limit: number): Promise<string[]> {
    return this.areas.deletion.listKeysDueForDeletion(now, limit);
  }
  deleteKeyMetadata(keyId: string): Promise<boolean> {
    return this.areas.deletion.deleteKeyMetadata(keyId);
  }

  // Key material intents.
  recordKeyMaterialIntent(intent: KeyMaterialIntent): Promise<void> {
    return this.areas.keyMaterial.recordKeyMaterialIntent(intent);
  }
  dropKeyMaterialIntent(versionId: string): Promise<void> {
    return this.areas.keyMaterial.dropKeyMaterialIntent(versionId);
  }
  abandonKeyMaterialIntents(before: Date, limit: number): Promise<KeyMaterialIntent[]> {
    return this.areas.keyMaterial.abandonKeyMaterialIntents(before, limit);
  }
  markKeyMaterialDestroyed(versionId: string): Promise<void> {
    return this.areas.keyMaterial.markKeyMaterialDestroyed(versionId);
  }

  // Key policies.
  getKeyPolicy(keyId: string): Awaitable<string | undefined> {
    return this.areas.policies.getKeyPolicy(keyId);
  }
  putKeyPolicy(keyId: string, policy: string): Promise<void> {
    return this.areas.policies.putKeyPolicy(keyId, policy);
  }

  // Grants.
  createGrant(grant: GrantRecord, limits: GrantLimits): Promise<GrantRecord> {
    return this.areas.grants.createGrant(grant, limits);
  }
  findGrantsByName(keyId: string, name: string): Promise<GrantRecord[]> {
    return this.areas.grants.findGrantsByName(keyId, name);
  }
  getGrant(keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    return this.areas.grants.getGrant(keyId, grantId);
  }
  getGrantByToken(grantToken: string): Promise<GrantRecord | undefined> {
    return this.areas.grants.getGrantByToken(grantToken);
  }
  grantsForKey(keyId: string): Awaitable<GrantRecord[]> {
    return this.areas.grants.grantsForKey(keyId);
  }
  listGrants(keyId: string, query: ListGrantsQuery): Promise<Page<GrantRecord>> {
    return this.areas.grants.listGrants(keyId, query);
  }
  listRetirableGrants(retiringPrincipal: string, page: PageQuery): Promise<Page<GrantRecord>> {
    return this.areas.grants.listRetirableGrants(retiringPrincipal, page);
  }
  deleteGrant(keyId: string, grantId: string): Promise<boolean> {
    return this.areas.grants.deleteGrant(keyId, grantId);
  }
}
