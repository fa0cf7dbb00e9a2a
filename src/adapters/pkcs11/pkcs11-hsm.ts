import { randomFillSync } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { GCM_IV_BYTES, GCM_TAG_BYTES } from '../../domain/ciphertext.js';
import {
  HsmAuthenticationError,
  HsmKeyNotFoundError,
  type AesGcmSealed,
  type AuditSigningHsm,
  type Hsm,
  type KeyObjectAttributes,
  type SymmetricKeyTemplate,
} from '../../ports/hsm.js';
import {
  auditKeySearch,
  auditPrivateKeyTemplate,
  auditPublicKeyTemplate,
  ecdsaRawToDer,
  p256PublicKeySpki,
} from './audit-key.js';
import { BlockingCalls } from './blocking-calls.js';
import { SessionPool } from './session-pool.js';
import { aes256KeyTemplate, byVersionId, CUSTODY_ATTRIBUTES } from './templates.js';
import { PROFILES, profileForManufacturer, type ProfileName, type VendorProfile } from './vendor-profiles.js';

export interface Pkcs11HsmOptions {
  readonly libraryPath: string;
  readonly tokenLabel: string;
  /** Read by the caller from an env var or a 0600 file; never logged, never kept after login. */
  readonly pin: string;
  /** Overrides the profile detected from the token's manufacturer id. */
  readonly profile?: ProfileName;
}

type Session = Buffer;
type Handle = Buffer;

/** PKCS#11 is initialised once per process (STYLE.md, habit 10), whatever number of Hsm instances. */
const initialised = new Map<string, pkcs11js.PKCS11>();

function library(path: string): pkcs11js.PKCS11 {
  let module = initialised.get(path);
  if (module) return module;
  module = new pkcs11js.PKCS11();
  module.load(path);
  try {
    // Without CKF_OS_LOCKING_OK SoftHSM2 crashes when calls overlap from several threads.
    module.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (error) {
    if (pkcs11Code(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw error;
  }
  initialised.set(path, module);
  return module;
}

export class Pkcs11Hsm implements Hsm, AuditSigningHsm {
  /** Key-version id → object handle. Handles stay valid for the life of the application. */
  private readonly handles = new Map<string, Handle>();
  /** The audit key pair, found or made once (ensureAuditSigningKey). */
  private auditKey: Promise<{ privateKey: Handle; publicKeySpkiDer: Buffer }> | undefined;

  private constructor(
    private readonly p11: pkcs11js.PKCS11,
    readonly profile: VendorProfile,
    /** Used only by calls that complete synchronously, which therefore never overlap. */
    private readonly syncSession: Session,
    private readonly pool: SessionPool<Session>,
    private readonly sessions: readonly Session[],
    private readonly blocking: BlockingCalls,
  ) {}

  static async open(options: Pkcs11HsmOptions): Promise<Pkcs11Hsm> {
    const p11 = library(options.libraryPath);
    const slot = p11
      .C_GetSlotList(true)
      .find((candidate) => p11.C_GetTokenInfo(candidate).label.trim() === options.tokenLabel);
    if (!slot) throw new Error(`no PKCS#11 token labelled '${options.tokenLabel}' in ${options.libraryPath}`);
    const info = p11.C_GetTokenInfo(slot);
    const profile = options.profile ? PROFILES[options.profile] : profileForManufacturer(info.manufacturerID);

    const flags = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;
    const syncSession = p11.C_OpenSession(slot, flags);
    try {
      p11.C_Login(syncSession, pkcs11js.CKU_USER, options.pin);
    } catch (error) {
      const code = pkcs11Code(error);
      if (code !== 'CKR_USER_ALREADY_LOGGED_IN') {
        p11.C_CloseSession(syncSession);
        // Stop at once: a token may lock or wipe itself after repeated wrong PINs (STYLE.md, habit 10).
        throw new Error(`PKCS#11 login to token '${options.tokenLabel}' failed: ${code ?? 'unknown error'}`);
      }
    }
    const sessions = Array.from({ length: profile.sessionPoolSize }, () => p11.C_OpenSession(slot, flags));
    const blocking = await BlockingCalls.start(options.libraryPath, slot);
    return new Pkcs11Hsm(p11, profile, syncSession, new SessionPool(sessions), sessions, blocking);
  }

  async generateSymmetricKey(template: SymmetricKeyTemplate): Promise<void> {
    const handle = await this.pool.use((session) =>
      this.p11.C_GenerateKeyAsync(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, aes256KeyTemplate(template)),
    );
    this.handles.set(template.versionId, handle);
  }

  async destroyKey(versionId: string): Promise<void> {
    const handles = await this.blocking.find(byVersionId(versionId), 16);
    for (const handle of handles) await this.blocking.destroy(handle);
    this.handles.delete(versionId);
  }

  async encrypt(versionId: string, plaintext: Buffer, aad: Buffer): Promise<AesGcmSealed> {
    const key = this.handles.get(versionId) ?? (await this.findKey(versionId));
    // Random 96-bit IVs from the host CSPRNG (NIST SP 800-38D §8.2.2); fresh for every call.
    const iv = randomFillSync(Buffer.allocUnsafe(GCM_IV_BYTES));
    const mechanism = this.gcm(iv, aad);
    const output = Buffer.allocUnsafe(plaintext.length + GCM_TAG_BYTES);
    if (this.profile.symmetricCalls === 'sync') {
      this.p11.C_EncryptInit(this.syncSession, mechanism, key);
      return { iv, ciphertextAndTag: this.p11.C_Encrypt(this.syncSession, plaintext, output) };
    }
    const ciphertextAndTag = await this.pool.use(async (session) => {
      this.p11.C_EncryptInit(session, mechanism, key);
      // plaintext and output stay referenced by this closure until the token has answered.
      return this.p11.C_EncryptAsync(session, plaintext, output);
    });
    return { iv, ciphertextAndTag };
  }

  async decrypt(versionId: string, sealed: AesGcmSealed, aad: Buffer): Promise<Buffer> {
    const key = this.handles.get(versionId) ?? (await this.findKey(versionId));
    const mechanism = this.gcm(sealed.iv, aad);
    const output = Buffer.allocUnsafe(sealed.ciphertextAndTag.length);
    try {
      if (this.profile.symmetricCalls === 'sync') {
        this.p11.C_DecryptInit(this.syncSession, mechanism, key);
        return this.p11.C_Decrypt(this.syncSession, sealed.ciphertextAndTag, output);
      }
      return await this.pool.use(async (session) => {
        this.p11.C_DecryptInit(session, mechanism, key);
        return this.p11.C_DecryptAsync(session, sealed.ciphertextAndTag, output);
      });
    } catch (error) {
      const code = pkcs11Code(error);
      if (code && this.profile.gcmTagFailureCodes.includes(code)) {
        throw new HsmAuthenticationError('AES-GCM tag did not verify');
      }
      throw error;
    }
  }

  async random(length: number): Promise<Buffer> {
    if (this.profile.symmetricCalls === 'sync') {
      return this.p11.C_GenerateRandom(this.syncSession, Buffer.alloc(length));
    }
    return this.blocking.random(length);
  }

  async describeKeyObject(versionId: string): Promise<KeyObjectAttributes | undefined> {
    const [handle] = await this.blocking.find(byVersionId(versionId), 1);
    if (!handle) return undefined;
    const values = await this.blocking.attributes(handle, CUSTODY_ATTRIBUTES);
    const flag = (type: number) => values.get(type)?.[0] === 1;
    return {
      versionId,
      label: values.get(pkcs11js.CKA_LABEL)?.toString('utf8') ?? '',
      token: flag(pkcs11js.CKA_TOKEN),
      private: flag(pkcs11js.CKA_PRIVATE),
      sensitive: flag(pkcs11js.CKA_SENSITIVE),
      extractable: flag(pkcs11js.CKA_EXTRACTABLE),
      encrypt: flag(pkcs11js.CKA_ENCRYPT),
      decrypt: flag(pkcs11js.CKA_DECRYPT),
    };
  }

  async ensureAuditSigningKey(): Promise<{ readonly publicKeySpkiDer: Buffer }> {
    const { publicKeySpkiDer } = await this.auditKeyPair();
    return { publicKeySpkiDer: Buffer.from(publicKeySpkiDer) };
  }

  async signAuditDigest(sha256: Buffer): Promise<Buffer> {
    if (sha256.length !== 32) throw new RangeError('the audit key signs SHA-256 digests (32 bytes)');
    const { privateKey } = await this.auditKeyPair();
    // CKM_ECDSA signs the digest as given (PKCS#11 v2.40 §2.3.6): the host hashed the payload.
    const raw = await this.pool.use(async (session) => {
      this.p11.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, privateKey);
      return this.p11.C_SignAsync(session, sha256, Buffer.alloc(64));
    });
    return ecdsaRawToDer(raw);
  }

  async close(): Promise<void> {
    await this.blocking.close();
    for (const session of [...this.sessions, this.syncSession]) {
      try {
        this.p11.C_CloseSession(session);
      } catch {
        // Closing is best effort: the process is shutting the token down anyway.
      }
    }
  }

  private auditKeyPair(): Promise<{ privateKey: Handle; publicKeySpkiDer: Buffer }> {
    this.auditKey ??= this.findOrGenerateAuditKey().catch((error: unknown) => {
      this.auditKey = undefined; // a later call may try again
      throw error;
    });
    return this.auditKey;
  }

  private async findOrGenerateAuditKey(): Promise<{ privateKey: Handle; publicKeySpkiDer: Buffer }> {
    let [privateKey] = await this.blocking.find(auditKeySearch(pkcs11js.CKO_PRIVATE_KEY), 2);
    let [publicKey] = await this.blocking.find(auditKeySearch(pkcs11js.CKO_PUBLIC_KEY), 2);
    if (privateKey === undefined && publicKey === undefined) {
      const pair = await this.pool.use((session) =>
        this.p11.C_GenerateKeyPairAsync(
          session,
          { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
          auditPublicKeyTemplate(),
          auditPrivateKeyTemplate(),
        ),
      );
      privateKey = pair.privateKey;
      publicKey = pair.publicKey;
    }
    if (privateKey === undefined || publicKey === undefined) {
      // Never replace half a pair silently: checkpoints already signed name the old public key.
      throw new Error('the token holds only one half of the audit signing key pair');
    }
    const point = (await this.blocking.attributes(publicKey, [pkcs11js.CKA_EC_POINT])).get(pkcs11js.CKA_EC_POINT);
    if (point === undefined) throw new Error('the audit public key has no CKA_EC_POINT');
    return { privateKey, publicKeySpkiDer: p256PublicKeySpki(point) };
  }

  private async findKey(versionId: string): Promise<Handle> {
    const [handle] = await this.blocking.find(byVersionId(versionId), 1);
    if (!handle) throw new HsmKeyNotFoundError(`no token object for key version ${versionId}`);
    this.handles.set(versionId, handle);
    return handle;
  }

  private gcm(iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
    const type = this.profile.gcmParams === 'v240' ? pkcs11js.CK_PARAMS_AES_GCM_v240 : pkcs11js.CK_PARAMS_AES_GCM;
    const parameter: pkcs11js.GcmParams = { type, iv, aad, ivBits: 96, tagBits: 128 };
    return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
  }
}

function pkcs11Code(error: unknown): string | undefined {
  if (error instanceof Error && /^CKR_[A-Z_]+$/.test(error.message)) return error.message;
  return undefined;
}
