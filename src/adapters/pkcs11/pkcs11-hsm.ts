import { constants as cryptoConstants, createPublicKey, publicEncrypt } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { bytesToUuid, GCM_TAG_BYTES } from '../../domain/ciphertext.js';
import type { KeySpec } from '../../domain/key.js';
import { boundedMemo } from '../../domain/memo.js';
import {
  KEY_SPEC_FACTS,
  OAEP_HASH,
  type KeyAgreementAlgorithm,
  type MacAlgorithm,
  type SigningAlgorithm,
} from '../../domain/key-spec-facts.js';
import {
  HsmAuthenticationError,
  HsmDecryptionError,
  HsmKeyNotFoundError,
  HsmUnsupportedError,
  type AesGcmSealed,
  type AuditSigningHsm,
  type Hsm,
  type KeyObjectAttributes,
  type KeyTemplate,
  type OaepAlgorithm,
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
import { OperationWorkers } from './operation-workers.js';
import {
  byVersionAndClass,
  generation,
  JWK_CURVES,
  macMechanism,
  oaepMechanism,
  oaepMode,
  sharedSecretTemplate,
  SIGNING_MECHANISMS,
  TokenCapabilities,
} from './mechanisms.js';
import { decodeOaep } from './oaep.js';
import { ecdsaDerToRaw, ecdsaRawToDer as rawToDer, ecSpki, ed25519Spki, rsaSpki, unwrapEcPoint } from './public-key-der.js';
import { RandomIvPool } from './random-iv-pool.js';
import { SessionPool } from './session-pool.js';
import { aes256KeyTemplate, byVersionId, CUSTODY_ATTRIBUTES, WORKING_COPY_TEMPLATE } from './templates.js';
import {
  PROFILES,
  profileForManufacturer,
  type ProfileName,
  type VendorProfile,
  type WorkingCopySettings,
} from './vendor-profiles.js';
import { TurnBatch } from './turn-batch.js';
import { WorkingCopies, type WorkingKey } from './working-copies.js';

export interface Pkcs11HsmOptions {
  readonly libraryPath: string;
  readonly tokenLabel: string;
  /** Read by the caller from an env var or a 0600 file; never logged, never kept after login. */
  readonly pin: string;
  /** Overrides the profile detected from the token's manufacturer id. */
  readonly profile?: ProfileName;
  /** Overrides the profile's working copies (tests shorten their ages, or turn them off). */
  readonly workingCopies?: WorkingCopySettings | false;
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
  /**
   * `<CKO_*>:<key-version id>` → token object handle (PKCS#11 handles stay valid for the life of the
   * application). Filled on generation, and on the first miss by one index of the whole token.
   * Public-key operations use these handles; secret- and private-key operations use `workingCopies`.
   */
  private readonly objects = new Map<string, Handle>();
  /** Same keys → the handles secret- and private-key operations use (VendorProfile.workingCopies). */
  private readonly workingCopies: WorkingCopies;
  /** GCM IVs for encrypt, from the host CSPRNG. */
  private readonly ivs = new RandomIvPool();
  /** The synchronous symmetric calls (the syncSession's), run back to back once per turn. */
  private readonly turnBatch = new TurnBatch();
  /** The one-time index of the token's objects, shared by every miss while it runs. */
  private indexed: Promise<void> | undefined;
  /** Public keys never change: key-version id → SubjectPublicKeyInfo DER. */
  private readonly publicKeys = new Map<string, Buffer>();
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
    /** Operations whose Init must not run on the event loop: Init and the call together (signWith). */
    private readonly workers: OperationWorkers,
    readonly capabilities: TokenCapabilities,
  ) {
    this.workingCopies = new WorkingCopies(profile.workingCopies, (copy) => this.blocking.destroy(copy));
  }

  static async open(options: Pkcs11HsmOptions): Promise<Pkcs11Hsm> {
    const p11 = library(options.libraryPath);
    const slot = p11
      .C_GetSlotList(true)
      .find((candidate) => p11.C_GetTokenInfo(candidate).label.trim() === options.tokenLabel);
    if (!slot) throw new Error(`no PKCS#11 token labelled '${options.tokenLabel}' in ${options.libraryPath}`);
    const info = p11.C_GetTokenInfo(slot);
    const detected = options.profile ? PROFILES[options.profile] : profileForManufacturer(info.manufacturerID);
    const profile: VendorProfile =
      options.workingCopies === undefined ? detected : { ...detected, workingCopies: options.workingCopies };

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
    const workers = await OperationWorkers.start(options.libraryPath, slot, profile.operationWorkers);
    const capabilities = new TokenCapabilities(p11.C_GetMechanismList(slot), profile);
    return new Pkcs11Hsm(p11, profile, syncSession, new SessionPool(sessions), sessions, blocking, workers, capabilities);
  }

  async generateKey(template: KeyTemplate): Promise<void> {
    if (!this.capabilities.supportsKey(template.keySpec, template.keyUsage)) {
      throw new HsmUnsupportedError(`this token cannot generate ${template.keySpec} keys for ${template.keyUsage}`);
    }
    const plan = generation(template);
    if (plan.kind === 'secret') {
      const handle = await this.pool.use((session) => this.p11.C_GenerateKeyAsync(session, plan.mechanism, plan.template));
      this.objects.set(`${pkcs11js.CKO_SECRET_KEY}:${template.versionId}`, handle);
      return;
    }
    const pair = await this.pool.use((session) =>
      this.p11.C_GenerateKeyPairAsync(session, plan.mechanism, plan.publicTemplate, plan.privateTemplate),
    );
    this.objects.set(`${pkcs11js.CKO_PUBLIC_KEY}:${template.versionId}`, pair.publicKey);
    this.objects.set(`${pkcs11js.CKO_PRIVATE_KEY}:${template.versionId}`, pair.privateKey);
  }

  async publicKey(versionId: string, spec: KeySpec): Promise<Buffer> {
    const cached = this.publicKeys.get(versionId);
    if (cached) return Buffer.from(cached);
    const handle = await this.object(versionId, pkcs11js.CKO_PUBLIC_KEY);
    const facts = KEY_SPEC_FACTS[spec];
    let spki: Buffer;
    if (facts.family === 'RSA') {
      const values = await this.blocking.attributes(handle, [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT]);
      spki = rsaSpki(values.get(pkcs11js.CKA_MODULUS)!, values.get(pkcs11js.CKA_PUBLIC_EXPONENT)!);
    } else {
      const point = (await this.blocking.attributes(handle, [pkcs11js.CKA_EC_POINT])).get(pkcs11js.CKA_EC_POINT)!;
      spki =
        facts.family === 'EDWARDS'
          ? ed25519Spki(unwrapEcPoint(point, 32))
          : ecSpki(JWK_CURVES[spec]!, unwrapEcPoint(point, 1 + 2 * facts.coordinateBytes!), facts.coordinateBytes!);
    }
    this.publicKeys.set(versionId, spki);
    return Buffer.from(spki);
  }

  async sign(versionId: string, spec: KeySpec, algorithm: SigningAlgorithm, input: Buffer): Promise<Buffer> {
    this.requireAlgorithm(algorithm);
    const table = SIGNING_MECHANISMS[algorithm];
    const key = await this.operationKey(versionId, pkcs11js.CKO_PRIVATE_KEY);
    const signature = await this.signWith(table.mechanism, key, table.input(input), signatureBytes(spec), table.cheapInit);
    return table.encoding === 'ecdsa-der' ? rawToDer(signature) : signature;
  }

  async verify(versionId: string, spec: KeySpec, algorithm: SigningAlgorithm, input: Buffer, signature: Buffer): Promise<boolean> {
    this.requireAlgorithm(algorithm);
    const table = SIGNING_MECHANISMS[algorithm];
    const tokenSignature =
      table.encoding === 'ecdsa-der' ? ecdsaDerToRaw(signature, KEY_SPEC_FACTS[spec].coordinateBytes!) : signature;
    if (tokenSignature === undefined || tokenSignature.length === 0) return false;
    const key = await this.object(versionId, pkcs11js.CKO_PUBLIC_KEY);
    try {
      // A public-key Init is cheap on a local token; on a network HSM it is a round trip.
      if (!this.initOnLoop(true)) return await this.workers.verify(table.mechanism, key, table.input(input), tokenSignature);
      return await this.pool.use(async (session) => {
        this.p11.C_VerifyInit(session, table.mechanism, key);
        return this.p11.C_VerifyAsync(session, table.input(input), tokenSignature);
      });
    } catch (error) {
      // PKCS#11 v2.40 §5.13: a signature that does not verify, or has the wrong length.
      if (['CKR_SIGNATURE_INVALID', 'CKR_SIGNATURE_LEN_RANGE'].includes(pkcs11Code(error) ?? '')) return false;
      throw error;
    }
  }

  async encryptAsymmetric(versionId: string, spec: KeySpec, algorithm: OaepAlgorithm, plaintext: Buffer): Promise<Buffer> {
    const mode = this.requireOaep(algorithm);
    if (mode === 'host-decoding') {
      // Encryption needs only the public key: the same OAEP output, padded by node:crypto.
      const publicKey = createPublicKey({ key: await this.publicKey(versionId, spec), format: 'der', type: 'spki' });
      return publicEncrypt({ key: publicKey, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[algorithm] }, plaintext);
    }
    const key = await this.object(versionId, pkcs11js.CKO_PUBLIC_KEY);
    const mechanism = oaepMechanism(OAEP_HASH[algorithm]);
    const outputBytes = KEY_SPEC_FACTS[spec].modulusBytes!;
    if (!this.initOnLoop(true)) return this.workers.encrypt(mechanism, key, plaintext, outputBytes);
    return this.pool.use(async (session) => {
      this.p11.C_EncryptInit(session, mechanism, key);
      return this.p11.C_EncryptAsync(session, plaintext, Buffer.alloc(outputBytes));
    });
  }

  async decryptAsymmetric(versionId: string, spec: KeySpec, algorithm: OaepAlgorithm, ciphertext: Buffer): Promise<Buffer> {
    const mode = this.requireOaep(algorithm);
    const modulusBytes = KEY_SPEC_FACTS[spec].modulusBytes!;
    // RFC 8017 §7.1.2 step 1: the ciphertext is exactly k bytes.
    if (ciphertext.length !== modulusBytes) throw new HsmDecryptionError('the ciphertext does not decrypt');
    const key = await this.operationKey(versionId, pkcs11js.CKO_PRIVATE_KEY);
    const mechanism = mode === 'token' ? oaepMechanism(OAEP_HASH[algorithm]) : { mechanism: pkcs11js.CKM_RSA_X_509 };
    let output: Buffer;
    try {
      // C_DecryptInit with an RSA private key is as costly as C_SignInit's (SIGNING_MECHANISMS cheapInit).
      output = await this.workers.decrypt(mechanism, key, ciphertext, modulusBytes);
    } catch (error) {
      if (pkcs11Code(error)) throw new HsmDecryptionError('the ciphertext does not decrypt');
      throw error;
    }
    if (mode === 'token') return output;
    const plaintext = decodeOaep(output, OAEP_HASH[algorithm], modulusBytes);
    output.fill(0);
    if (!plaintext) throw new HsmDecryptionError('the ciphertext does not decrypt');
    return plaintext;
  }

  async mac(versionId: string, algorithm: MacAlgorithm, message: Buffer): Promise<Buffer> {
    this.requireAlgorithm(algorithm);
    const key = await this.operationKey(versionId, pkcs11js.CKO_SECRET_KEY);
    // An HMAC key is a byte string: Init is cheap.
    return this.signWith(macMechanism(algorithm), key, message, 64, true);
  }

  async deriveSharedSecret(versionId: string, algorithm: KeyAgreementAlgorithm, peerPoint: Buffer): Promise<Buffer> {
    this.requireAlgorithm(algorithm);
    const key = await this.operationKey(versionId, pkcs11js.CKO_PRIVATE_KEY);
    // The x-coordinate of the shared point is as long as a coordinate: (point length − 1) / 2.
    const secretBytes = (peerPoint.length - 1) / 2;
    const mechanism: pkcs11js.Mechanism = {
      mechanism: pkcs11js.CKM_ECDH1_DERIVE,
      parameter: { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: peerPoint } as pkcs11js.ECDH1,
    };
    // One worker round trip for what took three hand-offs (C_DeriveKeyAsync, then reading the value
    // and destroying the object in the blocking worker); the derived object lives in the worker's session.
    return this.workers.derive(mechanism, key, sharedSecretTemplate(secretBytes));
  }

  async generateSymmetricKey(template: SymmetricKeyTemplate): Promise<void> {
    const handle = await this.pool.use((session) =>
      this.p11.C_GenerateKeyAsync(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, aes256KeyTemplate(template)),
    );
    this.objects.set(objectKey(pkcs11js.CKO_SECRET_KEY, template.versionId), handle);
  }

  async destroyKey(versionId: string): Promise<void> {
    const handles = await this.blocking.find(byVersionId(versionId), 16);
    for (const handle of handles) await this.blocking.destroy(handle);
    // The copies after the token objects, so that one made while those were going goes too.
    await this.workingCopies.forget([
      objectKey(pkcs11js.CKO_SECRET_KEY, versionId),
      objectKey(pkcs11js.CKO_PRIVATE_KEY, versionId),
    ]);
    this.publicKeys.delete(versionId);
    for (const objectClass of [pkcs11js.CKO_SECRET_KEY, pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY]) {
      this.objects.delete(objectKey(objectClass, versionId));
    }
  }

  /**
   * Not an async function: with the working copy at hand (nearly every call) it answers with the
   * turn batch's own promise, where an async function's promise resolved by another promise cost
   * two more microtask turns and a job object per Encrypt.
   */
  encrypt(versionId: string, plaintext: Buffer, aad: Buffer): Promise<AesGcmSealed> {
    const key = this.workingCopies.get(secretKeyObject(versionId));
    if (key !== undefined) return this.encryptWith(key, plaintext, aad);
    const made = this.operationKey(versionId, pkcs11js.CKO_SECRET_KEY);
    return made.then((found) => this.encryptWith(found, plaintext, aad));
  }

  private encryptWith(key: Handle, plaintext: Buffer, aad: Buffer): Promise<AesGcmSealed> {
    // Random 96-bit IVs from the host CSPRNG (NIST SP 800-38D §8.2.2); fresh for every call.
    const iv = this.ivs.next();
    const mechanism = this.gcm(iv, aad);
    const outputBytes = plaintext.length + GCM_TAG_BYTES;
    if (this.profile.symmetricCalls === 'sync') {
      return this.turnBatch.run(() => {
        this.p11.C_EncryptInit(this.syncSession, mechanism, key);
        return { iv, ciphertextAndTag: this.p11.C_Encrypt(this.syncSession, plaintext, Buffer.allocUnsafe(outputBytes)) };
      });
    }
    // An asynchronous token (a network HSM) makes C_EncryptInit a round trip too: Init and call
    // run together in an operation worker, off the event loop.
    const sealed = this.workers.encrypt(mechanism, key, plaintext, outputBytes);
    return sealed.then((ciphertextAndTag) => ({ iv, ciphertextAndTag }));
  }

  async decrypt(versionId: string, sealed: AesGcmSealed, aad: Buffer): Promise<Buffer> {
    const key =
      this.workingCopies.get(secretKeyObject(versionId)) ??
      (await this.operationKey(versionId, pkcs11js.CKO_SECRET_KEY));
    const mechanism = this.gcm(sealed.iv, aad);
    const outputBytes = sealed.ciphertextAndTag.length;
    try {
      if (this.profile.symmetricCalls === 'sync') {
        return await this.turnBatch.run(() => {
          this.p11.C_DecryptInit(this.syncSession, mechanism, key);
          return this.p11.C_Decrypt(this.syncSession, sealed.ciphertextAndTag, Buffer.allocUnsafe(outputBytes));
        });
      }
      return await this.workers.decrypt(mechanism, key, sealed.ciphertextAndTag, outputBytes);
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
    // The private or secret half: the one custody is about (a public half is public).
    const privateKeys = await this.blocking.find(byVersionAndClass(versionId, pkcs11js.CKO_PRIVATE_KEY), 1);
    const [handle] = privateKeys.length > 0 ? privateKeys : await this.blocking.find(byVersionAndClass(versionId, pkcs11js.CKO_SECRET_KEY), 1);
    if (!handle) return undefined;
    // A private key has no CKA_ENCRYPT, CKA_VERIFY or CKA_WRAP (PKCS#11 v2.40 §4.9): asking gives CKR_ATTRIBUTE_TYPE_INVALID.
    const types = privateKeys.length > 0 ? CUSTODY_ATTRIBUTES.filter((type) => !PUBLIC_ONLY_ATTRIBUTES.includes(type)) : CUSTODY_ATTRIBUTES;
    const values = await this.blocking.attributes(handle, types);
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
      sign: flag(pkcs11js.CKA_SIGN),
      verify: flag(pkcs11js.CKA_VERIFY),
      derive: flag(pkcs11js.CKA_DERIVE),
      wrap: flag(pkcs11js.CKA_WRAP),
      unwrap: flag(pkcs11js.CKA_UNWRAP),
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
    const raw = await this.signWith({ mechanism: pkcs11js.CKM_ECDSA }, privateKey, sha256, 64, SIGNING_MECHANISMS.ECDSA_SHA_256.cheapInit);
    return ecdsaRawToDer(raw);
  }

  async close(): Promise<void> {
    // The calls queued and the workers first: they finish the calls they hold before the copies
    // those use are destroyed.
    await this.turnBatch.settled();
    await this.workers.close();
    await this.workingCopies.close();
    await this.blocking.close();
    for (const session of [...this.sessions, this.syncSession]) {
      try {
        this.p11.C_CloseSession(session);
      } catch {
        // Closing is best effort: the process is shutting the token down anyway.
      }
    }
  }

  /**
   * C_SignInit then C_Sign (PKCS#11 v2.40, signing and MACing functions). An Init that is costly,
   * or a round trip to a network HSM, runs with the call in an operation worker; a cheap Init on a
   * token whose profile allows it runs on the event loop and the call on a libuv thread, which
   * costs less CPU than a worker round trip (VendorProfile.cheapInitsOnLoop).
   */
  private signWith(mechanism: pkcs11js.Mechanism, key: Handle, data: Buffer, outputBytes: number, cheapInit: boolean): Promise<Buffer> {
    if (!this.initOnLoop(cheapInit)) return this.workers.sign(mechanism, key, data, outputBytes);
    return this.pool.use(async (session) => {
      this.p11.C_SignInit(session, mechanism, key);
      return this.p11.C_SignAsync(session, data, Buffer.alloc(outputBytes));
    });
  }

  /**
   * Whether an Init runs on the event loop (then the call on a libuv thread) rather than with its
   * call in an operation worker: only a cheap one, on a profile that allows it (cheapInitsOnLoop).
   */
  private initOnLoop(cheapInit: boolean): boolean {
    return cheapInit && this.profile.cheapInitsOnLoop;
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

  /**
   * A handle from the cache; on a miss, index the whole token once (one search for all objects,
   * instead of one per key: SoftHSM2's C_FindObjects walks every object, so per-key searches made
   * a cold start with 10,000 keys cost 10,000 full walks), then search for this one object only
   * if it appeared since (made by another replica).
   */
  private async object(versionId: string, objectClass: number): Promise<Handle> {
    const cacheKey = objectKey(objectClass, versionId);
    const cached = this.objects.get(cacheKey);
    if (cached) return cached;
    this.indexed ??= this.indexToken();
    await this.indexed;
    const indexed = this.objects.get(cacheKey);
    if (indexed) return indexed;
    const [handle] = await this.blocking.find(byVersionAndClass(versionId, objectClass), 1);
    if (!handle) throw new HsmKeyNotFoundError(`no token object for key version ${versionId}`);
    this.objects.set(cacheKey, handle);
    return handle;
  }

  /** The handle for an operation with a secret or private key (VendorProfile.workingCopies). */
  private operationKey(versionId: string, objectClass: number): Promise<Handle> {
    const cacheKey = objectKey(objectClass, versionId);
    const current = this.workingCopies.get(cacheKey);
    if (current) return Promise.resolve(current);
    const make = () => this.workingKey(versionId, objectClass);
    // Until a key has its first copy, a known token handle serves its calls, and the copy is made
    // off the event loop once the key has been used copyAfterUses times: a key used once never
    // waits for the worker thread nor costs a copy. A copy in use is made again before it ages out
    // (WorkingCopies); one that aged out unused, or whose key was found gone when it was made
    // again, is made here and the call waits for it: that is when a key destroyed elsewhere is
    // found to be gone.
    const tokenObject = this.workingCopies.firstUse(cacheKey) ? this.objects.get(cacheKey) : undefined;
    if (tokenObject === undefined) return this.workingCopies.resolve(cacheKey, make);
    if (this.workingCopies.countUse(cacheKey)) {
      this.workingCopies.resolve(cacheKey, make).catch(() => undefined); // the next call finds out
    }
    return Promise.resolve(tokenObject);
  }

  /**
   * A session-object copy of the token object where the profile makes working copies, else the
   * token object. A token that refuses the copy (CKA_COPYABLE false, CKR_FUNCTION_NOT_SUPPORTED, a
   * quota of session objects) costs speed, not the operation: the token object serves instead.
   */
  private async workingKey(versionId: string, objectClass: number): Promise<WorkingKey> {
    const tokenObject = await this.object(versionId, objectClass);
    if (!this.profile.workingCopies) return { handle: tokenObject, copy: false };
    try {
      return { handle: await this.blocking.copy(tokenObject, WORKING_COPY_TEMPLATE), copy: true };
    } catch (error) {
      if (pkcs11Code(error) !== 'CKR_OBJECT_HANDLE_INVALID') return { handle: tokenObject, copy: false };
    }
    // The cached handle names an object destroyed since (by another replica): search again, so
    // that a key version which is gone fails as any missing one (HsmKeyNotFoundError).
    this.objects.delete(objectKey(objectClass, versionId));
    return { handle: await this.object(versionId, objectClass), copy: false };
  }

  private async indexToken(): Promise<void> {
    for (const { handle, objectClass, id } of await this.blocking.index([{ type: pkcs11js.CKA_TOKEN, value: true }], 10_000_000)) {
      // Key versions have a 16-byte CKA_ID (the version UUID); other objects are not ours to cache.
      if (id.length === 16) {
        const cacheKey = objectKey(objectClass, bytesToUuid(id));
        if (!this.objects.has(cacheKey)) this.objects.set(cacheKey, handle);
      }
    }
  }

  private requireAlgorithm(algorithm: SigningAlgorithm | MacAlgorithm | KeyAgreementAlgorithm): void {
    if (!this.capabilities.supportsAlgorithm(algorithm)) {
      throw new HsmUnsupportedError(`this token does not offer ${algorithm}`);
    }
  }

  private requireOaep(algorithm: OaepAlgorithm): 'token' | 'host-decoding' {
    const mode = oaepMode(this.profile, algorithm);
    if (mode === 'unsupported' || !this.capabilities.supportsAlgorithm(algorithm)) {
      throw new HsmUnsupportedError(`this token does not offer ${algorithm}`);
    }
    return mode;
  }

  private gcm(iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
    const type = this.profile.gcmParams === 'v240' ? pkcs11js.CK_PARAMS_AES_GCM_v240 : pkcs11js.CK_PARAMS_AES_GCM;
    const parameter: pkcs11js.GcmParams = { type, iv, aad, ivBits: 96, tagBits: 128 };
    return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
  }
}

const PUBLIC_ONLY_ATTRIBUTES = [pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_VERIFY, pkcs11js.CKA_WRAP];

/** The largest signature a key spec makes: k for RSA, r‖s for ECDSA, 64 bytes for Ed25519. */
function signatureBytes(spec: KeySpec): number {
  const facts = KEY_SPEC_FACTS[spec];
  return facts.modulusBytes ?? 2 * (facts.coordinateBytes ?? 0);
}

/** The CKR_ name of a PKCS#11 failure; pkcs11js leaves C_CopyObject's as `CKR_NAME:<value>`. */
function pkcs11Code(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  return /^(CKR_[A-Z_]+)(?::\d+)?$/.exec(error.message)?.[1];
}

const objectKey = (objectClass: number, versionId: string) => `${objectClass}:${versionId}`;

/**
 * objectKey of a secret key version, made once per version: every Encrypt and Decrypt looks its
 * key up by it, and the concatenation (then flattened for the Map) was a new string each time.
 * Room for as many versions as the ciphertext's key-id memo (ciphertext.ts).
 */
const secretKeyObject = boundedMemo((versionId: string) => objectKey(pkcs11js.CKO_SECRET_KEY, versionId), 100_000);
