/**
 * Token quirks as data (STYLE.md, habit 4). A profile is chosen by the token's manufacturer id
 * unless the configuration names one.
 */
export interface VendorProfile {
  readonly name: string;
  /**
   * How short symmetric calls (AES-GCM on ≤ 4 KiB) run. A local software token answers in a few
   * microseconds, less than the thread hand-off of an async call costs (SoftHSM2 here: ≈ 57k sync
   * vs ≈ 20k async AES-GCM 1 KiB ops/s), so they may run on the event loop. A network HSM answers in
   * milliseconds and must never block it.
   */
  readonly symmetricCalls: 'sync' | 'async';
  /** Which CK_GCM_PARAMS layout the library expects (v2.40 adds ulIvBits). */
  readonly gcmParams: 'v240' | 'legacy';
  /** PKCS#11 return values this token gives when an AES-GCM tag does not verify. */
  readonly gcmTagFailureCodes: readonly string[];
  /** Sessions in the pool for calls that leave the event loop. */
  readonly sessionPoolSize: number;
  /**
   * RSAES-OAEP algorithms whose CK_RSA_PKCS_OAEP_PARAMS the token's CKM_RSA_PKCS_OAEP accepts.
   * Ciphertexts are the same either way; only where the OAEP padding is checked differs.
   */
  readonly oaepInToken: readonly ('RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256')[];
  /**
   * For the other OAEP algorithms: whether to run the raw RSA private-key operation (CKM_RSA_X_509)
   * in the token and decode OAEP on the host in constant time (src/adapters/pkcs11/oaep.ts), or to
   * answer UnsupportedOperationException. The private key stays in the token in both cases.
   */
  readonly oaepHostDecoding: boolean;
}

export const PROFILES = {
  softhsm2: {
    name: 'softhsm2',
    symmetricCalls: 'sync',
    gcmParams: 'v240',
    // SoftHSM2 2.6.1 reports a failed GCM tag check as CKR_GENERAL_ERROR (measured here).
    gcmTagFailureCodes: ['CKR_GENERAL_ERROR', 'CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE'],
    sessionPoolSize: 8,
    // SoftHSM2 2.6.1: CKM_RSA_PKCS_OAEP with SHA-256/MGF1-SHA256 gives CKR_ARGUMENTS_BAD (measured here).
    oaepInToken: ['RSAES_OAEP_SHA_1'],
    oaepHostDecoding: true,
  },
  cloudhsm: {
    name: 'cloudhsm',
    // Every call is a network round trip to the HSM cluster.
    symmetricCalls: 'async',
    gcmParams: 'v240',
    gcmTagFailureCodes: ['CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE', 'CKR_DATA_INVALID'],
    sessionPoolSize: 32,
    // CloudHSM's CKM_RSA_PKCS_OAEP takes SHA-1 and SHA-2 hashes with the matching MGF1.
    oaepInToken: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    oaepHostDecoding: false,
  },
  generic: {
    name: 'generic',
    symmetricCalls: 'async',
    gcmParams: 'v240',
    gcmTagFailureCodes: ['CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE'],
    sessionPoolSize: 16,
    oaepInToken: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    oaepHostDecoding: false,
  },
} as const satisfies Record<string, VendorProfile>;

export type ProfileName = keyof typeof PROFILES;

export function isProfileName(value: string): value is ProfileName {
  return Object.hasOwn(PROFILES, value);
}

export function profileForManufacturer(manufacturerId: string): VendorProfile {
  const maker = manufacturerId.trim();
  if (maker === 'SoftHSM project') return PROFILES.softhsm2;
  if (/cavium|marvell|amazon/i.test(maker)) return PROFILES.cloudhsm;
  return PROFILES.generic;
}
