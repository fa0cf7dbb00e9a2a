import type { Principal } from '../domain/principal.js';
import { normalizeContext, type RequestContext, type RequestContextInput } from './context.js';
import type { CompiledPolicy, CompiledStatement, Effect } from './document.js';
import { callerLayers, matchPrincipal, notPrincipalApplies, type PrincipalMatch } from './principals.js';

/**
 * Policy evaluation (IAM "Policy evaluation logic"): every statement of every applicable policy is
 * examined; an explicit Deny that applies wins; otherwise an Allow that applies allows; otherwise
 * the request is implicitly denied. Every decision names what decided it and carries a trace of
 * each statement examined and why it did or did not apply, for the audit entry and the server log
 * (never for the denied caller).
 */
export interface PolicyRequest {
  readonly principal: Principal;
  /** `kms:Encrypt`. */
  readonly action: string;
  /** The key ARN, or `*` for account-level actions (CreateKey, ListKeys …). */
  readonly resource: string;
  readonly context?: RequestContextInput;
  /** The condition keys of the key the request is on, over `context` (see normalizeContext). */
  readonly keyContext?: RequestContextInput;
}

export interface NamedPolicy {
  /** How the trace names it: the key ARN's policy, or an identity policy's name in the configuration. */
  readonly name: string;
  readonly policy: CompiledPolicy;
}

export interface TraceLine {
  /** `key policy`, `identity policy 'DevOps'`, `grant <id>`, or `rule` for a decision made by a rule. */
  readonly source: string;
  readonly statement?: number;
  readonly sid?: string;
  readonly effect?: Effect;
  readonly applies: boolean;
  readonly detail: string;
}

export interface Decision {
  readonly decision: 'Allow' | 'Deny';
  readonly reason: string;
  readonly trace: readonly TraceLine[];
}

export interface PreparedRequest {
  readonly principal: Principal;
  readonly layers: ReturnType<typeof callerLayers>;
  readonly action: string;
  readonly resource: string;
  readonly context: RequestContext;
}

/** Done once per request: the caller's identity layers and the normalised condition context. */
export function prepareRequest(request: PolicyRequest): PreparedRequest {
  return {
    principal: request.principal,
    layers: callerLayers(request.principal),
    action: request.action,
    resource: request.resource,
    context: normalizeContext(request.context, request.keyContext),
  };
}

export interface StatementOutcome {
  readonly statement: CompiledStatement;
  /** `key policy statement 'Sid' (#2)` */
  readonly label: string;
  readonly applies: boolean;
  /** How the statement names the caller; `direct` for identity policies, which name no principal. */
  readonly match: PrincipalMatch;
  readonly line: TraceLine;
  /** `Allow by <label>`: the reason of a decision this statement made alone. */
  readonly allowReason: string;
}

export function sourceName(policy: NamedPolicy): string {
  return policy.policy.kind === 'key' ? 'key policy' : `identity policy '${policy.name}'`;
}

export function examinePolicy(policy: NamedPolicy, request: PreparedRequest): StatementOutcome[] {
  const source = sourceName(policy);
  const { statements } = policy.policy;
  const outcomes = new Array<StatementOutcome>(statements.length);
  for (let i = 0; i < statements.length; i++) outcomes[i] = examineStatement(statements[i]!, source, request);
  return outcomes;
}

/** Why a statement does or does not apply: the trace's text is written from it when first read. */
const enum Why {
  Applies,
  AppliesThroughAccount,
  ExcludedByNotPrincipal,
  NotNamedInPrincipal,
  Action,
  Resource,
  Condition,
}

/**
 * A statement's outcome. Its label and trace line are text for the decision's reason, `p11kms
 * policy explain` and the log, and most requests need none of it: they are written on first read
 * (the authorization profile showed the trace strings as a tenth of the per-request allocations),
 * from the reason and the request this outcome keeps (a closure and a result object per statement
 * were most of what evaluating a policy allocated).
 */
class ExaminedStatement implements StatementOutcome {
  #line: TraceLine | undefined;

  constructor(
    readonly statement: CompiledStatement,
    private readonly source: string,
    readonly applies: boolean,
    readonly match: PrincipalMatch,
    private readonly why: Why,
    private readonly request: PreparedRequest,
    /** The first condition not met (Why.Condition). */
    private readonly condition?: CompiledStatement['conditions'][number],
  ) {}

  get label(): string {
    return labelOf(this.statement, this.source).label;
  }

  get allowReason(): string {
    return labelOf(this.statement, this.source).allowReason;
  }

  get line(): TraceLine {
    return (this.#line ??= {
      source: this.source,
      statement: this.statement.index,
      ...(this.statement.sid !== undefined ? { sid: this.statement.sid } : {}),
      effect: this.statement.effect,
      applies: this.applies,
      detail: this.detail(),
    });
  }

  private detail(): string {
    const { request, statement, condition } = this;
    switch (this.why) {
      case Why.Applies:
        return 'applies';
      case Why.AppliesThroughAccount:
        return `applies through account ${request.principal.account}: delegates to that account's identity policies`;
      case Why.ExcludedByNotPrincipal:
        return `${request.principal.arn} is excluded by NotPrincipal`;
      case Why.NotNamedInPrincipal:
        return `${request.principal.arn} is not named in Principal`;
      case Why.Action:
        return `${request.action} is ${statement.action.negated ? 'in NotAction' : 'not in Action'}`;
      case Why.Resource:
        return `resource ${request.resource} is ${statement.resource.negated ? 'in NotResource' : 'not in Resource'}`;
      case Why.Condition:
        return `condition ${condition!.operator} ${condition!.key} ${JSON.stringify(condition!.values)} is not met`;
    }
  }
}

/**
 * A statement's label and the reason "Allow by <label>" are the same text on every request it
 * decides: written once per statement (a compiled policy is shared by every key with its text).
 */
function labelOf(statement: CompiledStatement, source: string): { readonly source: string; readonly label: string; readonly allowReason: string } {
  const kept = labels.get(statement);
  if (kept !== undefined && kept.source === source) return kept;
  const { sid, index } = statement;
  const label = `${source} statement ${sid ? `'${sid}' (#${index})` : `#${index}`}`;
  const made = { source, label, allowReason: `Allow by ${label}` };
  labels.set(statement, made);
  return made;
}

const labels = new WeakMap<CompiledStatement, { readonly source: string; readonly label: string; readonly allowReason: string }>();

function skipped(
  statement: CompiledStatement,
  source: string,
  request: PreparedRequest,
  why: Why,
  condition?: CompiledStatement['conditions'][number],
): ExaminedStatement {
  return new ExaminedStatement(statement, source, false, 'none', why, request, condition);
}

function examineStatement(statement: CompiledStatement, source: string, request: PreparedRequest): ExaminedStatement {
  let match: PrincipalMatch = 'direct';
  const element = statement.principal;
  if (element && element.negated) {
    if (!notPrincipalApplies(element, request.layers)) return skipped(statement, source, request, Why.ExcludedByNotPrincipal);
  } else if (element) {
    match = matchPrincipal(element, request.layers);
    if (match === 'none') return skipped(statement, source, request, Why.NotNamedInPrincipal);
  }
  const { action, resource } = statement;
  if (action.matches(request.action) === action.negated) return skipped(statement, source, request, Why.Action);
  if (resource.matches(request.resource) === resource.negated) return skipped(statement, source, request, Why.Resource);
  for (const condition of statement.conditions) {
    if (!condition.test(request.context)) return skipped(statement, source, request, Why.Condition, condition);
  }
  return new ExaminedStatement(statement, source, true, match, match === 'account' ? Why.AppliesThroughAccount : Why.Applies, request);
}

/**
 * The plain IAM rule over a set of policies, without AWS KMS's account rules: Deny wins, then any
 * Allow that names the caller (or an identity policy's Allow). An Allow that names only the
 * caller's account delegates and does not allow by itself. `authorizeKmsRequest` builds the full
 * KMS decision on the same examination.
 */
export function evaluate(request: PolicyRequest, policies: readonly NamedPolicy[]): Decision {
  const prepared = prepareRequest(request);
  const outcomes = policies.flatMap((policy) => examinePolicy(policy, prepared));
  const trace = () => outcomes.map((o) => o.line);
  const deny = outcomes.find((o) => o.applies && o.statement.effect === 'Deny');
  if (deny) return decided('Deny', `Deny by ${deny.label}`, trace);
  const allow = outcomes.find((o) => o.applies && o.statement.effect === 'Allow' && o.match === 'direct');
  if (allow) return decided('Allow', `Allow by ${allow.label}`, trace);
  return decided('Deny', 'no statement allows', trace);
}

/** A decision whose trace is listed when first read (most callers only want the decision and its reason). */
export function decided(decision: Decision['decision'], reason: string, trace: () => readonly TraceLine[]): Decision {
  return new DecidedWithTrace(decision, reason, trace);
}

/**
 * A decision whose trace is written when first read. A class, not an object literal with a getter:
 * the literal made a getter closure and an accessor pair for every decision (~0.4 KB per request,
 * heap count under Encrypt at 64 in flight), which the prototype's getter does not.
 */
class DecidedWithTrace implements Decision {
  #lines: readonly TraceLine[] | undefined;

  constructor(
    readonly decision: Decision['decision'],
    readonly reason: string,
    private readonly writeTrace: () => readonly TraceLine[],
  ) {}

  get trace(): readonly TraceLine[] {
    return (this.#lines ??= this.writeTrace());
  }
}

/** The decision and its trace as lines of text, for `p11kms policy explain` and the server log. */
export function formatDecision(decision: Decision): string {
  const lines = [`${decision.decision}: ${decision.reason}`];
  for (const line of decision.trace) {
    const where = line.statement === undefined ? line.source : `${line.source} #${line.statement}${line.sid ? ` '${line.sid}'` : ''}`;
    const effect = line.effect ? ` ${line.effect}` : '';
    lines.push(`  ${line.applies ? '✓' : '·'} ${where}${effect}: ${line.detail}`);
  }
  return lines.join('\n');
}
