import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A throwaway PostgreSQL server for one test file; see startPostgres. */
export interface TestPostgres {
  /** A database created for the caller (`p11kms`), as the superuser `postgres` over TCP. */
  readonly connectionString: string;
  readonly port: number;
  /** Creates another empty database and returns its connection string (e.g. one per test). */
  createDatabase(options?: { icuLocale?: string }): Promise<string>;
  /** Drops a database made by createDatabase, closing any connection still on it. */
  dropDatabase(connectionString: string): Promise<void>;
  /** Stops the server, keeping its data: 'fast' as an orderly shutdown, 'immediate' as a crash. */
  stopServer(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts the stopped server again on the same data directory and port. */
  startServer(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /**
   * fsync of the throwaway cluster; default on, as in production. Off makes CREATE DATABASE and
   * commits cheaper; a test that crashes the server ('immediate') without losing the machine is
   * unaffected either way.
   */
  readonly fsync?: boolean;
}

const SUPERUSER = 'postgres';

/**
 * Starts a PostgreSQL server of its own (integration tests run against a real PostgreSQL): initdb
 * in a fresh temp directory, owned by and run as the `postgres` OS user when we are root (the
 * server refuses to run as root), listening on a free port of 127.0.0.1 only, trust
 * authentication (no password; nothing but this machine can connect), and one database created.
 * The server is stopped when the process exits, even if `stop` is never called.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const asPostgres = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'p11kms-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asPostgres) chownSync(dir, asPostgres.uid, asPostgres.gid);

  /** A PostgreSQL tool's command line, run as the `postgres` user when we are root. */
  const commandLine = (tool: string, args: string[]): [string, string[]] =>
    asPostgres ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  const pgCommand = async (tool: string, args: string[]): Promise<void> => {
    const [file, argv] = commandLine(tool, args);
    // cwd: the postgres user may not be allowed into the caller's working directory.
    await run(file, argv, { cwd: dir, env: serverEnv(), timeout: 90_000 });
  };
  const stopNow = (mode: 'fast' | 'immediate') => pgCommand('pg_ctl', ['stop', '-D', data, '-m', mode, '-w', '-s']);

  let port = 0;
  let running = false;
  const onExit = () => {
    // Synchronous: the process is going away. Best effort, then the directory goes too.
    if (running) {
      const [file, argv] = commandLine('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-s']);
      try {
        execFileSync(file, argv, { cwd: dir, stdio: 'ignore', timeout: 10_000 });
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const startServer = async (): Promise<void> => {
    try {
      await pgCommand('pg_ctl', ['start', '-D', data, '-l', log, '-w', '-t', '60', '-s']);
    } catch (error) {
      throw new Error(`PostgreSQL did not start: ${explain(error)}\n${tail(log)}`);
    }
    running = true;
    await waitUntilAccepting(adminUrl(port, 'postgres'));
  };

  try {
    // --no-sync: a throwaway cluster need not wait for initdb's fsyncs.
    await pgCommand('initdb', [
      '-D', data, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ]).catch((error: unknown) => {
      throw new Error(`initdb failed: ${explain(error)}`);
    });
    // A port may be taken between choosing it and binding it (another test file, another job): retry.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      appendFileSync(
        join(data, 'postgresql.conf'),
        [
          '',
          '# p11kms test harness (test/support/postgres.ts); later lines win.',
          `port = ${port}`,
          `listen_addresses = '127.0.0.1'`,
          `unix_socket_directories = '${dir}'`,
          `fsync = ${options.fsync === false ? 'off' : 'on'}`,
          'max_connections = 200',
          '',
        ].join('\n'),
      );
      try {
        await startServer();
        break;
      } catch (error) {
        if (attempt >= 3 || !/could not bind|Address already in use/i.test(String(error))) throw error;
      }
    }
    await adminQuery(port, `CREATE DATABASE p11kms`);
  } catch (error) {
    onExit();
    process.removeListener('exit', onExit);
    throw error;
  }

  return {
    connectionString: adminUrl(port, 'p11kms'),
    port,
    async createDatabase({ icuLocale } = {}) {
      const name = `t_${randomBytes(8).toString('hex')}`;
      const locale =
        icuLocale === undefined
          ? ''
          : ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE ${pg.escapeLiteral(icuLocale)}`;
      await adminQuery(port, `CREATE DATABASE ${name}${locale}`);
      return adminUrl(port, name);
    },
    async dropDatabase(connectionString) {
      const name = new URL(connectionString).pathname.slice(1);
      await adminQuery(port, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    },
    async stopServer(mode = 'fast') {
      await stopNow(mode);
      running = false;
    },
    startServer,
    async stop() {
      process.removeListener('exit', onExit);
      try {
        if (running) await stopNow('fast');
        running = false;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The directory holding initdb, pg_ctl and postgres: $P11KMS_PG_BINDIR, else Debian's
 * /usr/lib/postgresql/<major>/bin (15 preferred, the version the service is tested with, else the
 * newest), else what `pg_config --bindir` names.
 */
export function postgresBinDir(): string {
  const fromEnv = process.env.P11KMS_PG_BINDIR;
  if (fromEnv) {
    if (!existsSync(join(fromEnv, 'initdb'))) throw new Error(`P11KMS_PG_BINDIR=${fromEnv} holds no initdb`);
    return fromEnv;
  }
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')))
        .map(Number)
        .sort((a, b) => b - a)
    : [];
  const major = majors.includes(15) ? 15 : majors[0];
  if (major !== undefined) return join(root, String(major), 'bin');
  try {
    const bindir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (existsSync(join(bindir, 'initdb'))) return bindir;
  } catch {
    // No pg_config either.
  }
  throw new Error(
    'PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin or pg_config --bindir. ' +
      'Install them with hsm/install-deps.sh (apt-get install postgresql), or set P11KMS_PG_BINDIR.',
  );
}

/** When we are root, the `postgres` OS user's ids (the server refuses to run as root); else undefined. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres');
  if (entry === undefined) {
    throw new Error(
      'running as root, but there is no `postgres` OS user to run PostgreSQL as; run hsm/install-deps.sh',
    );
  }
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** Our environment without libpq/PG* variables that could point the tools at another cluster. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  for (const name of Object.keys(env)) if (name.startsWith('PG')) delete env[name];
  return env;
}

function adminUrl(port: number, database: string): string {
  return `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`;
}

async function adminQuery(port: number, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(port, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** pg_ctl -w has seen the server up; this confirms a TCP session works, retrying for a while. */
async function waitUntilAccepting(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL at ${url} does not accept connections: ${explain(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function explain(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  return [String(error instanceof Error ? error.message : error), typeof stderr === 'string' ? stderr.trim() : '']
    .filter(Boolean)
    .join('\n');
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}
