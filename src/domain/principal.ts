import { parseArn, isAccountId } from './ids.js';

/**
 * Who is calling, taken from the client certificate's URI SAN (DESIGN.md, "Identity").
 * `account` is undefined only for service principals (`s3.amazonaws.com`), which belong to no account.
 */
export interface Principal {
  readonly kind: 'root' | 'role' | 'user' | 'assumed-role' | 'service';
  readonly arn: string;
  readonly account: string | undefined;
}

const SERVICE_PRINCIPAL = /^[a-z0-9][a-z0-9.-]*\.amazonaws\.com$/;

export function parsePrincipal(value: string): Principal | undefined {
  if (SERVICE_PRINCIPAL.test(value)) return { kind: 'service', arn: value, account: undefined };
  const arn = parseArn(value);
  if (!arn || !isAccountId(arn.account) || arn.region !== '') return undefined;
  if (arn.service === 'iam') {
    if (arn.resource === 'root') return { kind: 'root', arn: value, account: arn.account };
    if (/^role\/.+/.test(arn.resource)) return { kind: 'role', arn: value, account: arn.account };
    if (/^user\/.+/.test(arn.resource)) return { kind: 'user', arn: value, account: arn.account };
  }
  if (arn.service === 'sts' && /^assumed-role\/[^/]+\/.+/.test(arn.resource)) {
    return { kind: 'assumed-role', arn: value, account: arn.account };
  }
  return undefined;
}
