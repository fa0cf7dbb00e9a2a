import type { KmsRpc } from '../transport/grpc/client.js';

export interface ConnectionOptions {
  dataDir: string;
  endpoint?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

export type Options = ConnectionOptions & Record<string, unknown>;

/** Each client command: its RPC, its flags, and how the flags become the request. */
export interface CommandSpec {
  readonly name: string;
  readonly rpc: KmsRpc;
  readonly describe: string;
  readonly flags: Array<[string, string, ((value: string, previous?: any) => unknown)?]>;
  readonly request: (options: Options) => Record<string, unknown>;
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

export const integer = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new Error(`not an integer: ${value}`);
  return parsed;
};
