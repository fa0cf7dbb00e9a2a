/**
 * The names of the raw pkcs11js measurements (`bench/raw-token.ts`), one place for the script that
 * measures them and for `bench/run.ts`, which prints them and takes its baselines from them.
 */
export const RAW = {
  aesEncrypt: 'AES-GCM encrypt 1 KiB (sync)',
  aesDecrypt: 'AES-GCM decrypt 1 KiB (sync)',
  generateDataKey: 'GenerateDataKey AES_256: C_GenerateRandom 32 bytes and AES-GCM encrypt (sync)',
  reEncrypt: 'ReEncrypt 1 KiB: AES-GCM decrypt and encrypt (sync)',
  rsaSign: 'RSA-2048 PKCS#1 v1.5 sign (async, 16 in flight)',
  rsaVerify: 'RSA-2048 verify (async, 16 in flight)',
  ecdsaSign: 'ECDSA P-256 sign (async, 16 in flight)',
  ecdsaVerify: 'ECDSA P-256 verify (async, 16 in flight)',
  hmac: 'HMAC-SHA256 1 KiB (sync)',
} as const;
