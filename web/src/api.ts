import type { HistoryEntry, JournalEntry, NodeJson, OpenWait, RolloutRecord, RolloutStatus } from './types.ts';

export interface WhoAmI {
  cn: string;
  role: string;
  canWrite: boolean;
}

export interface Leader {
  self: { id: string; leader: boolean; store: string };
  leader?: { id: string; url?: string; sinceMs: number };
}

export interface Fleet {
  nodes: NodeJson[];
  summary: { total: number; ready: number; unreachable: number };
  recentDrift: DriftJson[];
}

export interface DriftJson {
  node: string;
  taskId?: string;
  path: string;
  what: string;
  repaired: boolean;
  error?: string;
  atMs: number | string;
}

// An answer the controller refused: its error code and message, as controller/errors.ts names them.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const e = (data ?? {}) as { error?: string; message?: string };
    throw new ApiError(res.status, e.error ?? `HTTP_${res.status}`, e.message ?? (text.slice(0, 200) || res.statusText));
  }
  return data as T;
}

const q = (id: string) => encodeURIComponent(id);

export const api = {
  whoami: () => call<WhoAmI>('GET', '/v1/whoami'),
  leader: () => call<Leader>('GET', '/v1/leader'),
  fleet: () => call<Fleet>('GET', '/v1/fleet'),
  rollouts: (limit = 20) => call<{ rollouts: RolloutRecord[] }>('GET', `/v1/rollouts?limit=${limit}`),
  rollout: (id: string) => call<RolloutStatus>('GET', `/v1/rollouts/${q(id)}`),
  history: (limit = 100) => call<{ entries: HistoryEntry[] }>('GET', `/v1/history?limit=${limit}`),
  pause: (id: string, reason: string) => call<RolloutRecord>('POST', `/v1/rollouts/${q(id)}/pause`, { reason }),
  resume: (id: string) => call<RolloutRecord>('POST', `/v1/rollouts/${q(id)}/resume`, {}),
  abort: (id: string, reason: string) => call<RolloutRecord>('POST', `/v1/rollouts/${q(id)}/abort`, { reason }),
};

export interface EventHandlers {
  node(n: NodeJson): void;
  drift(d: DriftJson): void;
  rollout(r: RolloutRecord): void;
  journal(e: JournalEntry): void;
  wait(w: OpenWait): void;
  leader(l: Leader): void;
  // The stream is (re)connected: what happened while it was down must be read again.
  open(): void;
  down(): void;
}

// GET /v1/events: the browser's EventSource reconnects by itself; each (re)open resyncs.
export function connectEvents(h: EventHandlers): () => void {
  const es = new EventSource('/v1/events');
  const on = <T,>(name: keyof EventHandlers, fn: (data: T) => void) =>
    es.addEventListener(name, (ev) => {
      try {
        fn(JSON.parse((ev as MessageEvent<string>).data) as T);
      } catch {
        // A malformed event is dropped; the next resync brings the truth back.
      }
    });
  on<NodeJson>('node', h.node);
  on<DriftJson>('drift', h.drift);
  on<RolloutRecord>('rollout', h.rollout);
  on<JournalEntry>('journal', h.journal);
  on<OpenWait>('wait', h.wait);
  on<Leader>('leader', h.leader);
  es.onopen = () => h.open();
  es.onerror = () => h.down();
  return () => es.close();
}
