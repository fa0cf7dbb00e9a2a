import { performance } from 'node:perf_hooks';
import { KmsError, isKmsError } from '../domain/errors.js';
import { parseKeyReference } from '../domain/ids.js';
import type { KeyRecord } from '../domain/key.js';
import { checkKeyState } from '../domain/key-state-rules.js';
import { parsePrincipal, type Principal } from '../domain/principal.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { AuthorizationDecision, Authorizer } from '../ports/authorizer.js';
import type { AnyOperation, Caller, KeyRequirement, OperationServices } from '../operations/operation.js';

/** What the transport knows about a request before any handler runs. */
export interface RequestEnvelope {
  readonly requestId: string;
  /** URI SANs of the verified client certificate; empty when the peer presented none. */
  readonly peerIdentities: readonly string[];
  readonly sourceAddress: string;
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
}

/**
 * One request, one direction (DESIGN.md): authenticate → validate → resolve → authorize →
 * check state and usage → run, with exactly one audit record written before the answer leaves,
 * whatever the outcome. The same path for every operation.
 */
export class Pipeline {
  constructor(private readonly deps: PipelineDependencies) {}

  async execute<Res>(operation: AnyOperation, request: unknown, envelope: RequestEnvelope): Promise<Res> {
    const started = performance.now();
    const keyArns: string[] = [];
    let principal: Principal | undefined;
    let decision: AuthorizationDecision | undefined;
    let parameters: Record<string, unknown> = {};
    let outcome = 'Success';
    try {
      principal = this.authenticate(envelope.peerIdentities);
      parameters = operation.audit?.(request) ?? {};
      operation.validate?.(request);
      const caller: Caller = {
        requestId: envelope.requestId,
        principal,
        account: principal.account ?? this.deps.defaultAccount,
      };

      const requirements = Object.entries(operation.keys) as Array<[string, KeyRequirement<unknown>]>;
      const keys: Record<string, KeyRecord> = {};
      for (const [name, requirement] of requirements) {
        const key = await this.resolve(requirement.ref(request), requirement.field, caller.account);
        keyArns.push(key.arn);
        await this.checkMatch(key, requirement, request, caller.account);
        decision = this.authorize(caller, requirement.action, key);
        keys[name] = key;
      }
      if (requirements.length === 0) decision = this.authorize(caller, operation.action ?? '', undefined);
      for (const [name, requirement] of requirements) checkStateAndUsage(keys[name]!, requirement);

      return (await operation.run(request, { ...this.deps.services, caller, keys })) as Res;
    } catch (error) {
      const failure = this.asKmsError(error, envelope.requestId, operation.name);
      outcome = failure.name;
      throw failure;
    } finally {
      await this.deps.audit.record({
        requestId: envelope.requestId,
        time: this.deps.services.clock.now(),
        operation: operation.name,
        principalArn: principal?.arn,
        principalAccount: principal?.account,
        sourceAddress: envelope.sourceAddress,
        keyArns,
        parameters,
        outcome,
        decision,
        durationMs: performance.now() - started,
      });
    }
  }

  private authenticate(identities: readonly string[]): Principal {
    for (const identity of identities) {
      const principal = parsePrincipal(identity);
      if (principal) return principal;
    }
    throw new KmsError(
      'UnrecognizedClientException',
      'The client certificate names no principal (a URI SAN holding an IAM ARN or a service principal).',
    );
  }

  /**
   * A key id, key ARN, alias name or alias ARN → the key (AWS KMS: every operation that takes a
   * key accepts all four). An alias name is looked up in the caller's account.
   */
  private async resolve(reference: string | undefined, field: string, callerAccount: string): Promise<KeyRecord> {
    const parsed = parseKeyReference(reference, field);
    const { location, store } = this.deps.services;
    if (parsed.kind === 'aliasName' || parsed.kind === 'aliasArn') {
      const account = parsed.kind === 'aliasArn' ? parsed.account : callerAccount;
      const alias =
        parsed.kind === 'aliasArn' && parsed.region !== location.region
          ? undefined
          : await store.getAlias(account, parsed.aliasName);
      const key = alias && (await store.getKey(alias.keyId));
      if (!key) throw new KmsError('NotFoundException', `Alias ${reference} is not found.`);
      return key;
    }
    const key = await store.getKey(parsed.keyId);
    if (!key || (parsed.kind === 'keyArn' && (parsed.region !== location.region || parsed.account !== key.account))) {
      throw new KmsError('NotFoundException', `Key '${reference}' does not exist.`);
    }
    return key;
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
    if (named.id !== key.id) {
      throw new KmsError(
        'IncorrectKeyException',
        `The key in ${requirement.mustMatch!.field} does not match the key that encrypted the ciphertext.`,
      );
    }
  }

  private authorize(caller: Caller, action: string, key: KeyRecord | undefined): AuthorizationDecision {
    const decision = this.deps.authorizer.authorize({
      principal: caller.principal,
      callerAccount: caller.account,
      action,
      key,
    });
    if (!decision.allowed) {
      this.deps.logger.warn(
        { requestId: caller.requestId, principal: caller.principal.arn, action, key: key?.arn, reason: decision.reason },
        'access denied',
      );
      // The caller learns the action and resource it named, not why (DESIGN.md, invariant 2).
      const resource = key ? ` on resource: ${key.arn}` : '';
      throw new KmsError(
        'AccessDeniedException',
        `User: ${caller.principal.arn} is not authorized to perform: ${action}${resource}`,
      );
    }
    return decision;
  }

  private asKmsError(error: unknown, requestId: string, operation: string): KmsError {
    if (isKmsError(error)) return error;
    this.deps.logger.error({ requestId, operation, err: error }, 'internal error');
    return new KmsError('KMSInternalException', `An internal error occurred. Request id: ${requestId}`);
  }
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
