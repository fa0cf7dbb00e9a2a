import { createRequire } from 'node:module';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type pkcs11js from 'pkcs11js';
import { PKCS11_WORKER_PRELUDE } from './blocking-calls.js';

/**
 * Single-part operations run whole — Init and the call — on worker threads, for the operations
 * whose Init must not run on the event loop (Pkcs11Hsm decides which).
 *
 * pkcs11js offers C_SignAsync and C_DecryptAsync but no asynchronous C_SignInit or C_DecryptInit.
 * SoftHSM2's Init with a private key decrypts the key's attributes and builds the key object, and
 * may wait on a SoftHSM2 lock while other threads sign; on a network HSM every Init is a round
 * trip. Here the event loop only posts a request and reads the answer.
 *
 * Each worker loads the same shared library in the same process: C_Initialize there answers
 * CKR_CRYPTOKI_ALREADY_INITIALIZED, its session shares the application's login (PKCS#11 v2.40 §5.6),
 * and object handles are valid in every session of the application — token objects, and the
 * working copies made in the blocking worker's session (src/adapters/pkcs11/working-copies.ts),
 * since session objects are visible to all sessions of the application that made them (§4.4).
 *
 * One operation per session (PKCS#11 v2.40, "Operations, sessions, and threads": a session has one
 * active operation, and threads should not share sessions): each worker has its own session and
 * runs its requests one after another, synchronously, so a session never holds two operations. A
 * failed call may leave its operation active (C_Sign and C_Decrypt keep it on CKR_BUFFER_TOO_SMALL),
 * which would make the next Init fail with CKR_OPERATION_ACTIVE, so after any failure the worker
 * continues on a fresh session.
 *
 * Buffers: postMessage clones a Buffer with the whole ArrayBuffer under it (V8's serializer writes
 * the buffer, then the view), and a request's bytes are often views of larger ones — a digest
 * wrapped by Buffer.concat sits in Node's 8 KiB pool, a message or a peer point in the gRPC frame
 * (a 32-byte view of 1 MiB took 1.9 ms to post, measured here). So the key handle and the input are
 * copied into one ArrayBuffer of their exact size, which is transferred, not cloned; byte fields of
 * a mechanism's parameters are copied to their size. Answers are written into an ArrayBuffer of
 * their own in the worker and transferred back, so no copy of a decrypted block or a shared secret
 * stays behind in the worker (STYLE.md, habit 11).
 *
 * Hand-off: a worker that waits for messages in its event loop pays Node's message dispatch on
 * every request (a libuv wake-up, then EventTarget in JavaScript), which cost ≈ 10% more CPU per
 * RSA signature than libuv's thread pool does for C_SignAsync, with the same work on both sides
 * (measured here). So each worker never returns to its event loop: it sleeps in Atomics.wait on a
 * doorbell (a shared counter the event loop increments after each postMessage) and takes its
 * requests with receiveMessageOnPort, which measured at the thread pool's cost. Answers go back
 * by postMessage, which wakes the event loop as any libuv completion does.
 */
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const port = workerData.port;
const doorbell = new Int32Array(workerData.doorbell);
${PKCS11_WORKER_PRELUDE}
const flags = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;
let session = p11.C_OpenSession(workerData.slot, flags);
const bytes = (value) => (value instanceof Uint8Array ? buf(value) : value);
/** postMessage turns Buffers into Uint8Arrays; pkcs11js takes either, but is given what it documents. */
const mechanism = (m) => {
  if (m.parameter instanceof Uint8Array) return { mechanism: m.mechanism, parameter: buf(m.parameter) };
  if (m.parameter === null || typeof m.parameter !== 'object') return m;
  const parameter = {};
  for (const [name, value] of Object.entries(m.parameter)) parameter[name] = bytes(value);
  return { mechanism: m.mechanism, parameter };
};
const template = (t) => t.map((a) => ({ type: a.type, value: bytes(a.value) }));
/** Output of its own ArrayBuffer, so that it can be transferred (a pooled Buffer cannot). */
const output = (length) => Buffer.from(new ArrayBuffer(length));
const ops = {
  sign(req, key, data) {
    p11.C_SignInit(session, mechanism(req.mechanism), key);
    return p11.C_Sign(session, data, output(req.outputBytes));
  },
  decrypt(req, key, data) {
    p11.C_DecryptInit(session, mechanism(req.mechanism), key);
    return p11.C_Decrypt(session, data, output(req.outputBytes));
  },
  encrypt(req, key, data) {
    p11.C_EncryptInit(session, mechanism(req.mechanism), key);
    return p11.C_Encrypt(session, data, output(req.outputBytes));
  },
  /** data ‖ signature, split at req.dataLength; answers one byte, 1 if it verified. */
  verify(req, key, both) {
    p11.C_VerifyInit(session, mechanism(req.mechanism), key);
    const verified = p11.C_Verify(session, both.subarray(0, req.dataLength), both.subarray(req.dataLength));
    const answer = output(1);
    answer[0] = verified ? 1 : 0;
    return answer;
  },
  derive(req, key) {
    const secret = p11.C_DeriveKey(session, mechanism(req.mechanism), key, template(req.template));
    try {
      const value = p11.C_GetAttributeValue(session, secret, [{ type: pkcs11js.CKA_VALUE }])[0].value;
      const answer = output(value.length);
      value.copy(answer);
      value.fill(0);
      return answer;
    } finally {
      p11.C_DestroyObject(session, secret);
    }
  },
};
function freshSession() {
  try { p11.C_CloseSession(session); } catch {}
  try { session = p11.C_OpenSession(workerData.slot, flags); } catch {}
}
/** Runs one request and posts its answer; false once the request was to close. */
function serve(req) {
  if (req.op === 'close') {
    try { p11.C_CloseSession(session); } catch {}
    port.postMessage({ id: req.id, length: 0 });
    return false;
  }
  let answer;
  try {
    const packed = Buffer.from(req.packed);
    answer = ops[req.op](req, packed.subarray(0, req.keyLength), packed.subarray(req.keyLength));
  } catch (e) {
    freshSession();
    port.postMessage({ id: req.id, error: { message: String(e && e.message), code: e && e.code } });
    return true;
  }
  port.postMessage({ id: req.id, buffer: answer.buffer, offset: answer.byteOffset, length: answer.byteLength }, [answer.buffer]);
  return true;
}
port.postMessage({ ready: true });
let open = true;
while (open) {
  // Read the doorbell before draining: a request posted after the drain has rung it, and the wait returns at once.
  const rung = Atomics.load(doorbell, 0);
  let received;
  while (open && (received = receiveMessageOnPort(port)) !== undefined) open = serve(received.message);
  if (open) Atomics.wait(doorbell, 0, rung);
}
port.close();
`;

/**
 * A failure in a worker, with the message it had there: pkcs11js names a PKCS#11 failure
 * `CKR_NAME`, so callers map the CKR_ code exactly as they did for calls on the event loop.
 */
export class OperationWorkerFailed extends Error {
  override readonly name = 'OperationWorkerFailed';
  constructor(
    message: string,
    /** The CK_RV value, as pkcs11js's Pkcs11Error carries it. */
    readonly code: number | undefined,
  ) {
    super(message);
  }
}

interface Answer {
  readonly id: number;
  readonly buffer?: ArrayBuffer;
  readonly offset?: number;
  readonly length?: number;
  readonly error?: { readonly message: string; readonly code: number | undefined };
}

interface Pending {
  resolve(value: Buffer): void;
  reject(error: Error): void;
}

/** One worker thread, its port and doorbell, and the requests it has been sent and not yet answered. */
class Lane {
  readonly pending = new Map<number, Pending>();
  exited = false;

  constructor(
    readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly doorbell: Int32Array,
  ) {
    port.on('message', (answer: Answer) => {
      const pending = this.pending.get(answer.id);
      if (!pending) return;
      this.pending.delete(answer.id);
      if (answer.error) pending.reject(new OperationWorkerFailed(answer.error.message, answer.error.code));
      else pending.resolve(Buffer.from(answer.buffer ?? new ArrayBuffer(0), answer.offset ?? 0, answer.length ?? 0));
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', () => {
      this.exited = true;
      this.failAll(new Error('PKCS#11 operation worker exited'));
    });
  }

  get load(): number {
    return this.exited ? Number.POSITIVE_INFINITY : this.pending.size;
  }

  post(id: number, request: Record<string, unknown>, transfer: ArrayBuffer[], pending: Pending): void {
    this.pending.set(id, pending);
    this.port.postMessage({ id, ...request }, transfer);
    Atomics.add(this.doorbell, 0, 1);
    Atomics.notify(this.doorbell, 0);
  }

  /** Stops listening for answers, so that the port no longer keeps the event loop alive. */
  closePort(): void {
    this.port.close();
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/**
 * The worker with the fewest requests not yet answered (the first of equals). A worker runs its
 * requests in order, so this is the one whose queue ends soonest when calls cost about the same;
 * a worker stuck on a slow call (a network HSM) stops receiving more while others drain.
 * −1 when there is none that can take a request (every load infinite: all exited).
 */
export function leastBusy(loads: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < loads.length; i++) {
    if (loads[i]! !== Number.POSITIVE_INFINITY && (best === -1 || loads[i]! < loads[best]!)) best = i;
  }
  return best;
}

const EMPTY = Buffer.alloc(0);

/** The mechanism with each byte field of its parameters copied to its own size (see the file comment). */
function compact(mechanism: pkcs11js.Mechanism): pkcs11js.Mechanism {
  const { parameter } = mechanism;
  // new Uint8Array(view) copies the view's bytes into an ArrayBuffer of their size (Buffer.from would use the pool).
  if (parameter instanceof Uint8Array) return { mechanism: mechanism.mechanism, parameter: Buffer.from(new Uint8Array(parameter).buffer) };
  if (parameter === undefined || typeof parameter !== 'object') return mechanism;
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parameter)) copy[name] = value instanceof Uint8Array ? new Uint8Array(value) : value;
  return { mechanism: mechanism.mechanism, parameter: copy as unknown as pkcs11js.IParams };
}

export class OperationWorkers {
  private nextId = 1;
  private closed = false;

  private constructor(private readonly lanes: readonly Lane[]) {}

  /** Starts `count` workers on `slot`, each with its own session, and waits until all are ready. */
  static async start(libraryPath: string, slot: Buffer, count: number): Promise<OperationWorkers> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('operationWorkers must be a positive integer');
    const pkcs11jsPath = createRequire(import.meta.url).resolve('pkcs11js');
    const started = Array.from({ length: count }, () => {
      const { port1, port2 } = new MessageChannel();
      const doorbell = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { pkcs11jsPath, libraryPath, slot, port: port2, doorbell: doorbell.buffer },
        transferList: [port2],
      });
      return { worker, port: port1, doorbell };
    });
    const ready = await Promise.allSettled(
      started.map(
        ({ worker, port }) =>
          new Promise<void>((resolve, reject) => {
            port.once('message', () => resolve());
            worker.once('error', reject);
            worker.once('exit', () => reject(new Error('PKCS#11 operation worker exited while starting')));
          }),
      ),
    );
    const failed = ready.find((outcome) => outcome.status === 'rejected');
    if (failed) {
      for (const { port } of started) port.close();
      await Promise.all(started.map(({ worker }) => worker.terminate()));
      throw failed.reason;
    }
    return new OperationWorkers(started.map(({ worker, port, doorbell }) => new Lane(worker, port, doorbell)));
  }

  /** C_SignInit then C_Sign; the answer is the signature (or MAC), at most `outputBytes` long. */
  sign(mechanism: pkcs11js.Mechanism, key: Buffer, data: Buffer, outputBytes: number): Promise<Buffer> {
    return this.call({ op: 'sign', mechanism: compact(mechanism), outputBytes }, key, data);
  }

  /** C_DecryptInit then C_Decrypt; the answer is the plaintext, at most `outputBytes` long. */
  decrypt(mechanism: pkcs11js.Mechanism, key: Buffer, data: Buffer, outputBytes: number): Promise<Buffer> {
    return this.call({ op: 'decrypt', mechanism: compact(mechanism), outputBytes }, key, data);
  }

  /** C_EncryptInit then C_Encrypt; the answer is the ciphertext, at most `outputBytes` long. */
  encrypt(mechanism: pkcs11js.Mechanism, key: Buffer, data: Buffer, outputBytes: number): Promise<Buffer> {
    return this.call({ op: 'encrypt', mechanism: compact(mechanism), outputBytes }, key, data);
  }

  /**
   * C_VerifyInit then C_Verify. A signature that does not verify may also fail with its CKR_ code
   * (CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE), as on the event loop.
   */
  async verify(mechanism: pkcs11js.Mechanism, key: Buffer, data: Buffer, signature: Buffer): Promise<boolean> {
    const answer = await this.call({ op: 'verify', mechanism: compact(mechanism), dataLength: data.length }, key, Buffer.concat([data, signature]));
    return answer[0] === 1;
  }

  /**
   * C_DeriveKey into a session object of the worker's session, its CKA_VALUE read and the object
   * destroyed, in one round trip (the template must make the value readable).
   */
  derive(mechanism: pkcs11js.Mechanism, key: Buffer, template: pkcs11js.Template): Promise<Buffer> {
    return this.call({ op: 'derive', mechanism: compact(mechanism), template }, key);
  }

  /**
   * Lets each worker finish the requests it holds, closes its session, and ends it. Requests made
   * after close are refused.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.lanes.map(async (lane) => {
        if (!lane.exited) {
          // Best effort, as every close: an unclosed session ends with the process anyway.
          await this.post(lane, { op: 'close' }).catch(() => undefined);
        }
        lane.closePort();
        await lane.worker.terminate();
      }),
    );
  }

  private call(request: Record<string, unknown>, key: Buffer, data: Buffer = EMPTY): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('the PKCS#11 operation workers are closed'));
    const lane = this.lanes[leastBusy(this.lanes.map((candidate) => candidate.load))];
    if (!lane) return Promise.reject(new Error('every PKCS#11 operation worker has exited'));
    const packed = new Uint8Array(key.length + data.length);
    packed.set(key);
    packed.set(data, key.length);
    return this.post(lane, { ...request, keyLength: key.length, packed: packed.buffer }, [packed.buffer]);
  }

  private post(lane: Lane, request: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Buffer> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => lane.post(id, request, transfer, { resolve, reject }));
  }
}
