import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { dataDirLayout } from '../../src/cli/data-dir.js';
import { cli, rawClient, requireBuild, startServer, tempDir, unary, type ServerProcess } from '../support/server-process.js';

/**
 * The embedded setup's identity policies file, as the README tells a newcomer to use it: the
 * server starts without data/identity-policies.json, the file is written afterwards and the server
 * gets SIGHUP. Until 2026-11-30 a file created after start was never read (the path was only
 * configured when the file existed at start), while the log said "identity policies reloaded".
 */
const ROLE = 'arn:aws:iam::111122223333:role/DeveloperRole';

let dataDir: string;
let server: ServerProcess;
let developer: any;

const errorType = (error: grpc.ServiceError | undefined) => error?.metadata.get('kms-error-type')[0]?.toString();
const listKeys = async () => {
  const { error } = await unary(developer, 'ListKeys', {});
  return error ? (errorType(error) ?? `grpc ${error.code}`) : 'ok';
};

beforeAll(async () => {
  requireBuild();
  dataDir = tempDir('p11kms-e2e-identity-');
  cli(['init', '--data-dir', dataDir]);
  const layout = dataDirLayout(dataDir);
  expect(existsSync(layout.identityPolicies)).toBe(false);
  server = await startServer(['--data-dir', dataDir]);
  const issued = cli(['issue-cert', '--data-dir', dataDir, '--principal', ROLE]);
  developer = rawClient(server.address, { ca: readFileSync(layout.caCert), cert: readFileSync(issued.cert), key: readFileSync(issued.key) });
});

afterAll(async () => {
  developer?.close();
  await server?.stop();
});

describe('data/identity-policies.json created after start', () => {
  it('is read on SIGHUP, and once removed the next SIGHUP leaves no identity policies in force', async () => {
    expect(await listKeys()).toBe('AccessDeniedException');
    expect(server.output()).toContain('no identity policies file: none in force until it is created and the server gets SIGHUP');

    const path = dataDirLayout(dataDir).identityPolicies;
    writeFileSync(
      path,
      JSON.stringify({
        policies: { Lister: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:ListKeys', Resource: '*' }] } },
        attachments: { [ROLE]: ['Lister'] },
      }),
    );
    server.child.kill('SIGHUP');
    await expect.poll(listKeys, { timeout: 5000 }).toBe('ok');
    expect(server.output()).toMatch(/"path":"[^"]*identity-policies\.json"[^\n]*"msg":"identity policies reloaded"/);

    rmSync(path);
    server.child.kill('SIGHUP');
    await expect.poll(listKeys, { timeout: 5000 }).toBe('AccessDeniedException');
    expect(server.output()).toContain('identity policies file absent: no identity policies in force');
  });
});
