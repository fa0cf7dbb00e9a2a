import { performance } from 'node:perf_hooks';
import { KmsError, isKmsError } from '../domain/errors.js';
import { parseKeyReference, type KeyReference } from '../domain/ids.js';
import type { KeyRecord, Tag } from '../domain/key.js';
import { boundedMemo } from '../domain/memo.js';
import { checkKeyState } from '../domain/key-state-rules.js';
import { parsePrincipal, type Principal } from '../domain/principal.js';
import type { AuditEvent, AuditSink } from '../ports/audit-sink.js';
import { type Awaitable, isPromise } from '../ports/awaitable.js';
import type { AliasRecord } from '../ports/metadata-store.js';
import type { AuthorizationDecision, Authorizer, ConditionKeys } from '../ports/authorizer.js';
import type { AnyOperation, Caller, KeyRequirement, OperationContext, OperationServices, RequestConditions } from '../operations/operation.js';
import { holdsSecret, wipeSecrets } from '../domain/secret-fields.js';
import { DryRunHsm } from './dry-run.js';
import { callerConditions, encryptionContextConditions, keyConditions } from './request-conditions.js';

/** What the transport knows about a request before any handler runs. */
export interface RequestEnvelope {
  readonly requestId: string;
  /** URI SANs of the verified client certificate; empty when the peer presented none. */
  readonly peerIdentities: readonly string[];
  readonly sourceAddress: string;
  /** The end user a trusted service principal calls for (issue 5, "on behalf of"). */
  readonly onBehalfOf?: string | undefined;
}

export interface PipelineLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface PipelineDependencies {
  readonly services: OperationServices;
  readonly authorizer: Authorizer;
  readonly audit: AuditSink;
  readonly logger: PipelineLogger;
  /** The account of callers that have none of their own (service principals). */
  readonly defaultAccount: string;
  /** Whether a service principal may call on behalf of the users it names. */
  readonly trustsOnBehalfOf: (servicePrincipal: string) => boolean;
}

interface Identity {
  readonly principal: Principal;
  /** kms:ViaService: the service that called on the principal's behalf. */
  readonly viaService: string | undefined;
}

interface ResolvedKey {
  readonly key: KeyRecord;
  /** The alias the caller named the key by (kms:RequestAlias). */
  readonly alias: string | undefined;
}

/**
 * One request, one direction (DESIGN.md): authenticate → validate → resolve → authorize →
 * check state and usage → run, with exactly one audit record written before the answer leaves,
 * whatever the outcome. The same path for every operation.
 */
export class Pipeline {
  /**
   * Parsed principals by certificate URI SAN. One object per caller, so that what is derived from
   * a principal (policy layers, condition keys) is derived once (WeakMaps in src/policy).
   */
  private readonly principal = boundedMemo(parsePrincipal);

  constructor(private readonly deps: PipelineDependencies) {}

  async execute<Res>(operation: AnyOperation, request: unknown, envelope: RequestEnvelope): Promise<Res> {
    const started = performance.now();
    const keyArns: string[] = [];
    let identity: Identity | undefined;
    let decision: AuthorizationDecision | undefined;
    let parameters: Record<string, unknown> = {};
    let outcome = 'Success';
    let result: unknown;
    const dryRun = operation.dryRun === true && (request as { dryRun?: unknown }).dryRun === true;
    try {
      identity = this.authenticate(envelope);
      parameters = operation.audit?.(request) ?? {};
      if (dryRun) parameters = { ...parameters, ...dryRunParameters(request) };
      operation.validate?.(request);
      const account = identity.principal.account ?? this.deps.defaultAccount;

      const requirements = requirementsOf(operation);
      const resolved: Record<string, ResolvedKey> = {};
      // A value that is already there is used as it is: an await costs a promise and a turn of
      // the microtask queue even then, and most of these answer at once.
      for (const { name, requirement } of requirements) {
        const reference = requirement.ref(request, this.deps.services.store);
        const key = this.resolve(isPromise(reference) ? await reference : reference, requirement.field, account);
        resolved[name] = isPromise(key) ? await key : key;
        keyArns.push(resolved[name].key.arn);
        if (requirement.mustMatch) await this.checkMatch(resolved[name].key, requirement, request, account);
      }
      const keys: Record<string, KeyRecord> = {};
      for (const { name } of requirements) keys[name] = resolved[name]!.key;
      const found = operation.conditions?.(request, keys, this.deps.services.store);
      const own = (isPromise(found) ? await found : found) ?? NO_CONDITIONS;
      const grantTokens = (request as { grantTokens?: readonly string[] }).grantTokens;
      // Most requests carry none, and then there is nothing (and no promise) to wait for.
      if (grantTokens?.length) await this.checkGrantTokens(grantTokens);
      const conditions: ConditionKeys = Object.assign(
        callerConditions({
          principal: identity.principal,
          callerAccount: account,
          sourceAddress: envelope.sourceAddress,
          now: this.deps.services.clock.now(),
          viaService: identity.viaService,
        }),
        encryptionContextConditions(own.encryptionContext),
        own.keys,
      );
      const caller: Caller = { requestId: envelope.requestId, principal: identity.principal, account, conditions };

      for (const { name, requirement } of requirements) {
        const { key, alias } = resolved[name]!;
        const made = this.keyConditionKeys(key, alias);
        const keyConditionKeys = isPromise(made) ? await made : made;
        const decided = this.decide(caller, requirement.action, key, conditions, own, keyConditionKeys);
        decision = isPromise(decided) ? await decided : decided;
        if (!decision.allowed) throw this.denied(caller, requirement.action, key, decision);
      }
      if (requirements.length === 0) {
        const action = operation.action ?? '';
        decision = await this.decide(caller, action, undefined, conditions, own);
        if (!decision.allowed) throw this.denied(caller, action, undefined, decision);
      }
      for (const { name, requirement } of requirements) checkStateAndUsage(resolved[name]!.key, requirement);

      result = await operation.run(request, operationContext(this.deps.services, caller, keys, dryRun));
      const resultKeyArns = operation.resultKeyArns?.(result);
      if (resultKeyArns) keyArns.push(...resultKeyArns);
      return result as Res;
    } catch (error) {
      const failure = this.asKmsError(error, envelope.requestId, operation.name);
      outcome = failure.name;
      throw failure;
    } finally {
      await this.record({
        requestId: envelope.requestId,
        time: this.deps.services.clock.now(),
        operation: operation.name,
        principalArn: identity?.principal.arn,
        principalAccount: identity?.principal.account,
        sourceAddress: envelope.sourceAddress,
        keyArns,
        parameters: identity?.viaService ? { ...parameters, viaService: identity.viaService } : parameters,
        outcome,
        decision,
        durationMs: performance.now() - started,
      }, result);
    }
  }

  /**
   * Audit before answer, fail closed: if the record cannot be written, no plaintext leaves, and it
   * is wiped. The sink's own promise is the answer when the result holds nothing secret (Encrypt,
   * Sign, every failure…): no async frame and no handler of its own per request.
   */
  private record(event: AuditEvent, result: unknown): Promise<void> {
    let recorded: Promise<void>;
    try {
      recorded = this.deps.audit.record(event);
    } catch (error) {
      wipeSecrets(result);
      return Promise.reject(error as Error);
    }
    if (!holdsSecret(result)) return recorded;
    return recorded.catch((error: unknown) => {
      wipeSecrets(result);
      throw error;
    });
  }

  private authenticate(envelope: RequestEnvelope): Identity {
    let principal: Principal | undefined;
    for (const name of envelope.peerIdentities) if ((principal = this.principal(name))) break;
    if (!principal) {
      throw new KmsError(
        'UnrecognizedClientException',
        'The client certificate names no principal (a URI SAN holding an IAM ARN or a service principal).',
      );
    }
    if (!envelope.onBehalfOf) return { principal, viaService: undefined };
    // Only a service the configuration trusts may speak for a user, and only for a real user.
    const user = parsePrincipal(envelope.onBehalfOf);
    if (principal.kind !== 'service' || !this.deps.trustsOnBehalfOf(principal.arn)) {
      throw new KmsError('AccessDeniedException', `${principal.arn} is not trusted to call on behalf of other principals.`);
    }
    if (!user || user.kind === 'service') {
      throw new KmsError('ValidationException', 'The on-behalf-of principal must be an IAM role, user or session ARN.');
    }
    const region = this.deps.services.location.region;
    return { principal: user, viaService: principal.arn.replace(/\.amazonaws\.com$/, `.${region}.amazonaws.com`) };
  }

  /**
   * A key id, key ARN, alias name or alias ARN → the key (AWS KMS: every operation that takes a
   * key accepts all four). An alias name is looked up in the caller's account.
   */
  private resolve(reference: string | undefined, field: string, callerAccount: string): Awaitable<ResolvedKey> {
    const parsed = parseKeyReference(reference, field);
    if (parsed.kind === 'aliasName' || parsed.kind === 'aliasArn') return this.resolveAlias(parsed, reference, callerAccount);
    const key = this.deps.services.store.getKey(parsed.keyId);
    return isPromise(key) ? key.then((found) => this.named(found, parsed, reference)) : this.named(key, parsed, reference);
  }

  private async resolveAlias(
    parsed: Extract<KeyReference, { kind: 'aliasName' | 'aliasArn' }>,
    reference: string | undefined,
    callerAccount: string,
  ): Promise<ResolvedKey> {
    const { location, store } = this.deps.services;
    const account = parsed.kind === 'aliasArn' ? parsed.account : callerAccount;
    const alias =
      parsed.kind === 'aliasArn' && parsed.region !== location.region
        ? undefined
        : await store.getAlias(account, parsed.aliasName);
    const key = alias && (await store.getKey(alias.keyId));
    if (!key) throw new KmsError('NotFoundException', `Alias ${reference} is not found.`);
    return { key, alias: parsed.aliasName };
  }

  /** The key a key id or key ARN named: it must exist, and an ARN must name its region and account. */
  private named(
    key: KeyRecord | undefined,
    parsed: Extract<KeyReference, { kind: 'keyId' | 'keyArn' }>,
    reference: string | undefined,
  ): ResolvedKey {
    const { location } = this.deps.services;
    if (!key || (parsed.kind === 'keyArn' && (parsed.region !== location.region || parsed.account !== key.account))) {
      throw new KmsError('NotFoundException', `Key '${reference}' does not exist.`);
    }
    return { key, alias: undefined };
  }

  private async checkMatch(
    key: KeyRecord,
    requirement: KeyRequirement<unknown>,
    request: unknown,
    callerAccount: string,
  ): Promise<void> {
    const other = requirement.mustMatch?.ref(request);
    if (other === undefined || other === '') return;
    const named = await this.resolve(other, requirement.mustMatch!.field, callerAccount);
    if (named.key.id !== key.id) {
      throw new KmsError(
        'IncorrectKeyException',
        `The key in ${requirement.mustMatch!.field} does not match the key that encrypted the ciphertext.`,
      );
    }
  }

  /**
   * AWS KMS GrantTokens: up to 10, each naming a grant. Grants here take effect at once, so a token
   * only has to be one this service issued for a grant that still exists.
   */
  private async checkGrantTokens(tokens: readonly string[]): Promise<void> {
    if (tokens.length > 10) throw new KmsError('ValidationException', 'GrantTokens may hold at most 10 tokens.');
    for (const token of tokens) {
      if (token.length === 0 || token.length > 8192 || !(await this.deps.services.store.getGrantByToken(token))) {
        throw new KmsError('InvalidGrantTokenException', 'A grant token is not valid.');
      }
    }
  }

  /** The key's condition keys: at once when its aliases and tags are cached, else when they are read. */
  private keyConditionKeys(key: KeyRecord, alias: string | undefined): Awaitable<ConditionKeys> {
    const { store } = this.deps.services;
    const aliases = store.listAliasesForKey(key.id);
    const tags = store.listTags(key.id);
    if (!isPromise(aliases) && !isPromise(tags)) return keyConditionsOf(key, aliases, tags, alias);
    return Promise.all([aliases, tags]).then(([found, tagged]) => keyConditionsOf(key, found, tagged, alias));
  }

  private decide(
    caller: Caller,
    action: string,
    key: KeyRecord | undefined,
    conditions: ConditionKeys,
    own: RequestConditions,
    keyConditions?: ConditionKeys,
  ): Awaitable<AuthorizationDecision> {
    return this.deps.authorizer.authorize({
      principal: caller.principal,
      callerAccount: caller.account,
      action,
      key,
      conditions,
      keyConditions,
      encryptionContext: own.encryptionContext,
      grantToRetire: own.grantToRetire,
    });
  }

  /** The reason goes to the server log (and the audit record); the caller learns only what it named. */
  private denied(caller: Caller, action: string, key: KeyRecord | undefined, decision: AuthorizationDecision): KmsError {
    this.deps.logger.warn(
      { requestId: caller.requestId, principal: caller.principal.arn, action, key: key?.arn, reason: decision.reason },
      'access denied',
    );
    const resource = key ? ` on resource: ${key.arn}` : '';
    return new KmsError('AccessDeniedException', `User: ${caller.principal.arn} is not authorized to perform: ${action}${resource}`);
  }

  private asKmsError(error: unknown, requestId: string, operation: string): KmsError {
    if (isKmsError(error)) return error;
    this.deps.logger.error({ requestId, operation, err: error }, 'internal error');
    return new KmsError('KMSInternalException', `An internal error occurred. Request id: ${requestId}`);
  }
}

/**
 * What `run` is given: the services, the caller and the keys, in one object made once. A dry run
 * gets a token that refuses every call (DryRunHsm).
 */
function operationContext(
  services: OperationServices,
  caller: Caller,
  keys: Record<string, KeyRecord>,
  dryRun: boolean,
): OperationContext<string> {
  const { policies, store, clock, location } = services;
  const hsm = dryRun ? new DryRunHsm(services.hsm) : services.hsm;
  return { hsm, policies, store, clock, location, caller, keys, dryRun };
}

/**
 * The key's condition keys. The store answers the same aliases and tags (the same arrays, from its
 * cache) until they change, so the condition keys made from them are kept with the key record and
 * made again only when the record, its aliases, its tags or the alias named differ.
 */
function keyConditionsOf(key: KeyRecord, aliases: readonly AliasRecord[], tags: readonly Tag[], alias: string | undefined): ConditionKeys {
  const kept = keyConditionsMade.get(key);
  if (kept && kept.aliases === aliases && kept.tags === tags && kept.alias === alias) return kept.keys;
  const keys = Object.freeze(keyConditions(key, aliases.map((a) => a.aliasName), tags, alias));
  keyConditionsMade.set(key, { aliases, tags, alias, keys });
  return keys;
}

/** The condition keys last made for a key record (keyConditionsOf). */
const keyConditionsMade = new WeakMap<
  KeyRecord,
  { readonly aliases: readonly AliasRecord[]; readonly tags: readonly Tag[]; readonly alias: string | undefined; readonly keys: ConditionKeys }
>();

const NO_CONDITIONS: RequestConditions = Object.freeze({});

/** What a dry run adds to the audit parameters: that it was one, and its modifiers when given. */
function dryRunParameters(request: unknown): Record<string, unknown> {
  const modifiers = (request as { dryRunModifiers?: readonly string[] }).dryRunModifiers;
  return modifiers?.length ? { dryRun: true, dryRunModifiers: [...modifiers] } : { dryRun: true };
}

/**
 * An operation's key requirements, listed once per operation as objects: a [name, requirement]
 * pair destructured in each of the four loops per request went through the array iterator.
 */
interface NamedRequirement {
  readonly name: string;
  readonly requirement: KeyRequirement<unknown>;
}

const requirementLists = new WeakMap<AnyOperation, readonly NamedRequirement[]>();

function requirementsOf(operation: AnyOperation): readonly NamedRequirement[] {
  let list = requirementLists.get(operation);
  if (list === undefined) {
    list = Object.entries(operation.keys).map(([name, requirement]) => ({
      name,
      requirement: requirement as KeyRequirement<unknown>,
    }));
    requirementLists.set(operation, list);
  }
  return list;
}

function checkStateAndUsage(key: KeyRecord, requirement: KeyRequirement<unknown>): void {
  checkKeyState(requirement.stateRules, key);
  if (requirement.usage && key.keyUsage !== requirement.usage) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `${key.arn} key usage is ${key.keyUsage}, which is not valid for this operation.`,
    );
  }
}
