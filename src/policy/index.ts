/** The policy language and evaluator: parse, evaluate, explain. Pure; no I/O. */
export { normalizeContext, principalConditionKeys, type ContextValue, type RequestContextInput } from './context.js';
export { parsePolicy, MAX_KEY_POLICY_BYTES, type CompiledPolicy, type PolicyKind, type ParseOptions } from './document.js';
export { evaluate, formatDecision, type Decision, type NamedPolicy, type PolicyRequest, type TraceLine } from './evaluate.js';
export { GRANT_OPERATIONS, type Grant, type GrantConstraints, type GrantOperation } from './grants.js';
export {
  authorizeKmsRequest,
  ACCOUNT_LEVEL_ACTIONS,
  CROSS_ACCOUNT_ACTIONS,
  type KmsAuthorizationInput,
  type KmsRequest,
} from './kms-authorization.js';
export { defaultKeyPolicy, defaultKeyPolicyText } from './default-policy.js';
export { checkPolicyLockout, LOCKOUT_MESSAGE, type LockoutCheckInput } from './lockout.js';
