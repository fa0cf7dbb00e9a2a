import { parsePolicy, type CompiledPolicy } from './document.js';

/**
 * The default key policy AWS KMS gives a key created through the API without a Policy
 * (AWS KMS developer guide, "Default key policy"): one statement that gives the account root
 * `kms:*`, which lets the account's identity policies (and the root itself) control the key.
 * The text is laid out as AWS KMS returns it from GetKeyPolicy.
 */
export const DEFAULT_POLICY_ID = 'key-default-1';
export const DEFAULT_STATEMENT_SID = 'Enable IAM User Permissions';

export function defaultKeyPolicyText(account: string, partition = 'aws'): string {
  return `{
  "Version" : "2012-10-17",
  "Id" : "${DEFAULT_POLICY_ID}",
  "Statement" : [ {
    "Sid" : "${DEFAULT_STATEMENT_SID}",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:${partition}:iam::${account}:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`;
}

export function defaultKeyPolicy(account: string, partition = 'aws'): CompiledPolicy {
  return parsePolicy(defaultKeyPolicyText(account, partition), { kind: 'key' });
}
