import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cli, requireBuild, startServer, tempDir, type ServerProcess } from '../support/server-process.js';

let dataDir: string;
let server: ServerProcess;
const run = (...args: string[]) => cli([...args, '--data-dir', dataDir]);

beforeAll(async () => {
  requireBuild();
  dataDir = tempDir('p11kms-e2e-lifecycle-');
  server = await startServer(['--data-dir', dataDir]);
});
afterAll(async () => {
  await server?.stop();
});

describe('key lifecycle through the CLI and a spawned server', () => {
  it('aliases, rotation, tags, description and scheduled deletion, as AWS-shaped JSON', () => {
    const key = run('create-key', '--description', 'lifecycle').KeyMetadata;
    const spare = run('create-key').KeyMetadata;
    run('create-alias', '--alias-name', 'alias/app', '--target-key-id', key.KeyId);
    const sealed = run('encrypt', '--key-id', 'alias/app', '--plaintext', 'before rotation');

    expect(run('rotate-key-on-demand', '--key-id', 'alias/app')).toEqual({ KeyId: key.Arn });
    const rotations = run('list-key-rotations', '--key-id', key.KeyId);
    expect(rotations.Rotations).toHaveLength(1);
    expect(rotations.Rotations[0]).toMatchObject({ KeyId: key.Arn, RotationType: 'ON_DEMAND' });
    expect(Buffer.from(run('decrypt', '--ciphertext-blob', sealed.CiphertextBlob).Plaintext, 'base64').toString()).toBe('before rotation');

    run('enable-key-rotation', '--key-id', key.KeyId, '--rotation-period-in-days', '180');
    expect(run('get-key-rotation-status', '--key-id', key.KeyId)).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180 });
    run('disable-key-rotation', '--key-id', key.KeyId);
    expect(run('get-key-rotation-status', '--key-id', key.KeyId).KeyRotationEnabled).toBe(false);

    run('tag-resource', '--key-id', key.KeyId, '--tag', 'team=payments', '--tag', 'env=test');
    expect(run('list-resource-tags', '--key-id', 'alias/app').Tags).toEqual([
      { TagKey: 'env', TagValue: 'test' },
      { TagKey: 'team', TagValue: 'payments' },
    ]);
    run('untag-resource', '--key-id', key.KeyId, '--tag-key', 'env');
    expect(run('list-resource-tags', '--key-id', key.KeyId).Tags).toEqual([{ TagKey: 'team', TagValue: 'payments' }]);
    run('update-key-description', '--key-id', key.KeyId, '--description', 'renamed');
    expect(run('describe-key', '--key-id', key.KeyId).KeyMetadata.Description).toBe('renamed');

    const listed = run('list-aliases', '--key-id', key.KeyId).Aliases;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ AliasName: 'alias/app', TargetKeyId: key.KeyId, AliasArn: expect.stringMatching(/:alias\/app$/) });
    run('update-alias', '--alias-name', 'alias/app', '--target-key-id', spare.Arn);
    expect(run('describe-key', '--key-id', 'alias/app').KeyMetadata.KeyId).toBe(spare.KeyId);

    const scheduled = run('schedule-key-deletion', '--key-id', key.KeyId, '--pending-window-in-days', '7');
    expect(scheduled).toMatchObject({ KeyId: key.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(Date.parse(scheduled.DeletionDate) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(run('describe-key', '--key-id', key.KeyId).KeyMetadata.KeyState).toBe('PendingDeletion');
    run('cancel-key-deletion', '--key-id', key.KeyId);
    expect(run('describe-key', '--key-id', key.KeyId).KeyMetadata.KeyState).toBe('Disabled');
    run('delete-alias', '--alias-name', 'alias/app');
    expect(run('list-aliases').Aliases).toEqual([]);
  });

  it('grants: the constraint prints its encryption-context keys as given, and a revoked grant is gone', () => {
    const key = run('create-key').KeyMetadata;
    const grantee = 'arn:aws:iam::111122223333:role/DeveloperRole';
    const created = run(
      'create-grant', '--key-id', key.KeyId, '--grantee-principal', grantee, '--retiring-principal', grantee,
      '--operations', 'Encrypt', '--operations', 'Decrypt', '--encryption-context-subset', 'team=a',
    );
    expect(created.GrantId).toMatch(/^[0-9a-f]{64}$/);
    const [grant, ...others] = run('list-grants', '--key-id', key.KeyId).Grants;
    expect(others).toEqual([]);
    expect(grant).toMatchObject({ GrantId: created.GrantId, GranteePrincipal: grantee, Operations: ['Encrypt', 'Decrypt'] });
    // Only the constraint given, as the AWS CLI prints it: no empty EncryptionContextEquals beside it.
    expect(grant.Constraints).toEqual({ EncryptionContextSubset: { team: 'a' } });
    run('revoke-grant', '--key-id', key.KeyId, '--grant-id', created.GrantId);
    expect(run('list-grants', '--key-id', key.KeyId).Grants).toEqual([]);
  });
});

describe('the key spec under its deprecated name', () => {
  it('create-key takes --customer-master-key-spec, and describe-key prints CustomerMasterKeySpec beside KeySpec', () => {
    const made = run('create-key', '--customer-master-key-spec', 'ECC_NIST_P384', '--key-usage', 'SIGN_VERIFY').KeyMetadata;
    expect(made).toMatchObject({ KeySpec: 'ECC_NIST_P384', CustomerMasterKeySpec: 'ECC_NIST_P384', SigningAlgorithms: ['ECDSA_SHA_384'] });
    expect(run('describe-key', '--key-id', made.KeyId).KeyMetadata.CustomerMasterKeySpec).toBe('ECC_NIST_P384');
  });
});

describe('--dry-run through the CLI, TLS and a spawned server', () => {
  it('checks a request and does nothing: DryRunOperationException, else the error a real call would give; all in the ledger', () => {
    const key = run('create-key').KeyMetadata;
    expect(() => run('encrypt', '--key-id', key.KeyId, '--plaintext', 'not sealed', '--dry-run')).toThrow(
      '{"Error":"DryRunOperationException","Message":"The request would have succeeded; DryRun was specified, so nothing was done."}',
    );
    expect(() => run('decrypt', '--key-id', key.KeyId, '--dry-run', '--dry-run-modifiers', 'IGNORE_CIPHERTEXT')).toThrow(
      'DryRunOperationException',
    );
    const grant = ['create-grant', '--key-id', key.KeyId, '--grantee-principal', 'arn:aws:iam::111122223333:role/DeveloperRole'];
    expect(() => run(...grant, '--operations', 'Decrypt', '--dry-run')).toThrow('DryRunOperationException');
    expect(() => run(...grant, '--operations', 'Sign', '--dry-run')).toThrow('ValidationException');
    expect(run('list-grants', '--key-id', key.KeyId).Grants).toEqual([]);
    run('disable-key', '--key-id', key.KeyId);
    expect(() => run('encrypt', '--key-id', key.KeyId, '--plaintext', 'x', '--dry-run')).toThrow('DisabledException');

    const events = run('audit', 'list-events', '--key-id', key.KeyId).Events;
    expect(events.map((e: any) => [e.Operation, e.Outcome])).toEqual([
      ['CreateKey', 'Success'],
      ['Encrypt', 'DryRunOperationException'],
      ['Decrypt', 'DryRunOperationException'],
      ['CreateGrant', 'DryRunOperationException'],
      ['CreateGrant', 'ValidationException'],
      ['ListGrants', 'Success'],
      ['DisableKey', 'Success'],
      ['Encrypt', 'DisabledException'],
    ]);
  });
});

describe('the audit ledger through the CLI and the AuditService', () => {
  it('lists a key\'s entries with filters, newest first and by page, and shows the head and the key\'s last use', () => {
    const key = run('create-key').KeyMetadata;
    const sealed = run('encrypt', '--key-id', key.KeyId, '--plaintext', 'audited');
    run('decrypt', '--ciphertext-blob', sealed.CiphertextBlob);

    const all = run('audit', 'list-events', '--key-id', key.KeyId).Events;
    expect(all.map((e: any) => e.Operation)).toEqual(['CreateKey', 'Encrypt', 'Decrypt']);
    expect(all[2]).toMatchObject({ Outcome: 'Success', KeyArns: [key.Arn], Kind: 'request', Decision: { Allowed: true } });
    const newest = run('audit', 'list-events', '--key-id', key.Arn, '--newest-first', '--limit', '1');
    expect(newest).toMatchObject({ Truncated: true, Events: [{ Operation: 'Decrypt', Seq: all[2].Seq }] });
    const next = run('audit', 'list-events', '--key-id', key.Arn, '--newest-first', '--limit', '1', '--marker', newest.NextMarker);
    expect(next.Events.map((e: any) => e.Operation)).toEqual(['Encrypt']);
    const encrypts = run('audit', 'list-events', '--key-id', key.KeyId, '--operation', 'Encrypt', '--start-time', all[0].Time);
    expect(encrypts.Events.map((e: any) => e.Seq)).toEqual([all[1].Seq]);

    const head = run('audit', 'head');
    expect(BigInt(head.Seq)).toBeGreaterThan(BigInt(all[2].Seq)); // the list-events calls are entries too
    expect(head.Hash).toMatch(/^[0-9a-f]{64}$/);
    expect(run('audit', 'key-last-usage', '--key-id', key.KeyId)).toMatchObject({
      KeyId: key.Arn,
      KeyLastUsage: { Operation: 'Decrypt', LedgerSeq: all[2].Seq },
    });
    expect(run('audit', 'get-public-key').PublicKeyPem).toContain('BEGIN PUBLIC KEY');
  });

  it('refuses a bad time or limit with a clear error and no stack trace', () => {
    for (const [flag, value, says] of [
      ['--start-time', 'yesterday', 'Not an ISO 8601 time'],
      ['--limit', '1x', 'Not an integer'],
    ]) {
      const result = spawnSync(process.execPath, [CLI, 'audit', 'list-events', flag!, value!, '--data-dir', dataDir], { encoding: 'utf8' });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`argument '${value}' is invalid. ${says}`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(() => run('audit', 'list-events', '--limit', '0')).toThrow('ValidationException');
  });
});
