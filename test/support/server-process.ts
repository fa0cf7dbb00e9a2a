import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const CLI = resolve('dist/src/cli/main.js');

export function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' before the end-to-end tests`);
}

/** Runs the built CLI and returns its parsed JSON output (throws with stderr on failure). */
export function cli(args: string[], env: NodeJS.ProcessEnv = process.env): any {
  const result = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`p11kms ${args[0]} failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

export { tempDir } from './temp-dirs.js';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly address: string;
  /** Everything the server printed on stdout and stderr so far. */
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts `p11kms serve` as a separate process and waits until it says where it listens. */
export async function startServer(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const address = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    const check = () => {
      const match = /"address":"(127\.0\.0\.1:\d+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return {
    child,
    address,
    output: () => output,
    stop: () =>
      new Promise((resolvePromise) => {
        if (child.exitCode !== null) return resolvePromise(child.exitCode);
        child.once('exit', (code) => resolvePromise(code));
        child.kill('SIGTERM');
      }),
  };
}

export interface Credentials {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A raw gRPC client from the .proto file, independent of the server's own codec. */
export function rawClient(address: string, credentials: Credentials, protoFile = 'p11kms/v1/kms.proto', service = 'p11kms.v1.KeyManagementService', includeDirs = [resolve('proto')]): any {
  const definition = protoLoader.loadSync(protoFile, { keepCase: true, longs: String, enums: String, defaults: false, arrays: true, objects: true, oneofs: true, includeDirs });
  const object = grpc.loadPackageDefinition(definition) as any;
  const Client = service.split('.').reduce((node, part) => node[part], object);
  return new Client(address, grpc.credentials.createSsl(credentials.ca, credentials.key, credentials.cert), {
    'grpc.ssl_target_name_override': 'localhost',
  });
}

/** Calls a unary RPC; resolves with {response} or {error}. */
export function unary(client: any, method: string, request: object): Promise<{ response?: any; error?: grpc.ServiceError }> {
  return new Promise((resolvePromise) =>
    client[method](request, { deadline: Date.now() + 15_000 }, (error: grpc.ServiceError | null, response: any) =>
      resolvePromise(error ? { error } : { response }),
    ),
  );
}
