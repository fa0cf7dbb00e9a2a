import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { dataDirLayout } from '../../src/cli/data-dir.js';
import { cli, rawClient, requireBuild, startServer, tempDir, unary, type Credentials, type ServerProcess } from '../support/server-process.js';
import { ADMINISTRATOR_ROOT, DEVELOPER_ROLE, DYNAMODB_SERVICE, S3_SERVICE, SSO_USERS } from '../unit/policy/seed-policies.js';

/**
 * The seed's policies (../shared/seed/), used verbatim as one key policy, through the gRPC API with
 * real client certificates: each principal may do exactly what its statement says.
 */
const ACCOUNT = '111122223333';
const SEED_POLICY = `{"Version": "2012-10-17", "Statement": [\n${[ADMINISTRATOR_ROOT, DEVELOPER_ROLE, SSO_USERS, S3_SERVICE, DYNAMODB_SERVICE]
  .map((statement) => statement.replaceAll('ACCOUNT_ID', ACCOUNT).replace(/[ \t]*#.*$/gm, ''))
  .join(',\n')}\n]}`;

const PRINCIPALS = {
  developer: `arn:aws:iam::${ACCOUNT}:role/DeveloperRole`,
  user1: `arn:aws:sts::${ACCOUNT}:assumed-role/SSO_ROLE/user1`,
  user2: `arn:aws:sts::${ACCOUNT}:assumed-role/SSO_ROLE/user2`,
  user3: `arn:aws:sts::${ACCOUNT}:assumed-role/SSO_ROLE/user3`,
  s3: 's3.amazonaws.com',
  outsider: 'arn:aws:iam::444455556666:role/DeveloperRole',
} as const;

let dataDir: string;
let server: ServerProcess;
const clients: Record<string, any> = {};
let keyArn: string;

function credentialsFor(name: string, principal: string, ca: Buffer): Credentials {
  const issued = cli(['issue-cert', '--data-dir', dataDir, '--principal', principal, '--name', name]);
  return { ca, cert: readFileSync(issued.cert), key: readFileSync(issued.key) };
}

const errorType = (error: grpc.ServiceError | undefined) => error?.metadata.get('kms-error-type')[0]?.toString();

/** The outcome of one call: 'ok' or the AWS exception name. */
async function outcome(who: string, rpc: string, request: object, metadata?: grpc.Metadata): Promise<string> {
  const client = clients[who];
  const result = await new Promise<{ error?: grpc.ServiceError }>((resolve) =>
    client[rpc](request, metadata ?? new grpc.Metadata(), { deadline: Date.now() + 15_000 }, (error: grpc.ServiceError | null) =>
      resolve(error ? { error } : {}),
    ),
  );
  return result.error ? (errorType(result.error) ?? `grpc ${result.error.code}`) : 'ok';
}

beforeAll(async () => {
  requireBuild();
  dataDir = tempDir('p11kms-e2e-authz-');
  cli(['init', '--data-dir', dataDir]);
  const layout = dataDirLayout(dataDir);
  const ca = readFileSync(layout.caCert);
  // s3 may call on behalf of the users it names (issue 5, "Service principals and on-behalf-of").
  writeFileSync(layout.identityPolicies, JSON.stringify({ policies: {}, attachments: {}, onBehalfOf: ['s3.amazonaws.com'] }));
  server = await startServer(['--data-dir', dataDir]);
  clients.admin = rawClient(server.address, { ca, cert: readFileSync(layout.adminCert), key: readFileSync(layout.adminKey) });
  for (const [name, principal] of Object.entries(PRINCIPALS)) {
    clients[name] = rawClient(server.address, credentialsFor(name, principal, ca));
  }
  const created = await unary(clients.admin, 'CreateKey', { description: 'seed policy', policy: SEED_POLICY });
  expect(created.error).toBeUndefined();
  keyArn = created.response.key_metadata.arn;
});

afterAll(async () => {
  for (const client of Object.values(clients)) client.close();
  await server?.stop();
});

describe('the seed key policies, verbatim, through gRPC with real client certificates', () => {
  it('stores the seed policy byte for byte', async () => {
    const { response } = await unary(clients.admin, 'GetKeyPolicy', { key_id: keyArn, policy_name: 'default' });
    expect(response.policy).toBe(SEED_POLICY);
  });

  it('lets the administrator (account root, kms:*) manage the key', async () => {
    expect(await outcome('admin', 'DisableKey', { key_id: keyArn })).toBe('ok');
    expect(await outcome('admin', 'EnableKey', { key_id: keyArn })).toBe('ok');
    expect(await outcome('admin', 'TagResource', { key_id: keyArn, tags: [{ tag_key: 'k', tag_value: 'v' }] })).toBe('ok');
    expect(await outcome('admin', 'PutKeyPolicy', { key_id: keyArn, policy_name: 'default', policy: SEED_POLICY })).toBe('ok');
  });

  it('lets the developer role encrypt, decrypt, make data keys and describe, and nothing else', async () => {
    const sealed = await unary(clients.developer, 'Encrypt', { key_id: keyArn, plaintext: Buffer.from('dev data') });
    expect(sealed.error).toBeUndefined();
    expect(await outcome('developer', 'Decrypt', { ciphertext_blob: sealed.response.ciphertext_blob })).toBe('ok');
    expect(await outcome('developer', 'GenerateDataKey', { key_id: keyArn, key_spec: 'DATA_KEY_SPEC_AES_256' })).toBe('ok');
    expect(await outcome('developer', 'DescribeKey', { key_id: keyArn })).toBe('ok');
    // "kms:GenerateDataKey" is exact, and "kms:ReEncrypt" names no real action (ReEncryptFrom/To).
    expect(await outcome('developer', 'GenerateDataKeyWithoutPlaintext', { key_id: keyArn, key_spec: 'DATA_KEY_SPEC_AES_256' })).toBe('AccessDeniedException');
    expect(await outcome('developer', 'ReEncrypt', { ciphertext_blob: sealed.response.ciphertext_blob, destination_key_id: keyArn })).toBe('AccessDeniedException');
    expect(await outcome('developer', 'DisableKey', { key_id: keyArn })).toBe('AccessDeniedException');
    expect(await outcome('developer', 'ScheduleKeyDeletion', { key_id: keyArn })).toBe('AccessDeniedException');
    expect(await outcome('developer', 'PutKeyPolicy', { key_id: keyArn, policy: SEED_POLICY })).toBe('AccessDeniedException');
  });

  it('lets the two named SSO sessions use the key, and not another session of the same role', async () => {
    for (const user of ['user1', 'user2']) {
      expect(await outcome(user, 'Encrypt', { key_id: keyArn, plaintext: Buffer.from('x') })).toBe('ok');
      expect(await outcome(user, 'DescribeKey', { key_id: keyArn })).toBe('ok');
      expect(await outcome(user, 'CreateAlias', { alias_name: `alias/${user}`, target_key_id: keyArn })).toBe('AccessDeniedException');
    }
    expect(await outcome('user3', 'Encrypt', { key_id: keyArn, plaintext: Buffer.from('x') })).toBe('AccessDeniedException');
  });

  it('lets the s3 service principal use the wildcard actions, but not manage the key', async () => {
    const sealed = await unary(clients.s3, 'Encrypt', { key_id: keyArn, plaintext: Buffer.from('object') });
    expect(sealed.error).toBeUndefined();
    expect(await outcome('s3', 'ReEncrypt', { ciphertext_blob: sealed.response.ciphertext_blob, destination_key_id: keyArn })).toBe('ok');
    expect(await outcome('s3', 'GenerateDataKeyWithoutPlaintext', { key_id: keyArn, key_spec: 'DATA_KEY_SPEC_AES_256' })).toBe('ok');
    expect(await outcome('s3', 'DisableKey', { key_id: keyArn })).toBe('AccessDeniedException');
  });

  it('lets s3 call on behalf of a user, who is then the principal', async () => {
    const asUser1 = new grpc.Metadata();
    asUser1.set('kms-on-behalf-of', PRINCIPALS.user1);
    expect(await outcome('s3', 'Encrypt', { key_id: keyArn, plaintext: Buffer.from('x') }, asUser1)).toBe('ok');
    const asUser3 = new grpc.Metadata();
    asUser3.set('kms-on-behalf-of', PRINCIPALS.user3);
    expect(await outcome('s3', 'Encrypt', { key_id: keyArn, plaintext: Buffer.from('x') }, asUser3)).toBe('AccessDeniedException');
    // The developer role is no trusted service: it cannot speak for anyone.
    expect(await outcome('developer', 'Encrypt', { key_id: keyArn, plaintext: Buffer.from('x') }, asUser1)).toBe('AccessDeniedException');
  });

  it('refuses another account, telling it only the action and key, and logs why', async () => {
    const denied = await unary(clients.outsider, 'DescribeKey', { key_id: keyArn });
    expect(errorType(denied.error)).toBe('AccessDeniedException');
    expect(denied.error!.details).toBe(`AccessDeniedException: User: ${PRINCIPALS.outsider} is not authorized to perform: kms:DescribeKey on resource: ${keyArn}`);
    expect(server.output()).toMatch(/"msg":"access denied"[^\n]*|"reason":"[^"]+"[^\n]*"msg":"access denied"/);
  });

  it('reloads identity policies on SIGHUP: a role gains what its new policy and the key policy allow', async () => {
    expect(await outcome('developer', 'ListKeys', {})).toBe('AccessDeniedException');
    writeFileSync(
      dataDirLayout(dataDir).identityPolicies,
      JSON.stringify({
        policies: { Lister: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:ListKeys', 'kms:DisableKey'], Resource: '*' }] } },
        attachments: { [PRINCIPALS.developer]: ['Lister'] },
        onBehalfOf: ['s3.amazonaws.com'],
      }),
    );
    server.child.kill('SIGHUP');
    await expect.poll(() => outcome('developer', 'ListKeys', {}), { timeout: 5000 }).toBe('ok');
    // The seed's root statement delegates to identity policies, so DisableKey is now allowed too.
    expect(await outcome('developer', 'DisableKey', { key_id: keyArn })).toBe('ok');
    expect(await outcome('admin', 'EnableKey', { key_id: keyArn })).toBe('ok');
  });
});
