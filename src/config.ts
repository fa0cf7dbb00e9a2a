import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_ACCOUNT, DEFAULT_TOKEN_LABEL, dataDirLayout, type DataDirLayout } from './cli/data-dir.js';
import { isProfileName } from './adapters/pkcs11/vendor-profiles.js';

/**
 * The service's configuration: a JSON file for production (bring your own token, CA and
 * certificates), or everything derived from a data dir made by `p11kms init` for development.
 * The PIN itself is never part of it: only where to read it from (an env var or a 0600 file).
 */
const ConfigSchema = z
  .object({
    listen: z.string().regex(/^[^:]+:\d{1,5}$/, 'listen must be host:port').default('127.0.0.1:7443'),
    partition: z.string().min(1).default('aws'),
    region: z.string().min(1).default('us-east-1'),
    defaultAccount: z.string().regex(/^\d{12}$/, 'defaultAccount must be a 12-digit account id').default(DEFAULT_ACCOUNT),
    pkcs11: z
      .object({
        library: z.string().min(1),
        tokenLabel: z.string().min(1).default(DEFAULT_TOKEN_LABEL),
        pinEnv: z.string().min(1).optional(),
        pinFile: z.string().min(1).optional(),
        profile: z.string().refine(isProfileName, 'unknown vendor profile').optional(),
        /** SoftHSM2 only: its configuration file, exported as SOFTHSM2_CONF before the library loads. */
        softhsmConf: z.string().optional(),
      })
      .strict()
      .refine((p) => p.pinEnv !== undefined || p.pinFile !== undefined, 'pkcs11 needs pinEnv or pinFile'),
    tls: z.object({ ca: z.string().min(1), cert: z.string().min(1), key: z.string().min(1) }).strict(),
    /**
     * Where key metadata and the audit ledger live: a SQLite file (one process, the default) or a
     * PostgreSQL database that several replicas share (issue 7).
     */
    store: z.union([
      z.object({ sqlite: z.string().min(1) }).strict(),
      z
        .object({
          postgres: z.string().regex(/^postgres(ql)?:\/\//, 'postgres must be a postgres:// or postgresql:// URL'),
          /** Per-replica key metadata cache; LISTEN/NOTIFY keeps it no staler than this bound. */
          cacheStalenessMs: z.number().int().min(100).max(10_000).default(750),
        })
        .strict(),
    ]),
    /**
     * The replicas' leader election (PostgreSQL only): how often a follower tries to take the
     * leader lock, i.e. how soon the schedulers resume after the leader dies.
     */
    leaderPollSeconds: z.number().positive().max(60).default(2),
    /**
     * Identity policies (IAM-style documents attached to role and user ARNs), reloaded on SIGHUP.
     * Without it only key policies and grants decide (the account root still has the default policy).
     */
    identityPolicies: z.string().min(1).optional(),
    /**
     * Whether that file may be absent: then no identity policies are in force until it is created
     * and the server gets SIGHUP. The embedded defaults set it (data/identity-policies.json is not
     * made by `init`); a path given in a configuration file must exist, so a typo stops the server
     * at start rather than denying every request that needs an identity policy.
     */
    identityPoliciesMayBeAbsent: z.boolean().default(false),
    /** The audit ledger (issue 6): group commit and signed checkpoints. */
    ledger: z
      .object({
        /** Sign a checkpoint once the head is this many entries past the last one… */
        checkpointEveryEntries: z.number().int().min(1).max(10_000_000).default(1000),
        /** …or this many seconds after it, if entries were added meanwhile. */
        checkpointIntervalSeconds: z.number().positive().max(86_400).default(10),
        /** The most entries one group-commit transaction holds. */
        maxBatchEntries: z.number().int().min(1).max(10_000).default(256),
      })
      .strict()
      .default({}),
    /** How often the scheduler looks for keys due for rotation or deletion. */
    schedulerIntervalSeconds: z.number().int().min(1).max(86_400).default(60),
    /**
     * How old a key material intent (a CreateKey or rotation that made a token object and did not
     * store its metadata: a crash) must be before the scheduler destroys its object. Longer than
     * any CreateKey takes; one that does take longer fails and stores nothing.
     */
    abandonKeyMaterialAfterSeconds: z.number().int().min(1).max(7 * 86_400).default(900),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /**
     * One info log line per request, written after its ledger entry. Off by default: the ledger
     * already holds every request (tamper-evident, and readable through ListAuditEvents and
     * `p11kms audit export`), and the line cost ~30 µs per request in the benchmark profile.
     * Denials and internal errors are logged either way.
     */
    accessLog: z.boolean().default(false),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type StoreConfig = Config['store'];

/**
 * `--store sqlite:PATH` or `--store postgres://…` (the PostgreSQL URL as libpq takes it, e.g.
 * postgres://p11kms@db:5432/p11kms?sslmode=require). ConfigError for anything else.
 */
export function parseStoreOption(value: string): StoreConfig {
  if (/^postgres(ql)?:\/\//.test(value)) return { postgres: value, cacheStalenessMs: 750 };
  if (value.startsWith('sqlite:') && value.length > 'sqlite:'.length) return { sqlite: value.slice('sqlite:'.length) };
  throw new ConfigError(`--store must be sqlite:PATH or a postgres:// URL, not ${JSON.stringify(value)}`);
}

/** A log-safe description of the store: the PostgreSQL URL without its password. */
export function describeStore(store: StoreConfig): string {
  if ('sqlite' in store) return `sqlite:${store.sqlite}`;
  try {
    const url = new URL(store.postgres);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Environment variables that override the ledger settings of a file or a data dir, e.g. for a CI job
 * that wants frequent checkpoints: P11KMS_LEDGER_CHECKPOINT_EVERY, P11KMS_LEDGER_CHECKPOINT_SECONDS,
 * P11KMS_LEDGER_MAX_BATCH. Validated like the file.
 */
const LEDGER_ENV = {
  checkpointEveryEntries: 'P11KMS_LEDGER_CHECKPOINT_EVERY',
  checkpointIntervalSeconds: 'P11KMS_LEDGER_CHECKPOINT_SECONDS',
  maxBatchEntries: 'P11KMS_LEDGER_MAX_BATCH',
} as const;

function withLedgerEnvironment(input: unknown, env: NodeJS.ProcessEnv): unknown {
  const overrides = Object.fromEntries(
    Object.entries(LEDGER_ENV)
      .filter(([, name]) => env[name] !== undefined && env[name] !== '')
      .map(([setting, name]) => [setting, Number(env[name])]),
  );
  if (Object.keys(overrides).length === 0 || typeof input !== 'object' || input === null) return input;
  const ledger = (input as { ledger?: object }).ledger ?? {};
  return { ...input, ledger: { ...ledger, ...overrides } };
}

/**
 * Top-level numeric settings that an environment variable may override (e.g. a test or CI job that
 * wants the scheduler and a leader take-over within seconds): validated like the file.
 */
const TOP_LEVEL_ENV = {
  schedulerIntervalSeconds: 'P11KMS_SCHEDULER_INTERVAL_SECONDS',
  abandonKeyMaterialAfterSeconds: 'P11KMS_ABANDON_KEY_MATERIAL_AFTER_SECONDS',
  leaderPollSeconds: 'P11KMS_LEADER_POLL_SECONDS',
} as const;

function withTopLevelEnvironment(input: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const overrides = Object.fromEntries(
    Object.entries(TOP_LEVEL_ENV)
      .filter(([, name]) => env[name] !== undefined && env[name] !== '')
      .map(([setting, name]) => [setting, Number(env[name])]),
  );
  return { ...input, ...overrides };
}

export function parseConfig(input: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const result = ConfigSchema.safeParse(withTopLevelEnvironment(withLedgerEnvironment(input, env), env));
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration in ${source}: ${problems.join('; ')}`);
  }
  return result.data;
}

export function loadConfigFile(path: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read configuration ${path}: ${(error as Error).message}`);
  }
  return parseConfig(raw, path);
}

/** The embedded defaults: everything under a data dir initialised by `p11kms init`. */
export function configForDataDir(root: string, softhsmLibrary: string): { config: Config; layout: DataDirLayout } {
  const layout = dataDirLayout(root);
  const config = parseConfig(
    {
      pkcs11: { library: softhsmLibrary, pinFile: layout.pinFile, softhsmConf: layout.softhsmConf, profile: 'softhsm2' },
      tls: { ca: layout.caCert, cert: layout.serverCert, key: layout.serverKey },
      store: { sqlite: layout.database },
      identityPolicies: layout.identityPolicies,
      identityPoliciesMayBeAbsent: true,
    },
    `data dir ${root}`,
  );
  return { config, layout };
}
