import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type pkcs11js from 'pkcs11js';

/**
 * How every PKCS#11 worker's CommonJS begins (this one's and operation-workers.ts's): the same
 * library loaded in the same process and found initialised, and `buf`, which turns the
 * Uint8Arrays that postMessage makes of Buffers back into Buffers. Needs `workerData` in scope.
 */
export const PKCS11_WORKER_PRELUDE = `
const pkcs11js = require(workerData.pkcs11jsPath);
const p11 = new pkcs11js.PKCS11();
p11.load(workerData.libraryPath);
try { p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }); }
catch (e) { if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test(String(e && e.message))) throw e; }
const buf = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
`;

/**
 * PKCS#11 calls that pkcs11js offers only in a blocking form (object search, attribute reads,
 * object copies and destruction, random) run on a worker thread, so that a slow token — a network
 * HSM answers in milliseconds, and C_FindObjects on SoftHSM2 walks every object — never stalls the
 * event loop.
 *
 * The worker loads the same shared library in the same process: C_Initialize there answers
 * CKR_CRYPTOKI_ALREADY_INITIALIZED, and its session shares the application's login (PKCS#11 v2.40
 * §5.6: login state is per application, not per session), so object handles are valid on both sides.
 * The code is plain CommonJS evaluated in the worker, which works the same from sources and from dist.
 *
 * The worker's session stays open until `close`: the session objects it makes (working copies,
 * src/adapters/pkcs11/working-copies.ts) live as long as that session (PKCS#11 v2.40 §4.4).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
${PKCS11_WORKER_PRELUDE}
const session = p11.C_OpenSession(workerData.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
const template = (t) => t.map((a) => ({ type: a.type, value: a.value instanceof Uint8Array ? buf(a.value) : a.value }));
const ops = {
  find(req) {
    p11.C_FindObjectsInit(session, template(req.template));
    try { return p11.C_FindObjects(session, req.max); } finally { p11.C_FindObjectsFinal(session); }
  },
  attributes(req) {
    return p11.C_GetAttributeValue(session, buf(req.handle), req.types.map((type) => ({ type })))
      .map((a) => ({ type: a.type, value: a.value }));
  },
  copy(req) { return p11.C_CopyObject(session, buf(req.handle), template(req.template)); },
  destroy(req) { p11.C_DestroyObject(session, buf(req.handle)); return null; },
  closeSession() { p11.C_CloseSession(session); return null; },
  index(req) {
    p11.C_FindObjectsInit(session, template(req.template));
    let handles;
    try { handles = p11.C_FindObjects(session, req.max); } finally { p11.C_FindObjectsFinal(session); }
    return handles.map((handle) => {
      const [objectClass, id] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_CLASS }, { type: pkcs11js.CKA_ID }]);
      return { handle, objectClass: objectClass.value, id: id.value };
    });
  },
  random(req) { return p11.C_GenerateRandom(session, Buffer.alloc(req.length)); },
};
parentPort.on('message', (req) => {
  try { parentPort.postMessage({ id: req.id, result: ops[req.op](req) }); }
  catch (e) { parentPort.postMessage({ id: req.id, error: { message: String(e && e.message), code: e && e.code } }); }
});
parentPort.postMessage({ ready: true });
`;

export interface BlockingCallError {
  readonly message: string;
  readonly code: number | undefined;
}

export class BlockingCallFailed extends Error {
  override readonly name = 'BlockingCallFailed';
  constructor(readonly detail: BlockingCallError) {
    super(detail.message);
  }
}

type Template = pkcs11js.Template;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class BlockingCalls {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Set once the worker has exited: a message to it would never be answered. */
  private exited = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: { id: number; result?: unknown; error?: BlockingCallError }) => {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      if (message.error) pending.reject(new BlockingCallFailed(message.error));
      else pending.resolve(message.result);
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', () => {
      this.exited = true;
      this.failAll(new Error('PKCS#11 worker exited'));
    });
  }

  static async start(libraryPath: string, slot: Buffer): Promise<BlockingCalls> {
    const pkcs11jsPath = createRequire(import.meta.url).resolve('pkcs11js');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { pkcs11jsPath, libraryPath, slot } });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new BlockingCalls(worker);
  }

  async find(template: Template, max: number): Promise<Buffer[]> {
    const handles = (await this.call('find', { template, max })) as Uint8Array[];
    return handles.map(toBuffer);
  }

  async attributes(handle: Buffer, types: number[]): Promise<Map<number, Buffer>> {
    const attributes = (await this.call('attributes', { handle, types })) as Array<{ type: number; value: Uint8Array }>;
    return new Map(attributes.map((a) => [a.type, toBuffer(a.value)]));
  }

  /**
   * Every object matching `template` with its class and CKA_ID, in one round trip: one search
   * instead of one per object (SoftHSM2's C_FindObjects walks every object of the token).
   */
  async index(template: Template, max: number): Promise<Array<{ handle: Buffer; objectClass: number; id: Buffer }>> {
    const rows = (await this.call('index', { template, max })) as Array<{ handle: Uint8Array; objectClass: Uint8Array; id: Uint8Array }>;
    return rows.map((row) => ({
      handle: toBuffer(row.handle),
      objectClass: toBuffer(row.objectClass).readUIntLE(0, Math.min(6, row.objectClass.byteLength)),
      id: toBuffer(row.id),
    }));
  }

  /** C_CopyObject in the worker's session; a session-object copy dies with that session. */
  async copy(handle: Buffer, template: Template): Promise<Buffer> {
    return toBuffer((await this.call('copy', { handle, template })) as Uint8Array);
  }

  async destroy(handle: Buffer): Promise<void> {
    await this.call('destroy', { handle });
  }

  async random(length: number): Promise<Buffer> {
    return toBuffer((await this.call('random', { length })) as Uint8Array);
  }

  /** Closes the worker's session, which destroys any session object it made, then the worker. */
  async close(): Promise<void> {
    // Best effort, as every close: an unclosed session ends with the process anyway.
    await this.call('closeSession', {}).catch(() => undefined);
    await this.worker.terminate();
  }

  private call(op: string, args: Record<string, unknown>): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error('PKCS#11 worker exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...args });
    });
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
