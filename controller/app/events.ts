import { viewJson, type NodeView } from '../fleet/view.js';
import type { Store } from '../store/store.js';

// What muster serve tells its watchers (GET /v1/events): node views from the monitor, drift,
// and every rollout, journal and wait write of the rollouts it drives.
export type EventName = 'node' | 'drift' | 'rollout' | 'journal' | 'wait' | 'leader' | 'job';
export type Listener = (name: EventName, data: unknown) => void;

// A node is sent at most once per this long: a flapping probe on 1,000 nodes stays readable.
export const NODE_COALESCE_MS = 250;

export class ControllerEvents {
  private readonly listeners = new Set<Listener>();
  // Per node: the view waiting for its turn (null: the window is open, nothing waits).
  private readonly held = new Map<string, { timer: NodeJS.Timeout; view: NodeView | null }>();

  constructor(private readonly coalesceMs = NODE_COALESCE_MS) {}

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get watchers(): number {
    return this.listeners.size;
  }

  emit(name: EventName, data: unknown): void {
    for (const fn of this.listeners) fn(name, data);
  }

  // The first change of a node goes out at once; later ones within the window are merged into one.
  node(view: NodeView): void {
    const h = this.held.get(view.node.name);
    if (h) {
      h.view = view;
      return;
    }
    this.emit('node', viewJson(view));
    this.openWindow(view.node.name);
  }

  close(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
    this.listeners.clear();
  }

  private openWindow(name: string): void {
    const timer = setTimeout(() => {
      const h = this.held.get(name)!;
      this.held.delete(name);
      if (h.view) this.node(h.view);
    }, this.coalesceMs);
    timer.unref();
    this.held.set(name, { timer, view: null });
  }
}

type StoreMethod = { [K in keyof Store]: Store[K] extends (...a: never[]) => Promise<unknown> ? K : never }[keyof Store];

// The store with a tap on its writes: fn sees the method, its arguments and what it resolved to.
export function tapStore(store: Store, fn: (method: StoreMethod, args: unknown[], result: unknown) => void): Store {
  return new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      const bound = (v as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        const out = bound(...args);
        if (out instanceof Promise) return out.then((r: unknown) => (fn(prop as StoreMethod, args, r), r));
        return out;
      };
    },
  });
}

// The store as serve's jobs use it: every rollout state change, journal entry and wait is an event.
export function observedStore(store: Store, events: ControllerEvents): Store {
  return tapStore(store, (method, args, result) => {
    if (method === 'createRollout' || method === 'updateRollout') events.emit('rollout', result);
    else if (method === 'journal') events.emit('journal', result);
    else if (method === 'setWait') events.emit('wait', args[0]);
  });
}
