/**
 * The key policy statements of ../shared/seed/ (the AWS KMS guide "AWS KMS（Key Management Service）について",
 * sections "AWSリソースのKMSポリシー" and "IAMロールのKMSポリシー"), copied byte for byte. They are
 * statements, not whole documents; `seedPolicy` makes each a document exactly as an operator would:
 * ACCOUNT_ID becomes the account, the one `# comment` (not JSON) is removed, and the statement is
 * wrapped in {"Version": "2012-10-17", "Statement": [ … ]}. Nothing else is touched.
 */

/** 「S3サービス」 */
export const S3_SERVICE = `{
  "Sid": "AllowS3UseKey",
  "Effect": "Allow",
  "Principal": {
    "Service": "s3.amazonaws.com"
  },
  "Action": [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey"
  ],
  "Resource": "*"
}`;

/** 「DynamoDBサービス」 */
export const DYNAMODB_SERVICE = `{
  "Sid": "AllowDynamoDBUseKey",
  "Effect": "Allow",
  "Principal": {
    "Service": "dynamodb.amazonaws.com"
  },
  "Action": [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey"
  ],
  "Resource": "*"
}`;

/** 「管理者ロール」 */
export const ADMINISTRATOR_ROOT = `{
  "Sid": "AllowAccountRoot",
  "Effect": "Allow",
  "Principal": {
    "AWS": "arn:aws:iam::ACCOUNT_ID:root"
  },
  "Action": [
    "kms:*"  # 完全な管理権限
  ],
  "Resource": "*"
}`;

/** 「開発者ロール」 */
export const DEVELOPER_ROLE = `{
  "Sid": "AllowDeveloperAccess",
  "Effect": "Allow",
  "Principal": {
    "AWS": "arn:aws:iam::ACCOUNT_ID:role/DeveloperRole"
  },
  "Action": [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey"
  ],
  "Resource": "*"
}`;

/** 「SSOユーザーロール」 */
export const SSO_USERS = `{
  "Sid": "AllowSSOUserAccess",
  "Effect": "Allow",
  "Principal": {
    "AWS": [
      "arn:aws:sts::ACCOUNT_ID:assumed-role/SSO_ROLE/user1",
      "arn:aws:sts::ACCOUNT_ID:assumed-role/SSO_ROLE/user2"
    ]
  },
  "Action": [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey"
  ],
  "Resource": "*"
}`;

/** Strips a `# comment` to the end of its line; none of the seed's strings contain '#'. */
export function seedPolicy(statement: string, account: string): string {
  const json = statement.replaceAll('ACCOUNT_ID', account).replace(/[ \t]*#.*$/gm, '');
  return `{"Version": "2012-10-17", "Statement": [\n${json}\n]}`;
}
