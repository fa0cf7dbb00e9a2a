import { KmsError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { roleArnOfSession } from './context.js';
import { parsePolicy } from './document.js';
import type { NamedPolicy } from './evaluate.js';
import { isObject } from './conditions.js';

/**
 * Identity policies as operators keep them in version control (issue 5: "IAM-style documents
 * attached to role and user ARNs"), one JSON file:
 *
 *   {
 *     "policies":    { "<name>": <IAM policy document> },
 *     "attachments": { "<role, user or root ARN>": ["<name>", …] },
 *     "onBehalfOf":  ["<service principal trusted to act for the users it names>", …]
 *   }
 *
 * A role session (arn:aws:sts::…:assumed-role/Role/session) has the policies of its role.
 * Validated completely on load: one bad document rejects the whole file.
 */
export interface IdentityPolicySet {
  policiesFor(principal: Principal): readonly NamedPolicy[];
  trustsOnBehalfOf(servicePrincipal: string): boolean;
}

export const EMPTY_IDENTITY_POLICIES: IdentityPolicySet = {
  policiesFor: () => [],
  trustsOnBehalfOf: () => false,
};

const TOP_LEVEL = new Set(['policies', 'attachments', 'onBehalfOf']);

export function parseIdentityPolicies(text: string, source: string): IdentityPolicySet {
  const fail = (detail: string) =>
    new KmsError('MalformedPolicyDocumentException', `identity policies in ${source}: ${detail}`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw fail(`not JSON (${(error as Error).message})`);
  }
  if (!isObject(document)) throw fail('the file must hold a JSON object');
  for (const field of Object.keys(document)) if (!TOP_LEVEL.has(field)) throw fail(`unknown field '${field}'`);

  const named = new Map<string, NamedPolicy>();
  for (const [name, policy] of Object.entries(asObject(document.policies, 'policies', fail))) {
    try {
      named.set(name, { name, policy: parsePolicy(JSON.stringify(policy), { kind: 'identity' }) });
    } catch (error) {
      throw fail(`policy '${name}': ${(error as Error).message}`);
    }
  }
  const attachments = new Map<string, NamedPolicy[]>();
  for (const [arn, names] of Object.entries(asObject(document.attachments, 'attachments', fail))) {
    if (!Array.isArray(names)) throw fail(`attachments of ${arn} must be a list of policy names`);
    attachments.set(
      arn,
      names.map((name) => {
        const policy = typeof name === 'string' ? named.get(name) : undefined;
        if (!policy) throw fail(`${arn} names the unknown policy ${JSON.stringify(name)}`);
        return policy;
      }),
    );
  }
  const onBehalfOf = document.onBehalfOf ?? [];
  if (!Array.isArray(onBehalfOf) || !onBehalfOf.every((s) => typeof s === 'string')) {
    throw fail('onBehalfOf must be a list of service principals');
  }
  const trusted = new Set<string>(onBehalfOf);

  return {
    policiesFor(principal) {
      const arn = principal.kind === 'assumed-role' ? roleArnOfSession(principal.arn) : principal.arn;
      return attachments.get(arn) ?? [];
    },
    trustsOnBehalfOf: (service) => trusted.has(service),
  };
}

function asObject(value: unknown, field: string, fail: (detail: string) => Error): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw fail(`'${field}' must be an object`);
  return value;
}
