import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { createCertificateAuthority, issueClientCertificate } from '../../src/cli/pki.js';
import { dataDirLayout } from '../../src/cli/data-dir.js';
import { SqliteMetadataStore } from '../../src/adapters/sql/sqlite.js';
import { cli, rawClient, requireBuild, startServer, tempDir, unary, type Credentials, type ServerProcess } from '../support/server-process.js';
import { dataDirToken, listObjectsWithPkcs11Tool } from '../support/softhsm.js';

const KNOWN_PLAINTEXT = 'e2e-known-plaintext-7f3a9c';
const SERVICE = 'p11kms.v1.KeyManagementService';

let dataDir: string;
let server: ServerProcess;
let admin: Credentials;
let outsider: Credentials;
let client: any;

beforeAll(async () => {
  requireBuild();
  dataDir = tempDir('p11kms-e2e-');
  const init = cli(['init', '--data-dir', dataDir]);
  expect(init.created.length).toBeGreaterThan(0);
  const layout = dataDirLayout(dataDir);
  const issued = cli(['issue-cert', '--data-dir', dataDir, '--principal', 'arn:aws:iam::444455556666:role/DeveloperRole']);
  admin = { ca: readFileSync(layout.caCert), cert: readFileSync(layout.adminCert), key: readFileSync(layout.adminKey) };
  outsider = { ca: admin.ca, cert: readFileSync(issued.cert), key: readFileSync(issued.key) };
  server = await startServer(['--data-dir', dataDir, '--access-log']);
  client = rawClient(server.address, admin);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

function errorType(error: grpc.ServiceError | undefined): string | undefined {
  return error?.metadata.get('kms-error-type')[0]?.toString();
}

describe('p11kms serve over mutual TLS, from a separate client process', () => {
  it('serves the standard health service', async () => {
    const health = rawClient(server.address, admin, 'health/v1/health.proto', 'grpc.health.v1.Health', [
      resolve('node_modules/grpc-health-check/proto'),
    ]);
    const { response } = await unary(health, 'Check', { service: SERVICE });
    expect(response.status).toBe('SERVING');
    health.close();
  });

  it('serves reflection listing the KMS service', async () => {
    const reflection = rawClient(server.address, admin, 'grpc/reflection/v1/reflection.proto', 'grpc.reflection.v1.ServerReflection', [
      resolve('node_modules/@grpc/reflection/build/proto'),
    ]);
    const services = await new Promise<string[]>((resolvePromise, reject) => {
      const call = reflection.ServerReflectionInfo();
      call.on('data', (message: any) => {
        resolvePromise(message.list_services_response.service.map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
    expect(services).toContain(SERVICE);
    reflection.close();
  });

  it('creates a key, encrypts and decrypts, and makes data keys through gRPC', async () => {
    const created = await unary(client, 'CreateKey', { description: 'e2e', tags: [{ tag_key: 'env', tag_value: 'test' }] });
    expect(created.error).toBeUndefined();
    const metadata = created.response.key_metadata;
    expect(metadata).toMatchObject({ key_spec: 'KEY_SPEC_SYMMETRIC_DEFAULT', key_state: 'KEY_STATE_ENABLED', enabled: true });
    expect(Number(metadata.creation_date.seconds)).toBeGreaterThan(1_700_000_000);

    const context = { app: 'e2e' };
    const encrypted = await unary(client, 'Encrypt', { key_id: metadata.key_id, plaintext: Buffer.from(KNOWN_PLAINTEXT), encryption_context: context });
    expect(encrypted.response.key_id).toBe(metadata.arn);
    const decrypted = await unary(client, 'Decrypt', { ciphertext_blob: encrypted.response.ciphertext_blob, encryption_context: context });
    expect(decrypted.response.plaintext.toString()).toBe(KNOWN_PLAINTEXT);

    const dataKey = await unary(client, 'GenerateDataKey', { key_id: metadata.arn, key_spec: 'DATA_KEY_SPEC_AES_256' });
    expect(dataKey.response.plaintext).toHaveLength(32);
    expect(dataKey.response.plaintext.equals(Buffer.alloc(32))).toBe(false);
    const opened = await unary(client, 'Decrypt', { ciphertext_blob: dataKey.response.ciphertext_blob });
    expect(opened.response.plaintext).toEqual(dataKey.response.plaintext);

    const random = await unary(client, 'GenerateRandom', { number_of_bytes: 64 });
    expect(random.response.plaintext).toHaveLength(64);

    // OpenSC, independent of p11kms, lists the new key as sensitive and never extractable.
    const layout = dataDirLayout(dataDir);
    const store = SqliteMetadataStore.open(layout.database);
    const key = await store.getKey(metadata.key_id);
    await store.close();
    const listing = execFileSync(
      'pkcs11-tool',
      ['--module', '/usr/lib/softhsm/libsofthsm2.so', '--token-label', 'p11kms', '--login', '--pin', readFileSync(layout.pinFile, 'utf8').trim(), '--list-objects'],
      { env: { ...process.env, SOFTHSM2_CONF: layout.softhsmConf }, encoding: 'utf8' },
    );
    const block = listing.split(/\n(?=\S)/).find((entry) => entry.includes(key!.currentVersionId.replaceAll('-', '')));
    expect(block).toContain(`label:      p11kms:${metadata.key_id}:${key!.currentVersionId}`);
    const access = /Access:\s+(.*)/.exec(block!)![1]!.split(', ');
    expect(access).toEqual(expect.arrayContaining(['sensitive', 'never extractable']));
    expect(access).not.toContain('extractable');
  });

  it('maps errors once: gRPC code, the AWS name in a trailer and in google.rpc.ErrorInfo', async () => {
    const root = protobuf.loadSync(resolve('proto/google/rpc/status.proto'));
    const Status = root.lookupType('google.rpc.Status');
    const ErrorInfo = root.lookupType('google.rpc.ErrorInfo');

    const missing = await unary(client, 'DescribeKey', { key_id: '00000000-0000-4000-8000-000000000000' });
    expect(missing.error!.code).toBe(grpc.status.NOT_FOUND);
    expect(errorType(missing.error)).toBe('NotFoundException');
    const status = Status.decode(missing.error!.metadata.get('grpc-status-details-bin')[0] as Buffer) as any;
    const info = ErrorInfo.decode(status.details[0].value) as any;
    expect(info.reason).toBe('NotFoundException');
    expect(status.code).toBe(grpc.status.NOT_FOUND);

    const key = (await unary(client, 'CreateKey', {})).response.key_metadata;
    const tooBig = await unary(client, 'Encrypt', { key_id: key.key_id, plaintext: Buffer.alloc(4097) });
    expect([tooBig.error!.code, errorType(tooBig.error)]).toEqual([grpc.status.INVALID_ARGUMENT, 'ValidationException']);
    const garbage = await unary(client, 'Decrypt', { ciphertext_blob: Buffer.from('definitely not a ciphertext blob, but long enough to parse........') });
    expect([garbage.error!.code, errorType(garbage.error)]).toEqual([grpc.status.INVALID_ARGUMENT, 'InvalidCiphertextException']);
    const range = await unary(client, 'GenerateRandom', { number_of_bytes: 1025 });
    expect(errorType(range.error)).toBe('ValidationException');

    await unary(client, 'DisableKey', { key_id: key.key_id });
    const disabled = await unary(client, 'Encrypt', { key_id: key.key_id, plaintext: Buffer.from('x') });
    expect([disabled.error!.code, errorType(disabled.error)]).toEqual([grpc.status.FAILED_PRECONDITION, 'DisabledException']);

    const other = rawClient(server.address, outsider);
    const denied = await unary(other, 'DescribeKey', { key_id: key.arn });
    expect([denied.error!.code, errorType(denied.error)]).toEqual([grpc.status.PERMISSION_DENIED, 'AccessDeniedException']);
    expect(denied.error!.details).not.toContain('account-boundary');
    other.close();
  });

  it('refuses a client certificate from another CA at the TLS handshake', async () => {
    const foreignCa = await createCertificateAuthority({ commonName: 'p11kms development CA', validDays: 1 });
    const foreign = await issueClientCertificate(foreignCa, { principal: 'arn:aws:iam::111122223333:root', validDays: 1 });
    const intruder = rawClient(server.address, { ca: admin.ca, cert: Buffer.from(foreign.certPem), key: Buffer.from(foreign.keyPem) });
    const result = await unary(intruder, 'ListKeys', {});
    expect(result.response).toBeUndefined();
    expect(result.error!.code).toBe(grpc.status.UNAVAILABLE);
    intruder.close();
  });

  it('serves the CLI client commands, which print AWS-shaped JSON', () => {
    const created = cli(['create-key', '--data-dir', dataDir, '--description', 'from the cli']);
    expect(created.KeyMetadata.Description).toBe('from the cli');
    const encrypted = cli(['encrypt', '--data-dir', dataDir, '--key-id', created.KeyMetadata.Arn, '--plaintext', KNOWN_PLAINTEXT, '--encryption-context', 'k=v']);
    const decrypted = cli(['decrypt', '--data-dir', dataDir, '--ciphertext-blob', encrypted.CiphertextBlob, '--encryption-context', 'k=v']);
    expect(Buffer.from(decrypted.Plaintext, 'base64').toString()).toBe(KNOWN_PLAINTEXT);
    const failed = spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), 'decrypt', '--data-dir', dataDir, '--ciphertext-blob', encrypted.CiphertextBlob], { encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(JSON.parse(failed.stderr).Error).toBe('InvalidCiphertextException');
  });

  it('stops at once on a wrong PIN, without printing it', async () => {
    const layout = dataDirLayout(dataDir);
    const configFile = join(tempDir('p11kms-config-'), 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        pkcs11: { library: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'p11kms', pinEnv: 'P11KMS_E2E_PIN', softhsmConf: layout.softhsmConf },
        tls: { ca: layout.caCert, cert: layout.serverCert, key: layout.serverKey },
        store: { sqlite: join(dataDir, 'other.db') },
      }),
    );
    const wrongPin = 'wrong-pin-3b8e1d';
    const result = spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), 'serve', '--config', configFile, '--listen', '127.0.0.1:0'], {
      env: { ...process.env, P11KMS_E2E_PIN: wrongPin },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stdout + result.stderr).toContain('CKR_PIN_INCORRECT');
    expect(result.stdout + result.stderr).not.toContain(wrongPin);
  });

  it('refuses a configuration naming a missing file before it touches the token or the store', () => {
    // A fresh token: starting the service would make the audit key in it and a database beside it.
    const fresh = tempDir('p11kms-e2e-badconfig-');
    cli(['init', '--data-dir', fresh]);
    const layout = dataDirLayout(fresh);
    const database = join(fresh, 'configured.db');
    const configFile = join(fresh, 'config.json');
    const base = {
      pkcs11: { library: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'p11kms', pinFile: layout.pinFile, softhsmConf: layout.softhsmConf },
      tls: { ca: layout.caCert, cert: layout.serverCert, key: layout.serverKey },
      store: { sqlite: database },
    };
    const serve = (config: object) => {
      writeFileSync(configFile, JSON.stringify(config));
      return spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), 'serve', '--config', configFile, '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 30_000 });
    };
    const missing = join(fresh, 'identity-policies.json');
    const noPolicies = serve({ ...base, identityPolicies: missing });
    expect(noPolicies.status).toBe(1);
    expect(noPolicies.stdout + noPolicies.stderr).toContain(`identity policies file ${missing}: does not exist`);
    const noCert = serve({ ...base, tls: { ...base.tls, cert: join(fresh, 'server-typo.pem') } });
    expect(noCert.status).toBe(1);
    expect(noCert.stdout + noCert.stderr).toContain('server-typo.pem');

    expect(existsSync(database)).toBe(false);
    expect(listObjectsWithPkcs11Tool(dataDirToken(fresh))).not.toContain('p11kms:audit-signing-key');
  });

  it('never printed the plaintext or the PIN (checked after a clean shutdown)', async () => {
    const pin = readFileSync(dataDirLayout(dataDir).pinFile, 'utf8').trim();
    const exitCode = await server.stop();
    expect(exitCode).toBe(0);
    const printed = server.output();
    expect(printed).toContain('"operation":"Encrypt"'); // the access log (--access-log) was on: every request is in it
    expect(printed).not.toContain(KNOWN_PLAINTEXT);
    expect(printed).not.toContain(Buffer.from(KNOWN_PLAINTEXT).toString('base64'));
    expect(printed).not.toContain(pin);
  });
});
