// Which controller process may dispatch. Only the leader sends plans and drives rollouts;
// followers serve reads and the dashboard. With the embedded SQLite store there is one
// controller, always the leader; with etcd the leader holds a lease-backed election key.

export interface LeaderInfo {
  // The leader's identity (host:pid, or the id given to muster serve).
  id: string;
  // Where the leader's API answers, for followers that redirect writes.
  url?: string;
  sinceMs: number;
}

export interface Leadership {
  // Whether this process may dispatch right now.
  isLeader(): boolean;
  // Called with true when this process becomes the leader, false when it loses leadership
  // (lease lost, store unreachable). Returns the unsubscribe.
  onChange(fn: (leader: boolean) => void): () => void;
  // The current leader, as the store knows it (undefined while nobody leads).
  leader(): Promise<LeaderInfo | undefined>;
  // Resigns (a clean stop hands over at once instead of after the lease TTL).
  close(): Promise<void>;
}

// The embedded store: this process is the only controller, and leads from the start.
export function soleLeader(self: Omit<LeaderInfo, 'sinceMs'>, now = Date.now()): Leadership {
  const info: LeaderInfo = { ...self, sinceMs: now };
  return {
    isLeader: () => true,
    onChange: (fn) => {
      queueMicrotask(() => fn(true));
      return () => undefined;
    },
    leader: () => Promise.resolve(info),
    close: () => Promise.resolve(),
  };
}
