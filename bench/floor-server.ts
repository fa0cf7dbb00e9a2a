/**
 * The floor: the least a server can do per Encrypt and still keep custody and "audit before
 * answer" (DESIGN.md invariants 1 and 3). It is the no-op server (bench/noop-server.ts: the same
 * proto, mutual TLS and message sizes) plus, for every Encrypt, exactly the work no KMS can skip:
 *  - the token call: C_EncryptInit and C_Encrypt, AES-256-GCM on a session key of the same
 *    SoftHSM2 token, IVs from a pooled CSPRNG, synchronous on the event loop as raw pkcs11js is;
 *  - a chained entry: a short JSON line (sequence, time, request id, operation, key) and its
 *    SHA-256 over the previous hash;
 *  - a durable append: one table with no index, WAL with synchronous=FULL, group commit (the
 *    entries queued in one event-loop turn are one transaction, committed in the check phase that
 *    follows), and the answer only once the entry's batch is committed. MODE `loop` (the default)
 *    commits on the event loop, fsync included: no thread hand-off, the least CPU, at the price of
 *    a loop that waits for the disk (p11kms does not do that: an fsync on network storage can take
 *    milliseconds). MODE `thread` commits on a worker thread, two batches in flight, as p11kms's
 *    ledger does.
 * No authentication beyond TLS, no key lookup, no policy, no encryption context, no request id
 * trailer, no index rows, no metrics: whatever p11kms spends beyond this server is its own
 * overhead, and what this server reaches against the no-op server is, as near as we can build it,
 * the most an implementation of the invariants reaches with this machine, token, gRPC stack and
 * SQLite.
 *
 * `node dist/bench/floor-server.js CA CERT KEY PINFILE DB [MODE]`, with SOFTHSM2_CONF naming the
 * token's configuration, prints {"address": "127.0.0.1:PORT"} once it listens. It creates DB.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type * as grpc from '@grpc/grpc-js';
import { BASELINE_KEY_ARN as keyArn, serveBaseline } from './baseline-grpc.js';
import { FloorToken } from './floor-token.js';

const [ca, cert, key, pinFile, dbPath, mode = 'loop'] = process.argv.slice(2) as [string, string, string, string, string, string?];
if (mode !== 'loop' && mode !== 'thread') throw new Error('MODE is loop or thread');

const token = new FloorToken(pinFile);
const noAad = Buffer.alloc(0);
// p11kms's blob for 1 KiB is 1,085 bytes: a 33-byte header, the 12-byte IV, ciphertext and tag.
const header = Buffer.alloc(33, 1);

/**
 * The ledger: one table, no index, WAL with synchronous=FULL, one transaction (one fsync) per
 * batch. The same source runs on the event loop or on a worker thread (MODE).
 */
const LEDGER = `
const db = new (require(workerData.sqlite))(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL, hash BLOB NOT NULL)');
const insert = db.prepare('INSERT INTO entries (seq, entry, hash) VALUES (?, ?, ?)');
const transaction = db.transaction((first, entries, hashes) => {
  for (let i = 0; i < entries.length; i++) insert.run(first + i, entries[i], hashes.subarray(32 * i, 32 * i + 32));
});
const append = (first, entries, hashes) => transaction.immediate(first, entries, Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength));
`;
const workerData = { sqlite: createRequire(import.meta.url).resolve('better-sqlite3'), path: dbPath };
type Append = (first: number, entries: string[], hashes: Buffer) => void;
const writer = mode === 'thread'
  ? new Worker(`const { parentPort, workerData } = require('node:worker_threads');${LEDGER}
parentPort.on('message', (batch) => { append(batch.first, batch.entries, batch.hashes); parentPort.postMessage(null); });`, { eval: true, workerData })
  : undefined;
const append = writer ? undefined : (new Function('require', 'workerData', `${LEDGER} return append;`)(createRequire(import.meta.url), workerData) as Append);

interface Waiter {
  readonly seq: number;
  readonly entry: string;
  readonly answer: () => void;
}
/** Entries are numbered as they are queued and committed in that order. */
let nextSeq = 1;
let head = Buffer.alloc(32);
let queued: Waiter[] = [];
/** Batches on the writer thread, oldest first (thread mode: at most two). */
const inFlight: Waiter[][] = [];
let scheduled = false;
/**
 * Group commit: the first entry queued while a batch may go schedules one for the check phase,
 * after the loop has read every request that arrived meanwhile; a committed batch is answered.
 */
const schedule = () => {
  if (scheduled || queued.length === 0 || inFlight.length >= 2) return;
  scheduled = true;
  setImmediate(commit);
};
const commit = () => {
  scheduled = false;
  const batch = queued;
  queued = [];
  const hashes = Buffer.allocUnsafe(32 * batch.length);
  batch.forEach((waiter, i) => {
    head = createHash('sha256').update(head).update(waiter.entry).digest();
    head.copy(hashes, 32 * i);
  });
  const entries = batch.map((waiter) => waiter.entry);
  if (writer) {
    inFlight.push(batch);
    writer.postMessage({ first: batch[0]!.seq, entries, hashes });
  } else {
    append!(batch[0]!.seq, entries, hashes);
    for (const waiter of batch) waiter.answer();
  }
};
writer?.on('message', () => {
  for (const waiter of inFlight.shift()!) waiter.answer();
  schedule();
});

const handlers: grpc.UntypedServiceImplementation = {
  Encrypt: (call: grpc.ServerUnaryCall<{ plaintext: Buffer }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const { iv, ciphertextAndTag } = token.encrypt(call.request.plaintext, noAad);
    const blob = Buffer.concat([header, iv, ciphertextAndTag]);
    const seq = nextSeq++;
    const entry = JSON.stringify({ seq, time: Date.now(), requestId: randomUUID(), operation: 'Encrypt', keyArn });
    queued.push({ seq, entry, answer: () => callback(null, { ciphertext_blob: blob, key_id: keyArn, encryption_algorithm: 'ENCRYPTION_ALGORITHM_SPEC_SYMMETRIC_DEFAULT' }) });
    schedule();
  },
};
serveBaseline(handlers, { ca, cert, key }, () => {
  void writer?.terminate();
  token.close();
});
