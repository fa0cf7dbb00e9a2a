/**
 * The token side of the floor servers (floor-server.ts, floor-full-server.ts): a session AES-256
 * key of their own on the bench service's SoftHSM2 token, and AES-GCM on it as raw pkcs11js does
 * it — C_EncryptInit and C_Encrypt, synchronous on the event loop — with IVs drawn from the same
 * pooled CSPRNG as p11kms's.
 */
import { readFileSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { RandomIvPool } from '../src/adapters/pkcs11/random-iv-pool.js';

export class FloorToken {
  readonly #p11 = new pkcs11js.PKCS11();
  readonly #session: Buffer;
  readonly #key: Buffer;
  readonly #ivs = new RandomIvPool();

  /** Logs in to the token labelled `p11kms` (SOFTHSM2_CONF names its configuration) with the PIN in `pinFile`. */
  constructor(pinFile: string) {
    const p11 = this.#p11;
    p11.load('/usr/lib/softhsm/libsofthsm2.so');
    p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === 'p11kms')!;
    this.#session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    p11.C_Login(this.#session, pkcs11js.CKU_USER, readFileSync(pinFile, 'utf8').trim());
    this.#key = p11.C_GenerateKey(this.#session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 }, { type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false }, { type: pkcs11js.CKA_ENCRYPT, value: true },
    ]);
  }

  /** AES-256-GCM with a fresh 96-bit IV: the IV, and the ciphertext followed by its 16-byte tag. */
  encrypt(plaintext: Buffer, aad: Buffer): { iv: Buffer; ciphertextAndTag: Buffer } {
    const iv = this.#ivs.next();
    const parameter = { type: pkcs11js.CK_PARAMS_AES_GCM_v240, iv, aad, ivBits: 96, tagBits: 128 } as pkcs11js.GcmParams;
    this.#p11.C_EncryptInit(this.#session, { mechanism: pkcs11js.CKM_AES_GCM, parameter }, this.#key);
    return { iv, ciphertextAndTag: this.#p11.C_Encrypt(this.#session, plaintext, Buffer.allocUnsafe(plaintext.length + 16)) };
  }

  close(): void {
    this.#p11.C_CloseSession(this.#session);
    this.#p11.C_Finalize();
  }
}
