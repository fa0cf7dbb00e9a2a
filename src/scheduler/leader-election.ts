/**
 * Which replica runs the background work that must happen once (issue 7, item 3): the key
 * lifecycle scheduler and the ledger checkpointer. A single process (SQLite) always leads; replicas
 * on PostgreSQL elect one with an advisory lock (src/adapters/sql/postgres-leader-election.ts).
 */
export interface LeaderElection {
  readonly isLeader: boolean;
  /** Told `true` when this process becomes the leader and `false` when it stops being it. */
  onChange(listener: (leader: boolean) => void): void;
  /** Steps down (releasing the lock) and stops campaigning. */
  close(): Promise<void>;
}

/** The one process that owns its store leads from the start. */
export function soleLeader(): LeaderElection {
  return {
    isLeader: true,
    onChange: (listener) => queueMicrotask(() => listener(true)),
    close: async () => undefined,
  };
}
