import { KmsError } from '../domain/errors.js';
import type { RequestContext } from './context.js';
import { compileCidr } from './ip.js';
import { compileArnMatcher, compileWildcard, type Matcher } from './wildcard.js';

/**
 * The Condition element (IAM JSON policy reference, "Condition operators" and "Condition with
 * multiple context keys or values"): operators AND together, keys within an operator AND together,
 * the values of one key OR together — except that a negated operator (StringNotEquals …) matches
 * only when the request value equals none of them. Compiled once per policy.
 */
export interface CompiledCondition {
  /** As written, for the trace: `ForAnyValue:StringLikeIfExists`. */
  readonly operator: string;
  /** As written; matched against the context case-insensitively. */
  readonly key: string;
  readonly values: readonly string[];
  readonly test: (context: RequestContext) => boolean;
}

type SetOperator = 'ForAllValues' | 'ForAnyValue' | undefined;

interface OperatorSpec {
  readonly negated: boolean;
  /** The positive test of one request value: does it match at least one policy value? */
  readonly compile: (values: readonly string[], where: string) => Matcher;
}

const malformed = (message: string) => new KmsError('MalformedPolicyDocumentException', message);

const stringEquals = (values: readonly string[]): Matcher => {
  const set = new Set(values);
  return (v) => set.has(v);
};
const stringEqualsIgnoreCase = (values: readonly string[]): Matcher => {
  const set = new Set(values.map((x) => x.toLowerCase()));
  return (v) => set.has(v.toLowerCase());
};
const anyOf = (matchers: readonly Matcher[]): Matcher => (v) => matchers.some((m) => m(v));
const stringLike = (values: readonly string[]) => anyOf(values.map((x) => compileWildcard(x)));
const arnLike = (values: readonly string[]) => anyOf(values.map(compileArnMatcher));

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
export const parseNumber = (text: string): number | undefined => (NUMBER.test(text) ? Number(text) : undefined);

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
/** ISO 8601 (a date-time without an offset is UTC) or epoch seconds, as IAM's Date operators accept. */
export function parseDate(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!ISO_DATE.test(text)) return undefined;
  let iso = text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  if (iso.includes('T') && !/(Z|[+-]\d{2}:\d{2})$/i.test(iso)) iso += 'Z';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

type Compare = (request: number, policy: number) => boolean;
function ordered(parse: (t: string) => number | undefined, kind: string, compare: Compare): OperatorSpec['compile'] {
  return (values, where) => {
    const limits = values.map((text) => {
      const parsed = parse(text);
      if (parsed === undefined) throw malformed(`${where} value '${text}' is not a valid ${kind}`);
      return parsed;
    });
    return (v) => {
      const n = parse(v);
      return n !== undefined && limits.some((limit) => compare(n, limit));
    };
  };
}

function booleans(values: readonly string[], where: string): Matcher {
  const wanted = new Set<string>(
    values.map((text) => {
      const lower = text.toLowerCase();
      if (lower !== 'true' && lower !== 'false') throw malformed(`${where} value '${text}' must be true or false`);
      return lower;
    }),
  );
  return (v) => wanted.has(v.toLowerCase());
}

function cidrs(values: readonly string[], where: string): Matcher {
  return anyOf(
    values.map((text) => {
      const matcher = compileCidr(text);
      if (!matcher) throw malformed(`${where} value '${text}' is not an IP address or CIDR block`);
      return matcher;
    }),
  );
}

const eq: Compare = (a, b) => a === b;
const lt: Compare = (a, b) => a < b;
const le: Compare = (a, b) => a <= b;
const gt: Compare = (a, b) => a > b;
const ge: Compare = (a, b) => a >= b;

function orderedFamily(prefix: string, parse: (t: string) => number | undefined, kind: string) {
  return {
    [`${prefix}equals`]: { negated: false, compile: ordered(parse, kind, eq) },
    [`${prefix}notequals`]: { negated: true, compile: ordered(parse, kind, eq) },
    [`${prefix}lessthan`]: { negated: false, compile: ordered(parse, kind, lt) },
    [`${prefix}lessthanequals`]: { negated: false, compile: ordered(parse, kind, le) },
    [`${prefix}greaterthan`]: { negated: false, compile: ordered(parse, kind, gt) },
    [`${prefix}greaterthanequals`]: { negated: false, compile: ordered(parse, kind, ge) },
  } satisfies Record<string, OperatorSpec>;
}

/** Operator names are matched case-insensitively; keys are the lower-cased base operator. */
const OPERATORS: Readonly<Record<string, OperatorSpec>> = {
  stringequals: { negated: false, compile: stringEquals },
  stringnotequals: { negated: true, compile: stringEquals },
  stringequalsignorecase: { negated: false, compile: stringEqualsIgnoreCase },
  stringnotequalsignorecase: { negated: true, compile: stringEqualsIgnoreCase },
  stringlike: { negated: false, compile: stringLike },
  stringnotlike: { negated: true, compile: stringLike },
  arnequals: { negated: false, compile: arnLike },
  arnlike: { negated: false, compile: arnLike },
  arnnotequals: { negated: true, compile: arnLike },
  arnnotlike: { negated: true, compile: arnLike },
  ...orderedFamily('numeric', parseNumber, 'number'),
  ...orderedFamily('date', parseDate, 'date (ISO 8601 or epoch seconds)'),
  bool: { negated: false, compile: booleans },
  ipaddress: { negated: false, compile: cidrs },
  notipaddress: { negated: true, compile: cidrs },
};

export function compileConditionBlock(block: unknown, path: string): CompiledCondition[] {
  if (!isObject(block)) throw malformed(`${path} must be an object of condition operators`);
  const conditions: CompiledCondition[] = [];
  for (const [operator, keys] of Object.entries(block)) {
    const where = `${path}.${operator}`;
    if (!isObject(keys) || Object.keys(keys).length === 0) {
      throw malformed(`${where} must be an object mapping condition keys to values`);
    }
    for (const [key, raw] of Object.entries(keys)) {
      if (key.trim() === '') throw malformed(`${where} has an empty condition key`);
      const values = conditionValues(raw, `${where}.${key}`);
      conditions.push({ operator, key, values, test: compileOne(operator, key.toLowerCase(), values, `${where}.${key}`) });
    }
  }
  return conditions;
}

function compileOne(operator: string, key: string, values: readonly string[], where: string) {
  let base = operator;
  let set: SetOperator;
  const lower = operator.toLowerCase();
  if (lower.startsWith('forallvalues:')) [set, base] = ['ForAllValues', operator.slice(13)];
  else if (lower.startsWith('foranyvalue:')) [set, base] = ['ForAnyValue', operator.slice(12)];
  if (base.toLowerCase() === 'null') {
    if (set) throw malformed(`${where}: ${operator} is not a condition operator; Null takes no set prefix`);
    const wanted = booleans(values, where);
    // Null: "true" means the key must be absent, "false" that it must be present.
    return (context: RequestContext) => wanted(String(!present(context.get(key))));
  }
  const ifExists = /ifexists$/i.test(base) && base.length > 8;
  if (ifExists) base = base.slice(0, -8);
  const spec = OPERATORS[base.toLowerCase()];
  if (!spec) throw malformed(`${where}: '${operator}' is not a supported condition operator`);
  const matches = spec.compile(values, where);
  const one = spec.negated ? (v: string) => !matches(v) : matches;
  return (context: RequestContext): boolean => {
    const requested = context.get(key);
    if (!present(requested)) {
      // IAM: a missing key fails a matching operator and satisfies a negated one; …IfExists is
      // satisfied by absence; ForAllValues over an empty set is true, ForAnyValue false.
      if (ifExists) return true;
      if (set === 'ForAllValues') return true;
      if (set === 'ForAnyValue') return false;
      return spec.negated;
    }
    if (set === 'ForAllValues') return requested.every(one);
    if (set === 'ForAnyValue') return requested.some(one);
    // Without a set prefix, a multivalued key matches when any of its values does, and a negated
    // operator holds only when none does.
    return spec.negated ? !requested.some(matches) : requested.some(matches);
  };
}

function present(values: readonly string[] | undefined): values is readonly string[] {
  return values !== undefined && values.length > 0;
}

function conditionValues(raw: unknown, where: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw malformed(`${where} must have at least one value`);
  return list.map((value) => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value === 'boolean') return String(value);
    throw malformed(`${where} values must be strings, numbers or booleans`);
  });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
