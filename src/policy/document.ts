import { KmsError } from '../domain/errors.js';
import { compileConditionBlock, isObject, type CompiledCondition } from './conditions.js';
import { compilePrincipal, type PrincipalElement } from './principals.js';
import { compileWildcard, type Matcher } from './wildcard.js';

/**
 * A key policy or identity policy, parsed and validated once (IAM JSON policy grammar, as AWS KMS
 * key policies use it) into matchers, so evaluating a request parses nothing and builds no pattern.
 * Every problem is a MalformedPolicyDocumentException naming the element and where it is.
 */
export type PolicyKind = 'key' | 'identity';
export type Effect = 'Allow' | 'Deny';

export interface CompiledPolicy {
  readonly kind: PolicyKind;
  readonly version: string;
  readonly id: string | undefined;
  readonly statements: readonly CompiledStatement[];
  /** The document exactly as given: GetKeyPolicy returns it unchanged. */
  readonly text: string;
}

export interface CompiledStatement {
  readonly index: number;
  readonly sid: string | undefined;
  readonly effect: Effect;
  /** Key policies only; identity policies apply to the identity they are attached to. */
  readonly principal: PrincipalElement | undefined;
  readonly action: NameList;
  readonly resource: NameList;
  readonly conditions: readonly CompiledCondition[];
}

/** Action / NotAction, Resource / NotResource: patterns, and whether the element is the Not form. */
export interface NameList {
  readonly negated: boolean;
  readonly patterns: readonly string[];
  readonly matches: Matcher;
}

/** AWS KMS: "The maximum length of a key policy is 32 kilobytes (32768 bytes)." */
export const MAX_KEY_POLICY_BYTES = 32 * 1024;
export const POLICY_VERSIONS = ['2012-10-17', '2008-10-17'] as const;

const TOP_LEVEL = ['Version', 'Id', 'Statement'];
const STATEMENT = ['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'];
const ACTION = /^([A-Za-z0-9*?-]+:[A-Za-z0-9*?]+|\*)$/;
/**
 * AWS KMS PutKeyPolicy: printable ASCII (U+0020–U+007E), printable Basic Latin and Latin-1
 * Supplement (U+00A1–U+00FF), and tab, line feed and carriage return.
 */
const KEY_POLICY_CHARACTERS = /^[\t\n\r\u0020-\u007e\u00a1-\u00ff]*$/;

const malformed = (message: string) => new KmsError('MalformedPolicyDocumentException', message);

export interface ParseOptions {
  readonly kind: PolicyKind;
  /** Defaults to the key policy limit, 32 KiB, for both kinds. */
  readonly maxBytes?: number;
}

export function parsePolicy(text: string, options: ParseOptions): CompiledPolicy {
  const maxBytes = options.maxBytes ?? MAX_KEY_POLICY_BYTES;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw malformed(`The policy is ${bytes} bytes; the limit is ${maxBytes}.`);
  if (options.kind === 'key' && !KEY_POLICY_CHARACTERS.test(text)) {
    const at = [...text].findIndex((c) => !KEY_POLICY_CHARACTERS.test(c));
    throw malformed(`The policy contains a character a key policy may not hold, at position ${at}.`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw malformed(`The policy is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(document)) throw malformed('The policy must be a JSON object.');
  rejectUnknown(document, TOP_LEVEL, 'The policy');
  const version = document['Version'] ?? '2008-10-17';
  if (typeof version !== 'string' || !(POLICY_VERSIONS as readonly string[]).includes(version)) {
    throw malformed(`Version must be ${POLICY_VERSIONS.join(' or ')}.`);
  }
  const id = document['Id'];
  if (id !== undefined && typeof id !== 'string') throw malformed('Id must be a string.');
  const raw = document['Statement'];
  if (raw === undefined) throw malformed('The policy has no Statement.');
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw malformed('Statement must hold at least one statement.');
  const statements = list.map((s, i) => compileStatement(s, i, Array.isArray(raw) ? `Statement[${i}]` : 'Statement', options.kind));
  return { kind: options.kind, version, id, statements, text };
}

function compileStatement(raw: unknown, index: number, path: string, kind: PolicyKind): CompiledStatement {
  if (!isObject(raw)) throw malformed(`${path} must be an object.`);
  rejectUnknown(raw, STATEMENT, path);
  const sid = raw['Sid'];
  if (sid !== undefined && typeof sid !== 'string') throw malformed(`${path}.Sid must be a string.`);
  const effect = raw['Effect'];
  if (effect === undefined) throw malformed(`${path}.Effect is required: Allow or Deny.`);
  if (effect !== 'Allow' && effect !== 'Deny') throw malformed(`${path}.Effect must be Allow or Deny.`);
  const principal = principalOf(raw, path, kind, effect);
  const action = nameList(raw, 'Action', path, (value, where) => {
    if (!ACTION.test(value)) throw malformed(`${where} '${value}' is not an action such as kms:Encrypt.`);
    return compileWildcard(value, { ignoreCase: true });
  });
  const resource = nameList(raw, 'Resource', path, (value, where) => {
    if (value !== '*' && !value.startsWith('arn:')) throw malformed(`${where} '${value}' must be "*" or an ARN.`);
    return compileWildcard(value);
  });
  const condition = raw['Condition'];
  const conditions = condition === undefined ? [] : compileConditionBlock(condition, `${path}.Condition`);
  return { index, sid, effect, principal, action, resource, conditions };
}

function principalOf(raw: Record<string, unknown>, path: string, kind: PolicyKind, effect: Effect): PrincipalElement | undefined {
  const has = 'Principal' in raw;
  const hasNot = 'NotPrincipal' in raw;
  if (kind === 'identity') {
    if (has || hasNot) throw malformed(`${path}: an identity policy may not name a Principal or NotPrincipal.`);
    return undefined;
  }
  if (has && hasNot) throw malformed(`${path} has both Principal and NotPrincipal; use one.`);
  if (!has && !hasNot) throw malformed(`${path} has no Principal: a key policy statement must name one.`);
  // IAM: "NotPrincipal must be used with Effect Deny. Using it with Allow is not supported."
  if (hasNot && effect !== 'Deny') throw malformed(`${path}.NotPrincipal is supported only with Effect Deny.`);
  return has ? compilePrincipal(raw['Principal'], `${path}.Principal`, false) : compilePrincipal(raw['NotPrincipal'], `${path}.NotPrincipal`, true);
}

function nameList(
  raw: Record<string, unknown>,
  element: 'Action' | 'Resource',
  path: string,
  compile: (value: string, where: string) => Matcher,
): NameList {
  const not = `Not${element}`;
  if (element in raw && not in raw) throw malformed(`${path} has both ${element} and ${not}; use one.`);
  const negated = not in raw;
  const name = negated ? not : element;
  if (!negated && !(element in raw)) throw malformed(`${path} has no ${element} or ${not}.`);
  const value = raw[name];
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((v): v is string => typeof v === 'string')) {
    throw malformed(`${path}.${name} must be a string or a non-empty list of strings.`);
  }
  const matchers = list.map((v, i) => compile(v, `${path}.${name}${Array.isArray(value) ? `[${i}]` : ''}`));
  const matches: Matcher =
    matchers.length === 1
      ? matchers[0]!
      : (subject) => {
          for (const matcher of matchers) if (matcher(subject)) return true;
          return false;
        };
  return { negated, patterns: list, matches };
}

function rejectUnknown(object: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const field of Object.keys(object)) {
    if (allowed.includes(field)) continue;
    const meant = allowed.find((a) => a.toLowerCase() === field.toLowerCase());
    throw malformed(`${where} has an unknown field '${field}'${meant ? ` (did you mean '${meant}'?)` : ''}.`);
  }
}
