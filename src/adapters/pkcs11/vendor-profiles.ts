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
   * milliseconds and must never block it: 'async' runs Init and call together in an operation worker.
   */
  readonly symmetricCalls: 'sync' | 'async';
  /** Which CK_GCM_PARAMS layout the library expects (v2.40 adds ulIvBits). */
  readonly gcmParams: 'v240' | 'legacy';
  /** PKCS#11 return values this token gives when an AES-GCM tag does not verify. */
  readonly gcmTagFailureCodes: readonly string[];
  /** Sessions in the pool for calls that leave the event loop. */
  readonly sessionPoolSize: number;
  /**
   * Worker threads that run an operation whole, Init and call (src/adapters/pkcs11/operation-workers.ts):
   * signing with RSA keys, RSA decryption, ECDH, and on profiles without cheapInitsOnLoop every
   * signature and MAC. Each runs one call at a time, so this bounds those calls in flight, as the
   * 4 threads of libuv's pool (UV_THREADPOOL_SIZE) bounded them when only the call left the loop.
   * Each worker is a V8 isolate: ≈ 5–8 MiB of RSS (measured here).
   */
  readonly operationWorkers: number;
  /**
   * Whether a cheap Init (HMAC, ECDSA, EdDSA: SIGNING_MECHANISMS cheapInit) runs on the event loop,
   * followed by the asynchronous call on a libuv thread, instead of in an operation worker. A worker
   * round trip costs more CPU than libuv's hand-off; on a local software token it saves less than
   * it costs where Init takes microseconds. A network HSM makes every Init a round trip, which must
   * not block the loop (DESIGN.md, Hsm).
   */
  readonly cheapInitsOnLoop: boolean;
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
  /**
   * Whether operations with a key version's secret or private key run on a session-object copy of
   * its token object (C_CopyObject with CKA_TOKEN=false, src/adapters/pkcs11/working-copies.ts)
   * instead of on the token object itself.
   *
   * SoftHSM2's file object store re-validates a token object on every use (strace per AES-GCM call:
   * ≈ 2 openat, 6 fcntl, 2 read, 2 newfstatat, 2 close), while a session object lives in memory:
   * AES-GCM on 1 KiB ran at 31k ops/s (32 µs) on a token object and at 56k ops/s (18 µs) on a
   * session copy used from any session of the process (SoftHSM2 2.6.1, measured here). The copy
   * keeps CKA_SENSITIVE, CKA_EXTRACTABLE=false, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE and
   * CKA_LOCAL: key material still never leaves the token (DESIGN.md, invariant 1).
   *
   * On CloudHSM session objects belong to one connection and their number is limited, so
   * operations keep the token handles there (`false`).
   */
  readonly workingCopies: WorkingCopySettings | false;
}

export interface WorkingCopySettings {
  /**
   * A copy is remade at most this long after it was made (while it still serves, if operations
   * used it; else it is dropped). That bounds how long a key version destroyed by another replica
   * sharing the token stays usable here: remaking the copy finds no token object, the entry is
   * dropped, and the next operation fails as for any missing key.
   */
  readonly maxAgeMs: number;
  /**
   * How long a copy that aged out stays in the token before it is destroyed. No new operation gets
   * it; an operation that took its handle just before (and is waiting for a pooled session, or
   * deriving on a libuv thread) must still find it.
   */
  readonly retiredCopyGraceMs: number;
  /**
   * A key is copied at its Nth use (default 1); until then its token handle serves, and the copy is
   * made in the background. A copy costs a worker-thread call and a timer, ~50 µs of SoftHSM2 CPU:
   * worth it for a key in steady use, not for one used once. With SoftHSM2's file store an
   * operation on a token object rechecks the object's file (AES-GCM 1 KiB encrypt, raw pkcs11js:
   * 39 µs per call with 10 token objects, 51 µs with 10,000; 19.5 and 20.3 µs on session copies).
   */
  readonly copyAfterUses?: number;
}

export const PROFILES = {
  softhsm2: {
    name: 'softhsm2',
    symmetricCalls: 'sync',
    gcmParams: 'v240',
    // SoftHSM2 2.6.1 reports a failed GCM tag check as CKR_GENERAL_ERROR (measured here).
    gcmTagFailureCodes: ['CKR_GENERAL_ERROR', 'CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE'],
    sessionPoolSize: 8,
    // Signing is CPU of this host. 4 workers keep the concurrency libuv's 4 threads gave C_SignAsync,
    // so a host with 4 cores or more signs as fast as before. On 2 cores (bench:profile, Sign RSA-2048
    // at 16 in flight, medians of 3) 2 workers ran 790 req/s, 4 ran 731 and 8 ran 717, within the
    // ±10% that runs on this shared machine vary by.
    operationWorkers: 4,
    // Through the service at 16 in flight (medians of 3): Sign ECDSA P-256 ran 1,300 req/s with Init
    // on the loop and 1,233 in workers, at 701 and 837 µs of server CPU per request; GenerateMac
    // HMAC-SHA-256 on 1 KiB ran 1,359 and 1,382 req/s (the same, within noise) at 599 and 689 µs.
    // Init with an EC or HMAC key costs less here than the round trip to a worker.
    cheapInitsOnLoop: true,
    // SoftHSM2 2.6.1: CKM_RSA_PKCS_OAEP with SHA-256/MGF1-SHA256 gives CKR_ARGUMENTS_BAD (measured here).
    oaepInToken: ['RSAES_OAEP_SHA_1'],
    oaepHostDecoding: true,
    workingCopies: { maxAgeMs: 60_000, retiredCopyGraceMs: 5_000, copyAfterUses: 2 },
  },
  cloudhsm: {
    name: 'cloudhsm',
    // Every call is a network round trip to the HSM cluster.
    symmetricCalls: 'async',
    gcmParams: 'v240',
    gcmTagFailureCodes: ['CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE', 'CKR_DATA_INVALID'],
    sessionPoolSize: 32,
    // Calls wait on the network, not on this host's CPU: more in flight than libuv's 4 threads,
    // without a V8 isolate for each of the 32 sessions.
    operationWorkers: 8,
    cheapInitsOnLoop: false,
    // CloudHSM's CKM_RSA_PKCS_OAEP takes SHA-1 and SHA-2 hashes with the matching MGF1.
    oaepInToken: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    oaepHostDecoding: false,
    workingCopies: false,
  },
  generic: {
    name: 'generic',
    symmetricCalls: 'async',
    gcmParams: 'v240',
    gcmTagFailureCodes: ['CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE'],
    sessionPoolSize: 16,
    operationWorkers: 4,
    cheapInitsOnLoop: false,
    oaepInToken: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    oaepHostDecoding: false,
    workingCopies: false,
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
