/**
 * The full floor: the floor server (floor-server.ts) plus, for every Encrypt, the rest of what the
 * issues require of p11kms's answer — done with p11kms's own code, in straight-line synchronous
 * code, without the pipeline, the metadata store, admission turns or the token's turn batches:
 *  - the caller: the client certificate's URI SANs, read once per connection as p11kms reads them;
 *  - validation of the plaintext and the encryption context, and the key record (one, in memory);
 *  - the AWS condition keys of the caller, the key and the encryption context, and the decision
 *    of src/policy (authorizeKmsRequest) over the bench's key policy, compiled once;
 *  - the token call with the canonical encryption context as AAD, and p11kms's ciphertext blob;
 *  - the audit entry as p11kms records it, through p11kms's ledger (src/audit/ledger.ts: group
 *    commit, hash chain) into p11kms's SQLite schema on its writer thread, index rows included;
 *  - the request id trailer.
 * Whatever p11kms spends beyond this server is the cost of its structure (the asynchronous
 * pipeline, the store and cache layers, the admission and batching of work), not of what it must
 * compute and store.
 *
 * `node dist/bench/floor-full-server.js CA CERT KEY PINFILE DB POLICY_JSON`, with SOFTHSM2_CONF
 * naming the token's configuration, prints {"address": "127.0.0.1:PORT"} once it listens.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { SqliteLedgerStore } from '../src/adapters/sql/sqlite-ledger.js';
import { Ledger } from '../src/audit/ledger.js';
import { encodeCiphertext } from '../src/domain/ciphertext.js';
import { canonicalEncryptionContext, type EncryptionContext } from '../src/domain/encryption-context.js';
import { isKmsError, KmsError } from '../src/domain/errors.js';
import { parseKeyReference } from '../src/domain/ids.js';
import type { KeyRecord } from '../src/domain/key.js';
import { boundedMemo } from '../src/domain/memo.js';
import { parsePrincipal, type Principal } from '../src/domain/principal.js';
import { validateContext, validatePlaintext } from '../src/operations/symmetric.js';
import type { AuditEvent } from '../src/ports/audit-sink.js';
import { callerConditions, encryptionContextConditions, keyConditions } from '../src/pipeline/request-conditions.js';
import { authorizeKmsRequest, parsePolicy } from '../src/policy/index.js';
import { REQUEST_ID_TRAILER } from '../src/transport/grpc/errors.js';
import { peerIdentities } from '../src/transport/grpc/server.js';
import { serveBaseline } from './baseline-grpc.js';
import { FloorToken } from './floor-token.js';

const [ca, cert, tlsKey, pinFile, dbPath, policyText] = process.argv.slice(2) as [string, string, string, string, string, string];

const token = new FloorToken(pinFile);

/**
 * To measure what each part costs, P11KMS_BENCH_FLOOR_SKIP may name parts to leave out (comma
 * separated): `policy` (condition keys and the decision), `entry` (an audit entry with no caller,
 * key, parameters or decision: no index rows), `trailer` (the request id), `ledger` (no audit at all).
 */
const SKIP = new Set((process.env.P11KMS_BENCH_FLOOR_SKIP ?? '').split(','));
const ACCOUNT = '111122223333';
const keyId = randomUUID();
const key: KeyRecord = {
  id: keyId, arn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`, account: ACCOUNT, keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS', description: '', state: 'Enabled', createdAt: new Date(), deletionDate: undefined,
  currentVersionId: randomUUID(),
};
const keyPolicy = parsePolicy(policyText, { kind: 'key' });
const keyConditionKeys = keyConditions(key, [], [], undefined);

const ledgerStore = await SqliteLedgerStore.open(dbPath);
const ledger = await Ledger.open({ store: ledgerStore, logger: { error: (fields, message) => process.stderr.write(`${message}\n`) } });

/** The caller as p11kms finds it: the certificate's URI SANs (read once per connection), parsed once each. */
const principalFromSan = boundedMemo(parsePrincipal);
const principal = (call: grpc.ServerUnaryCall<unknown, unknown>): Principal | undefined =>
  peerIdentities(call).map(principalFromSan).find((p) => p !== undefined);

interface WireEncrypt {
  readonly key_id?: string;
  readonly plaintext?: Buffer;
  readonly encryption_context?: EncryptionContext;
}

/** The decision src/policy makes for this caller, over the caller's, the key's and the context's condition keys. */
function authorize(caller: Principal, callerAccount: string, sourceAddress: string, context: EncryptionContext): { allowed: boolean; reason: string } {
  if (SKIP.has('policy')) return { allowed: true, reason: 'not evaluated' };
  const conditions = Object.assign(
    callerConditions({ principal: caller, callerAccount, sourceAddress, now: new Date(), viaService: undefined }),
    encryptionContextConditions(context),
    { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' },
    keyConditionKeys,
  );
  const decided = authorizeKmsRequest({
    keyPolicy, identityPolicies: [], grants: [], keyAccount: key.account,
    request: { principal: caller, action: 'kms:Encrypt', resource: key.arn, context: conditions, encryptionContext: context, callerAccount },
  });
  return { allowed: decided.decision === 'Allow', reason: decided.reason };
}

const handlers: grpc.UntypedServiceImplementation = {
  Encrypt: (call: grpc.ServerUnaryCall<WireEncrypt, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const started = performance.now();
    const requestId = randomUUID();
    const sourceAddress = call.getPeer();
    const caller = principal(call);
    const request = call.request;
    const context = request.encryption_context ?? {};
    let outcome = 'Success';
    let decision: { allowed: boolean; reason: string } | undefined;
    let blob: Buffer | undefined;
    try {
      if (!caller) throw new KmsError('UnrecognizedClientException', 'no principal');
      validatePlaintext(request.plaintext);
      validateContext(context);
      // The load names the bench service's key; this server has one key and answers for it.
      parseKeyReference(request.key_id, 'KeyId');
      decision = authorize(caller, caller.account ?? ACCOUNT, sourceAddress, context);
      if (!decision.allowed) throw new KmsError('AccessDeniedException', 'not allowed');
      blob = encodeCiphertext({ keyId, keyVersionId: key.currentVersionId, ...token.encrypt(request.plaintext!, canonicalEncryptionContext(context)) });
    } catch (error) {
      outcome = isKmsError(error) ? error.name : 'KMSInternalException';
    }
    const event: AuditEvent = SKIP.has('entry')
      ? { requestId, time: new Date(), operation: 'Encrypt', principalArn: undefined, principalAccount: undefined, sourceAddress: '', keyArns: [], parameters: {}, outcome, decision: undefined, durationMs: 0 }
      : {
          requestId, time: new Date(), operation: 'Encrypt', principalArn: caller?.arn, principalAccount: caller?.account, sourceAddress,
          keyArns: [key.arn], parameters: { keyId: request.key_id, encryptionContext: request.encryption_context, encryptionAlgorithm: undefined },
          outcome, decision, durationMs: performance.now() - started,
        };
    (SKIP.has('ledger') ? Promise.resolve() : ledger.record(event)).then(
      () => {
        const trailer = new grpc.Metadata();
        if (!SKIP.has('trailer')) trailer.set(REQUEST_ID_TRAILER, requestId);
        if (blob) callback(null, { ciphertext_blob: blob, key_id: key.arn, encryption_algorithm: 'ENCRYPTION_ALGORITHM_SPEC_SYMMETRIC_DEFAULT' }, trailer);
        else callback({ code: grpc.status.PERMISSION_DENIED, details: outcome, metadata: trailer });
      },
      (error: Error) => callback({ code: grpc.status.UNAVAILABLE, details: error.message }),
    );
  },
};
serveBaseline(handlers, { ca, cert, key: tlsKey }, () => {
  void ledger.close().then(() => ledgerStore.close()).finally(() => token.close());
});
