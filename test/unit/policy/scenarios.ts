import { describe, expect, it } from 'vitest';
import type { EncryptionContext } from '../../../src/domain/encryption-context.js';
import type { Principal } from '../../../src/domain/principal.js';
import type { RequestContextInput } from '../../../src/policy/context.js';
import type { Grant } from '../../../src/policy/grants.js';
import { authorizeKmsRequest, ACCOUNT_LEVEL_ACTIONS } from '../../../src/policy/kms-authorization.js';
import { A, KEY_ARN, identityPolicy, keyPolicy, type Statement } from './fixtures.js';

/** One row of a decision table: the policies, the caller and request, and the expected decision. */
export interface Scenario {
  readonly label: string;
  readonly key: readonly Statement[];
  readonly identity?: readonly Statement[];
  readonly grants?: readonly Grant[];
  readonly caller: Principal;
  readonly action: string;
  readonly context?: RequestContextInput;
  readonly encryptionContext?: EncryptionContext;
  readonly callerAccount?: string;
  readonly expected: 'Allow' | 'Deny';
  readonly reason?: RegExp;
}

export function decide(s: Omit<Scenario, 'label' | 'expected' | 'reason'>) {
  return authorizeKmsRequest({
    keyPolicy: keyPolicy(...s.key),
    identityPolicies: s.identity ? [identityPolicy('CallerPolicy', ...s.identity)] : [],
    grants: s.grants ?? [],
    request: {
      principal: s.caller,
      action: s.action,
      resource: ACCOUNT_LEVEL_ACTIONS.has(s.action) ? '*' : KEY_ARN,
      ...(s.context ? { context: s.context } : {}),
      ...(s.encryptionContext ? { encryptionContext: s.encryptionContext } : {}),
      ...(s.callerAccount ? { callerAccount: s.callerAccount } : {}),
    },
    keyAccount: A,
  });
}

export function runScenarios(title: string, scenarios: readonly Scenario[]): void {
  describe(title, () => {
    it.each(scenarios.map((s) => [s.label, s] as const))('%s', (_label, s) => {
      const result = decide(s);
      expect(result.decision, result.reason).toBe(s.expected);
      if (s.reason) expect(result.reason).toMatch(s.reason);
    });
  });
}

