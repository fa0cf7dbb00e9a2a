import { InvalidArgumentError } from 'commander';
import type { KmsRpc } from '../transport/grpc/client.js';

export interface ConnectionOptions {
  dataDir: string;
  endpoint?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

export type Options = ConnectionOptions & Record<string, unknown>;

/** Each client command: its RPC (of the KMS service unless said), its flags, and how the flags become the request. */
export interface CommandSpec<Rpc extends string = KmsRpc> {
  readonly name: string;
  readonly rpc: Rpc;
  readonly describe: string;
  readonly flags: Array<[string, string, ((value: string, previous?: any) => unknown)?]>;
  /** The RPC takes AWS KMS's DryRun: the command gets `--dry-run`. */
  readonly dryRun?: true;
  readonly request: (options: Options) => Record<string, unknown>;
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

// InvalidArgumentError: commander prints "error: option '--limit <n>' argument 'x' is invalid. …"
// and exits 1, instead of a stack trace.
export const integer = (value: string) => {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isInteger(parsed)) throw new InvalidArgumentError('Not an integer.');
  return parsed;
};

export const isoTime = (value: string): Date => {
  const parsed = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(parsed.getTime())) {
    throw new InvalidArgumentError('Not an ISO 8601 time (e.g. 2026-11-30T07:00:00Z).');
  }
  return parsed;
};
