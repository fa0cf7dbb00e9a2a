/**
 * What the baseline servers (noop-server.ts, floor-server.ts, floor-full-server.ts) share, so that
 * they cannot drift apart: p11kms's proto, the key ARN they answer with, the garbage-collector
 * setting `p11kms serve` runs with (src/cli/gc-tuning.ts), and one gRPC server on a free loopback
 * port with mutual TLS from the bench service's files (a client certificate from its CA required),
 * which prints {"address": "127.0.0.1:PORT"} once it listens and stops on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { tuneGarbageCollection } from '../src/cli/gc-tuning.js';

const definition = protoLoader.loadSync('p11kms/v1/kms.proto', {
  keepCase: true, longs: String, enums: String, defaults: false, arrays: true, objects: true, oneofs: true,
  includeDirs: [resolve('proto')],
});
export const KMS_SERVICE = (grpc.loadPackageDefinition(definition) as any).p11kms.v1.KeyManagementService.service as grpc.ServiceDefinition;
export const BASELINE_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000';

export function serveBaseline(handlers: grpc.UntypedServiceImplementation, tls: { ca: string; cert: string; key: string }, onStop?: () => void): void {
  tuneGarbageCollection();
  const server = new grpc.Server();
  server.addService(KMS_SERVICE, handlers);
  server.bindAsync(
    '127.0.0.1:0',
    grpc.ServerCredentials.createSsl(readFileSync(tls.ca), [{ private_key: readFileSync(tls.key), cert_chain: readFileSync(tls.cert) }], true),
    (error, port) => {
      if (error) throw error;
      process.stdout.write(`${JSON.stringify({ address: `127.0.0.1:${port}` })}\n`);
    },
  );
  process.on('SIGTERM', () => {
    server.forceShutdown();
    onStop?.();
  });
}
