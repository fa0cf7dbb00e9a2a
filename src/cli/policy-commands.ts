import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parsePrincipal } from '../domain/principal.js';
import { authorizeKmsRequest, formatDecision, parsePolicy } from '../policy/index.js';
import { EMPTY_IDENTITY_POLICIES, parseIdentityPolicies } from '../policy/identity-policy-set.js';
import { callerConditions, encryptionContextConditions } from '../pipeline/request-conditions.js';
import { keyValuePairs } from './aws-json.js';
import { collect } from './command-spec.js';

interface ExplainOptions {
  principal: string;
  action: string;
  keyPolicy?: string;
  identityPolicies?: string;
  keyArn: string;
  encryptionContext?: string[];
  condition?: string[];
  sourceIp: string;
}

/**
 * `p11kms policy explain`: evaluates one request offline, exactly as the server would, and prints
 * the decision and the trace of every statement (no server, no token).
 */
export function registerPolicyCommands(program: Command, run: (action: () => Promise<unknown>) => Promise<void>): void {
  program
    .command('policy')
    .description('key policy tools')
    .command('explain')
    .description('evaluate a request against a key policy and identity policies, and print why it is allowed or denied')
    .requiredOption('--principal <arn>', 'the caller, e.g. arn:aws:iam::111122223333:role/DeveloperRole')
    .requiredOption('--action <action>', 'e.g. kms:Decrypt')
    .option('--key-policy <file>', 'key policy JSON (omit for account-level actions)')
    .option('--identity-policies <file>', 'identity policies file (the server’s --identity-policies format)')
    .option('--key-arn <arn>', 'the key', 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000')
    .option('--encryption-context <key=value>', 'encryption context pair (repeatable)', collect)
    .option('--condition <key=value>', 'any other condition key, e.g. kms:ViaService=s3.us-east-1.amazonaws.com (repeatable)', collect)
    .option('--source-ip <ip>', 'aws:SourceIp', '127.0.0.1')
    .action((options: ExplainOptions) =>
      run(async () => {
        const principal = parsePrincipal(options.principal);
        if (!principal) throw new Error(`not a principal: ${options.principal}`);
        const keyPolicy = options.keyPolicy ? parsePolicy(readFileSync(options.keyPolicy, 'utf8'), { kind: 'key' }) : undefined;
        const identity = options.identityPolicies
          ? parseIdentityPolicies(readFileSync(options.identityPolicies, 'utf8'), options.identityPolicies)
          : EMPTY_IDENTITY_POLICIES;
        const encryptionContext = options.encryptionContext ? keyValuePairs(options.encryptionContext, 'encryption context') : undefined;
        const keyAccount = keyPolicy ? options.keyArn.split(':')[4] : undefined;
        const callerAccount = principal.account ?? keyAccount ?? '';
        const decision = authorizeKmsRequest({
          keyPolicy,
          identityPolicies: identity.policiesFor(principal),
          keyAccount,
          request: {
            principal,
            action: options.action,
            resource: keyPolicy ? options.keyArn : '*',
            encryptionContext,
            callerAccount,
            context: {
              ...callerConditions({ principal, callerAccount, sourceAddress: options.sourceIp, now: new Date(), viaService: undefined }),
              ...encryptionContextConditions(encryptionContext),
              ...keyValuePairs(options.condition, 'condition'),
            },
          },
        });
        process.stdout.write(`${formatDecision(decision)}\n`);
        if (decision.decision === 'Deny') process.exitCode = 2;
        return undefined;
      }),
    );
}
