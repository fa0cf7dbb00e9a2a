/**
 * The gRPC baseline: the same proto, the same mutual TLS and the same message sizes as p11kms,
 * with handlers that do nothing but answer. `node dist/bench/noop-server.js CA CERT KEY [BURN_US]`
 * prints {"address": "127.0.0.1:PORT"} once it listens. With BURN_US, every handler first spins on
 * the CPU for that many microseconds: a calibration (bench/calibrate.ts) of what any server that
 * adds that much work per call reaches on this machine, with no memory traffic of its own.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const [ca, cert, key, burnArg] = process.argv.slice(2) as [string, string, string, string | undefined];
const burnNs = BigInt(Math.round(Number(burnArg ?? 0) * 1000));
const definition = protoLoader.loadSync('p11kms/v1/kms.proto', {
  keepCase: true, longs: String, enums: String, defaults: false, arrays: true, objects: true, oneofs: true,
  includeDirs: [resolve('proto')],
});
const service = (grpc.loadPackageDefinition(definition) as any).p11kms.v1.KeyManagementService.service as grpc.ServiceDefinition;
const keyArn = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000';
// Answers the size of p11kms's: a 1 KiB plaintext gives a 1,085-byte ciphertext blob.
const blob = Buffer.alloc(1085, 7);
const answers: Record<string, unknown> = {
  Encrypt: { ciphertext_blob: blob, key_id: keyArn, encryption_algorithm: 'ENCRYPTION_ALGORITHM_SPEC_SYMMETRIC_DEFAULT' },
  Decrypt: { plaintext: Buffer.alloc(1024, 7), key_id: keyArn, encryption_algorithm: 'ENCRYPTION_ALGORITHM_SPEC_SYMMETRIC_DEFAULT' },
};
const handlers: grpc.UntypedServiceImplementation = {};
for (const name of Object.keys(service)) {
  handlers[name] = (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    if (burnNs > 0n) for (const until = process.hrtime.bigint() + burnNs; process.hrtime.bigint() < until; );
    callback(null, answers[name] ?? {});
  };
}
const server = new grpc.Server();
server.addService(service, handlers);
server.bindAsync(
  '127.0.0.1:0',
  grpc.ServerCredentials.createSsl(readFileSync(ca), [{ private_key: readFileSync(key), cert_chain: readFileSync(cert) }], true),
  (error, port) => {
    if (error) throw error;
    process.stdout.write(`${JSON.stringify({ address: `127.0.0.1:${port}` })}\n`);
  },
);
process.on('SIGTERM', () => server.forceShutdown());
