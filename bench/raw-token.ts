/**
 * The token baseline: raw pkcs11js on the very token the server uses (same SOFTHSM2_CONF, same
 * PIN), with no KMS around it. Run as its own process while the server is idle:
 * `node dist/bench/raw-token.js LIBRARY LABEL PINFILE SECONDS` prints {opsPerSecond: {name: n},
 * cpuUsPerOp: {name: µs}}: the process's CPU time per operation, all threads (libuv's included).
 */
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { RAW } from './raw-names.js';

const [library, label, pinFile, secondsArg] = process.argv.slice(2) as [string, string, string, string];
const seconds = Number(secondsArg);
const p11 = new pkcs11js.PKCS11();
p11.load(library);
p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === label)!;
const sessions = Array.from({ length: 17 }, () => p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
p11.C_Login(sessions[0]!, pkcs11js.CKU_USER, readFileSync(pinFile, 'utf8').trim());

const bool = (type: number, value: boolean) => ({ type, value });
// Session objects: the baseline leaves nothing behind in the token.
const aes = p11.C_GenerateKey(sessions[0]!, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
  { type: pkcs11js.CKA_VALUE_LEN, value: 32 }, bool(pkcs11js.CKA_TOKEN, false), bool(pkcs11js.CKA_SENSITIVE, true),
  bool(pkcs11js.CKA_EXTRACTABLE, false), bool(pkcs11js.CKA_ENCRYPT, true), bool(pkcs11js.CKA_DECRYPT, true),
]);
const rsa = p11.C_GenerateKeyPair(sessions[0]!, { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
  [{ type: pkcs11js.CKA_MODULUS_BITS, value: 2048 }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) }, bool(pkcs11js.CKA_TOKEN, false), bool(pkcs11js.CKA_VERIFY, true)],
  [bool(pkcs11js.CKA_TOKEN, false), bool(pkcs11js.CKA_SIGN, true), bool(pkcs11js.CKA_SENSITIVE, true), bool(pkcs11js.CKA_EXTRACTABLE, false)]);
const ec = p11.C_GenerateKeyPair(sessions[0]!, { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
  [{ type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') }, bool(pkcs11js.CKA_TOKEN, false), bool(pkcs11js.CKA_VERIFY, true)],
  [bool(pkcs11js.CKA_TOKEN, false), bool(pkcs11js.CKA_SIGN, true), bool(pkcs11js.CKA_SENSITIVE, true), bool(pkcs11js.CKA_EXTRACTABLE, false)]);
const hmac = p11.C_GenerateKey(sessions[0]!, { mechanism: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN }, [
  { type: pkcs11js.CKA_VALUE_LEN, value: 32 }, bool(pkcs11js.CKA_TOKEN, false), bool(pkcs11js.CKA_SIGN, true), bool(pkcs11js.CKA_SENSITIVE, true),
]);

const kib = randomBytes(1024);
const gcm = (iv = randomBytes(12)) => ({
  mechanism: pkcs11js.CKM_AES_GCM,
  parameter: { type: pkcs11js.CK_PARAMS_AES_GCM_v240, iv, aad: Buffer.alloc(0), ivBits: 96, tagBits: 128 } as pkcs11js.GcmParams,
});
/** The IV of `sealed`, the one ciphertext every decrypt below opens. */
const sealIv = randomBytes(12);
p11.C_EncryptInit(sessions[0]!, gcm(sealIv), aes);
const sealed = Buffer.from(p11.C_Encrypt(sessions[0]!, kib, Buffer.alloc(1040)));
const digest = createHash('sha256').update(kib).digest();
const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), digest]);

const cpuUsPerOp: Record<string, number> = {};

async function measure(inFlight: number, op: (session: Buffer) => Promise<unknown> | unknown, name?: string): Promise<number> {
  const cpuBefore = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, i) => {
      const session = sessions[i + 1]!;
      while (performance.now() < end) {
        await op(session);
        count++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  if (name) cpuUsPerOp[name] = Math.round((cpu.user + cpu.system) / Math.max(1, count));
  return Math.round(count / seconds);
}

/** Verifications per second of one signature made once with the pair's private key, 16 in flight. */
async function verifyRate(mechanism: number, pair: pkcs11js.KeyPair, input: Buffer, signatureBytes: number): Promise<number> {
  p11.C_SignInit(sessions[0]!, { mechanism }, pair.privateKey);
  const signature = Buffer.from(p11.C_Sign(sessions[0]!, input, Buffer.alloc(signatureBytes)));
  return measure(16, (s) => {
    p11.C_VerifyInit(s, { mechanism }, pair.publicKey);
    return p11.C_VerifyAsync(s, input, signature);
  });
}

const results = {
  [RAW.aesEncrypt]: await measure(1, (s) => {
    p11.C_EncryptInit(s, gcm(), aes);
    return p11.C_Encrypt(s, kib, Buffer.alloc(1040));
  }),
  [RAW.aesDecrypt]: await measure(1, (s) => {
    p11.C_DecryptInit(s, gcm(sealIv), aes);
    return p11.C_Decrypt(s, sealed, Buffer.alloc(1040));
  }),
  // The token's part of GenerateDataKey AES_256: 32 bytes from the token's RNG, sealed under the key.
  [RAW.generateDataKey]: await measure(1, (s) => {
    const dataKey = p11.C_GenerateRandom(s, Buffer.alloc(32));
    p11.C_EncryptInit(s, gcm(), aes);
    return p11.C_Encrypt(s, dataKey, Buffer.alloc(48));
  }),
  // The token's part of ReEncrypt under the same key: open the 1 KiB ciphertext, seal it again.
  [RAW.reEncrypt]: await measure(1, (s) => {
    p11.C_DecryptInit(s, gcm(sealIv), aes);
    const opened = p11.C_Decrypt(s, sealed, Buffer.alloc(1040));
    p11.C_EncryptInit(s, gcm(), aes);
    return p11.C_Encrypt(s, opened, Buffer.alloc(1040));
  }),
  [RAW.rsaSign]: await measure(16, (s) => {
    p11.C_SignInit(s, { mechanism: pkcs11js.CKM_RSA_PKCS }, rsa.privateKey);
    return p11.C_SignAsync(s, digestInfo, Buffer.alloc(256));
  }, RAW.rsaSign),
  [RAW.rsaVerify]: await verifyRate(pkcs11js.CKM_RSA_PKCS, rsa, digestInfo, 256),
  [RAW.ecdsaSign]: await measure(16, (s) => {
    p11.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA }, ec.privateKey);
    return p11.C_SignAsync(s, digest, Buffer.alloc(64));
  }),
  [RAW.ecdsaVerify]: await verifyRate(pkcs11js.CKM_ECDSA, ec, digest, 64),
  [RAW.hmac]: await measure(1, (s) => {
    p11.C_SignInit(s, { mechanism: pkcs11js.CKM_SHA256_HMAC }, hmac);
    return p11.C_Sign(s, kib, Buffer.alloc(32));
  }),
};
process.stdout.write(JSON.stringify({ opsPerSecond: results, cpuUsPerOp }));
p11.C_Finalize();
