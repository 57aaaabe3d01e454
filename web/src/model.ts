import type { DriftJson } from './api.ts';
import type { NodeJson, RolloutRecord } from './types.ts';

export type StateFilter = '' | 'ready' | 'not-ready' | 'unreachable' | 'probe-failing' | 'drifted' | 'cert-expiring';

export const STATE_FILTERS: { value: StateFilter; label: string }[] = [
  { value: '', label: 'any state' },
  { value: 'ready', label: 'ready' },
  { value: 'not-ready', label: 'not ready' },
  { value: 'unreachable', label: 'unreachable' },
  { value: 'probe-failing', label: 'a probe failing' },
  { value: 'drifted', label: 'drift seen' },
  { value: 'cert-expiring', label: 'certificate within 30 days' },
];

export interface Filter {
  text: string;
  role: string;
  // "key=value", or "key" for any value.
  label: string;
  state: StateFilter;
}

export const NO_FILTER: Filter = { text: '', role: '', label: '', state: '' };

export const CERT_WARN_DAYS = 30;

export const probeFailing = (n: NodeJson) => n.probes.some((p) => p.state !== 'healthy');
export const drifted = (n: NodeJson) => (n.drift?.detected ?? 0) > 0;

export function matches(n: NodeJson, f: Filter): boolean {
  if (f.role && !(n.roles as string[]).includes(f.role)) return false;
  if (f.label) {
    const i = f.label.indexOf('=');
    const [k, v] = i < 0 ? [f.label, undefined] : [f.label.slice(0, i), f.label.slice(i + 1)];
    if (!(k in n.labels) || (v !== undefined && n.labels[k] !== v)) return false;
  }
  switch (f.state) {
    case '':
      break;
    case 'probe-failing':
      if (!probeFailing(n)) return false;
      break;
    case 'drifted':
      if (!drifted(n)) return false;
      break;
    case 'cert-expiring':
      if (!n.soonestCertificate || n.soonestCertificate.daysLeft >= CERT_WARN_DAYS) return false;
      break;
    default:
      if (n.state !== f.state) return false;
  }
  if (f.text) {
    const t = f.text.toLowerCase();
    if (!n.node.toLowerCase().includes(t) && !n.address.includes(t)) return false;
  }
  return true;
}

const collator = new Intl.Collator('en', { numeric: true });

// The fleet as the page knows it: one record per node, replaced whole by each `node` event,
// so an unchanged row keeps its object and its rendered row.
export class FleetModel {
  private readonly byName = new Map<string, NodeJson>();
  private sorted: NodeJson[] | undefined;
  // Where each node sits in `sorted`, so an event replaces its entry without a search.
  private readonly position = new Map<string, number>();
  private facetCache: { roles: string[]; labels: string[] } | undefined;

  replace(nodes: NodeJson[]): void {
    this.byName.clear();
    for (const n of nodes) this.byName.set(n.node, n);
    this.sorted = undefined;
    this.facetCache = undefined;
  }

  upsert(n: NodeJson): void {
    const had = this.byName.get(n.node);
    this.byName.set(n.node, n);
    const i = this.position.get(n.node);
    if (had && this.sorted && i !== undefined) {
      this.sorted = this.sorted.slice();
      this.sorted[i] = n;
    } else this.sorted = undefined;
    // Roles and labels come from the inventory: only a new node or a changed one can add choices.
    if (!had || had.roles.join() !== n.roles.join() || JSON.stringify(had.labels) !== JSON.stringify(n.labels)) this.facetCache = undefined;
  }

  get(name: string): NodeJson | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  // Sorted by name, n2 before n10; the same array until a node changes.
  list(): NodeJson[] {
    if (!this.sorted) {
      this.sorted = [...this.byName.values()].sort((a, b) => collator.compare(a.node, b.node));
      this.position.clear();
      this.sorted.forEach((n, i) => this.position.set(n.node, i));
    }
    return this.sorted;
  }

  // The roles and labels present, for the filter's choices.
  facets(): { roles: string[]; labels: string[] } {
    if (!this.facetCache) {
      const roles = new Set<string>();
      const labels = new Set<string>();
      for (const n of this.byName.values()) {
        for (const r of n.roles) roles.add(r);
        for (const [k, v] of Object.entries(n.labels)) labels.add(`${k}=${v}`);
      }
      this.facetCache = { roles: [...roles].sort(collator.compare), labels: [...labels].sort(collator.compare) };
    }
    return this.facetCache;
  }

  counts() {
    const c = { total: 0, ready: 0, notReady: 0, unreachable: 0, probeFailing: 0, drifted: 0 };
    for (const n of this.byName.values()) {
      c.total++;
      if (n.state === 'ready') c.ready++;
      else if (n.state === 'not-ready') c.notReady++;
      else c.unreachable++;
      if (probeFailing(n)) c.probeFailing++;
      if (drifted(n)) c.drifted++;
    }
    return c;
  }
}

export const DRIFT_FEED = 50;

// Newest first, at most DRIFT_FEED.
export function addDrift(feed: DriftJson[], d: DriftJson): DriftJson[] {
  return [d, ...feed].slice(0, DRIFT_FEED);
}

// The rollout the page shows: the one running or paused, else the newest.
export function currentRollout(rollouts: RolloutRecord[]): RolloutRecord | undefined {
  return rollouts.find((r) => r.state === 'running' || r.state === 'paused') ?? rollouts[0];
}

// A rollout event: the record replaces the one with its id (or is added, newest first).
export function mergeRollout(rollouts: RolloutRecord[], r: RolloutRecord): RolloutRecord[] {
  const rest = rollouts.filter((x) => x.id !== r.id);
  return [r, ...rest].sort((a, b) => b.createdAtMs - a.createdAtMs);
}
