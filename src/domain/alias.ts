import { KmsError } from './errors.js';
import type { ServiceLocation } from './ids.js';

/** `alias/` then 1–256 of [a-zA-Z0-9:/_-] (AWS KMS CreateAlias, AliasName). */
const ALIAS_NAME = /^alias\/[a-zA-Z0-9:/_-]{1,256}$/;
/** Reserved for AWS managed keys; nobody may create or point such an alias. */
const RESERVED_PREFIX = 'alias/aws/';

export function validateAliasName(name: string | undefined, field = 'AliasName'): string {
  if (name === undefined || name === '') throw new KmsError('ValidationException', `${field} is required.`);
  if (name.startsWith(RESERVED_PREFIX)) {
    throw new KmsError('NotAuthorizedException', `${field} must not begin with ${RESERVED_PREFIX}: that prefix is reserved.`);
  }
  if (!ALIAS_NAME.test(name)) {
    throw new KmsError(
      'InvalidAliasNameException',
      `${field} must be 'alias/' followed by 1 to 256 letters, digits, ':', '/', '_' or '-'.`,
    );
  }
  return name;
}

export function aliasArn(location: ServiceLocation, account: string, aliasName: string): string {
  return `arn:${location.partition}:kms:${location.region}:${account}:${aliasName}`;
}
