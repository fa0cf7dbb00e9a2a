import { readFileSync } from 'node:fs';
import { keyValuePairs } from './aws-json.js';
import { collect, integer, type CommandSpec } from './command-spec.js';

const keyIdFlag: [string, string] = ['--key-id <id>', 'key id, ARN, alias name or alias ARN'];

/** Client commands for key policies and grants. */
export const AUTHORIZATION_COMMANDS: CommandSpec[] = [
  {
    name: 'put-key-policy',
    rpc: 'PutKeyPolicy',
    describe: 'replace the key policy (refused if it would lock you out, unless bypassed)',
    flags: [keyIdFlag, ['--policy-file <file>', 'policy JSON'], ['--bypass-policy-lockout-safety-check', 'skip the lockout check']],
    request: (o) => ({
      keyId: o.keyId,
      policy: typeof o.policyFile === 'string' ? readFileSync(o.policyFile, 'utf8') : undefined,
      policyName: 'default',
      bypassPolicyLockoutSafetyCheck: o.bypassPolicyLockoutSafetyCheck === true,
    }),
  },
  {
    name: 'get-key-policy',
    rpc: 'GetKeyPolicy',
    describe: 'print the key policy',
    flags: [keyIdFlag],
    request: (o) => ({ keyId: o.keyId, policyName: 'default' }),
  },
  {
    name: 'list-key-policies',
    rpc: 'ListKeyPolicies',
    describe: 'list the key policy names ("default")',
    flags: [keyIdFlag],
    request: (o) => ({ keyId: o.keyId }),
  },
  {
    name: 'create-grant',
    rpc: 'CreateGrant',
    dryRun: true,
    describe: 'let a grantee use the key for some operations',
    flags: [
      keyIdFlag,
      ['--grantee-principal <arn>', 'who may use the key'],
      ['--retiring-principal <arn>', 'who may retire the grant'],
      ['--operations <op>', 'a grant operation, e.g. Decrypt (repeatable)', collect],
      ['--encryption-context-subset <key=value>', 'constraint pair (repeatable)', collect],
      ['--encryption-context-equals <key=value>', 'constraint pair (repeatable)', collect],
      ['--name <name>', 'idempotency name'],
    ],
    request: (o) => ({
      keyId: o.keyId,
      granteePrincipal: o.granteePrincipal,
      retiringPrincipal: o.retiringPrincipal,
      operations: o.operations,
      name: o.name,
      constraints: {
        encryptionContextSubset: keyValuePairs(o.encryptionContextSubset as string[] | undefined, 'constraint'),
        encryptionContextEquals: keyValuePairs(o.encryptionContextEquals as string[] | undefined, 'constraint'),
      },
    }),
  },
  {
    name: 'list-grants',
    rpc: 'ListGrants',
    describe: 'list the grants of a key',
    flags: [keyIdFlag, ['--grant-id <id>', 'only this grant'], ['--grantee-principal <arn>', 'only this grantee'], ['--limit <n>', 'page size', integer], ['--marker <m>', 'next page']],
    request: (o) => ({ keyId: o.keyId, grantId: o.grantId, granteePrincipal: o.granteePrincipal, limit: o.limit, marker: o.marker }),
  },
  {
    name: 'list-retirable-grants',
    rpc: 'ListRetirableGrants',
    describe: 'list grants a principal may retire',
    flags: [['--retiring-principal <arn>', 'retiring principal'], ['--limit <n>', 'page size', integer], ['--marker <m>', 'next page']],
    request: (o) => ({ retiringPrincipal: o.retiringPrincipal, limit: o.limit, marker: o.marker }),
  },
  {
    name: 'retire-grant',
    rpc: 'RetireGrant',
    dryRun: true,
    describe: 'retire a grant by token, or by key and grant id',
    flags: [['--grant-token <token>', 'grant token'], ['--key-id <id>', 'key'], ['--grant-id <id>', 'grant id']],
    request: (o) => ({ grantToken: o.grantToken, keyId: o.keyId, grantId: o.grantId }),
  },
  {
    name: 'revoke-grant',
    rpc: 'RevokeGrant',
    dryRun: true,
    describe: 'revoke a grant',
    flags: [keyIdFlag, ['--grant-id <id>', 'grant id']],
    request: (o) => ({ keyId: o.keyId, grantId: o.grantId }),
  },
];
