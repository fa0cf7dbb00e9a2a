/**
 * The gRPC baseline: the same proto, the same mutual TLS and the same message sizes as p11kms,
 * with handlers that do nothing but answer. `node dist/bench/noop-server.js CA CERT KEY [BURN_US]`
 * prints {"address": "127.0.0.1:PORT"} once it listens. With BURN_US, every handler first spins on
 * the CPU for that many microseconds: a calibration (bench/calibrate.ts) of what any server that
 * adds that much work per call reaches on this machine, with no memory traffic of its own.
 */
import type * as grpc from '@grpc/grpc-js';
import { BASELINE_KEY_ARN as keyArn, KMS_SERVICE, serveBaseline } from './baseline-grpc.js';

const [ca, cert, key, burnArg] = process.argv.slice(2) as [string, string, string, string | undefined];
const burnNs = BigInt(Math.round(Number(burnArg ?? 0) * 1000));
// Answers the size of p11kms's: a 1 KiB plaintext gives a 1,085-byte ciphertext blob.
const blob = Buffer.alloc(1085, 7);
const answers: Record<string, unknown> = {
  Encrypt: { ciphertext_blob: blob, key_id: keyArn, encryption_algorithm: 'ENCRYPTION_ALGORITHM_SPEC_SYMMETRIC_DEFAULT' },
  Decrypt: { plaintext: Buffer.alloc(1024, 7), key_id: keyArn, encryption_algorithm: 'ENCRYPTION_ALGORITHM_SPEC_SYMMETRIC_DEFAULT' },
};
const handlers: grpc.UntypedServiceImplementation = {};
for (const name of Object.keys(KMS_SERVICE)) {
  handlers[name] = (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    if (burnNs > 0n) for (const until = process.hrtime.bigint() + burnNs; process.hrtime.bigint() < until; );
    callback(null, answers[name] ?? {});
  };
}
serveBaseline(handlers, { ca, cert, key });
