import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { dataDirLayout } from '../../src/cli/data-dir.js';
import { CLI, cli, type Credentials } from '../support/server-process.js';

export const KNOWN_PLAINTEXT = 'audit-e2e-known-plaintext-4d2f8a';

/** What a client learnt from one call: the request id the server put in its trailers, and the outcome. */
export interface Answer {
  readonly requestId: string | undefined;
  /** 'Success', the AWS error name from the `kms-error-type` trailer, or the gRPC code when there is none. */
  readonly outcome: string;
  readonly response?: any;
}

/** A unary call that also waits for the trailers, where the server names the request (kms-request-id). */
export function callForAnswer(client: any, method: string, request: object, timeoutMs = 30_000): Promise<Answer> {
  return new Promise((resolve) => {
    let result: { error?: grpc.ServiceError; response?: any } | undefined;
    let status: grpc.StatusObject | undefined;
    const settle = () => {
      if (!result || !status) return;
      const requestId = status.metadata.get('kms-request-id')[0]?.toString();
      const errorType = result.error?.metadata?.get('kms-error-type')[0]?.toString();
      resolve({
        requestId,
        outcome: result.error ? (errorType ?? `grpc-${result.error.code}`) : 'Success',
        response: result.response,
      });
    };
    const call = client[method](request, { deadline: Date.now() + timeoutMs }, (error: grpc.ServiceError | null, response: any) => {
      result = error ? { error } : { response };
      settle();
    });
    call.on('status', (received: grpc.StatusObject) => {
      status = received;
      settle();
    });
  });
}

/** One request of the mixed load: successes, denials and validation errors. */
export interface LoadRequest {
  readonly client: 'admin' | 'outsider';
  readonly method: string;
  readonly request: object;
  /** What the server must answer. */
  readonly expected: string;
}

export function mixedRequest(i: number, key: { keyId: string; arn: string; ciphertext: Buffer }): LoadRequest {
  switch (i % 7) {
    case 0:
      return {
        client: 'admin',
        method: 'Encrypt',
        request: { key_id: key.keyId, plaintext: Buffer.from(KNOWN_PLAINTEXT), encryption_context: { n: String(i) } },
        expected: 'Success',
      };
    case 1:
      return { client: 'admin', method: 'Decrypt', request: { ciphertext_blob: key.ciphertext }, expected: 'Success' };
    case 2:
      return { client: 'admin', method: 'GenerateDataKey', request: { key_id: key.arn, number_of_bytes: 32 }, expected: 'Success' };
    case 3:
      return { client: 'outsider', method: 'DescribeKey', request: { key_id: key.arn }, expected: 'AccessDeniedException' };
    case 4:
      return { client: 'admin', method: 'Encrypt', request: { key_id: key.keyId, plaintext: Buffer.alloc(4097) }, expected: 'ValidationException' };
    case 5:
      return { client: 'admin', method: 'GenerateRandom', request: { number_of_bytes: 2000 }, expected: 'ValidationException' };
    default:
      return { client: 'outsider', method: 'Encrypt', request: { key_id: key.arn, plaintext: Buffer.from(KNOWN_PLAINTEXT) }, expected: 'AccessDeniedException' };
  }
}

export interface AuditFiles {
  readonly exportFile: string;
  readonly publicKeyFile: string;
}

/** `p11kms audit export` and `p11kms audit public-key`, from the built CLI. */
export function exportAndKey(dataDir: string): AuditFiles {
  const exportFile = join(dataDir, `export-${Date.now()}.jsonl`);
  const publicKeyFile = join(dataDir, 'audit.pem');
  cli(['audit', 'export', '--data-dir', dataDir, '--out', exportFile]);
  const key = spawnSync(process.execPath, [CLI, 'audit', 'public-key', '--data-dir', dataDir], { encoding: 'utf8' });
  if (key.status !== 0) throw new Error(`audit public-key failed: ${key.stderr}`);
  writeFileSync(publicKeyFile, key.stdout);
  return { exportFile, publicKeyFile };
}

/** `p11kms audit verify`: its JSON report and exit code. */
export function verifyWithCli(files: AuditFiles): { status: number | null; report: any; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, 'audit', 'verify', files.exportFile, '--public-key', files.publicKeyFile], {
    encoding: 'utf8',
  });
  return { status: result.status, report: JSON.parse(result.stdout), stderr: result.stderr };
}

export function exportEntries(file: string): Array<Record<string, any>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line))
    .filter((line) => line.type === 'entry')
    .map((line) => line.entry);
}

export function adminCredentials(dataDir: string): Credentials {
  const layout = dataDirLayout(dataDir);
  return { ca: readFileSync(layout.caCert), cert: readFileSync(layout.adminCert), key: readFileSync(layout.adminKey) };
}

export function outsiderCredentials(dataDir: string): Credentials {
  const issued = cli(['issue-cert', '--data-dir', dataDir, '--principal', 'arn:aws:iam::444455556666:role/DeveloperRole']);
  return { ca: readFileSync(dataDirLayout(dataDir).caCert), cert: readFileSync(issued.cert), key: readFileSync(issued.key) };
}
