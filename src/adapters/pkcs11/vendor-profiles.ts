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
}

export const PROFILES = {
  softhsm2: {
    name: 'softhsm2',
    symmetricCalls: 'sync',
    gcmParams: 'v240',
    // SoftHSM2 2.6.1 reports a failed GCM tag check as CKR_GENERAL_ERROR (measured here).
    gcmTagFailureCodes: ['CKR_GENERAL_ERROR', 'CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE'],
    sessionPoolSize: 8,
  },
  cloudhsm: {
    name: 'cloudhsm',
    // Every call is a network round trip to the HSM cluster.
    symmetricCalls: 'async',
    gcmParams: 'v240',
    gcmTagFailureCodes: ['CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE', 'CKR_DATA_INVALID'],
    sessionPoolSize: 32,
  },
  generic: {
    name: 'generic',
    symmetricCalls: 'async',
    gcmParams: 'v240',
    gcmTagFailureCodes: ['CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE'],
    sessionPoolSize: 16,
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
