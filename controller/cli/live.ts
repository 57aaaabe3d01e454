import type { Plan, TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import { painter } from './format.js';
import type { Io } from './io.js';

// Progress of a plan or an apply. On a terminal: a block at the bottom redrawn in place, one
// line per node in flight (the task it is on, tasks done/total) and a bar for the fleet; the
// finished nodes' lines scroll above it. Piped: nothing but those finished lines.
export class LiveView {
  private readonly tasks = new Map<string, { done: number; total: number; ids: string[] }>();
  private readonly inFlight = new Set<string>();
  private readonly order: string[];
  private started: number;
  private finished = 0;
  private drawnLines = 0;
  private timer?: NodeJS.Timeout;
  private readonly paint;

  constructor(private readonly io: Io, private readonly tag: string, plans: Plan[], concurrency: number) {
    for (const p of plans) this.tasks.set(p.node, { done: 0, total: p.tasks.length, ids: p.tasks.map((t) => t.id) });
    this.paint = painter(io.color);
    // The fan-out starts nodes in plan order as places free up: the first `concurrency` now.
    this.order = plans.map((p) => p.node);
    this.started = Math.min(concurrency, plans.length);
    for (const n of this.order.slice(0, this.started)) this.inFlight.add(n);
    this.schedule();
  }

  get enabled(): boolean {
    return this.io.tty;
  }

  task(node: string, _r: TaskResult): void {
    const t = this.tasks.get(node);
    if (t) t.done++;
    this.schedule();
  }

  // A finished node: its lines go above the live block.
  node(node: string, lines: () => void): void {
    this.finished++;
    this.inFlight.delete(node);
    if (this.started < this.order.length) this.inFlight.add(this.order[this.started++]);
    this.clear();
    lines();
    this.draw();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private schedule(): void {
    if (!this.enabled || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.clear();
      this.draw();
    }, 80);
  }

  private clear(): void {
    if (!this.enabled || !this.drawnLines) return;
    this.io.write(`\x1b[${this.drawnLines}A\x1b[J`);
    this.drawnLines = 0;
  }

  private draw(): void {
    if (!this.enabled) return;
    const total = this.tasks.size;
    const width = Math.max(10, Math.min(40, this.io.columns - 40));
    const filled = total ? Math.round((this.finished / total) * width) : width;
    const lines = [`${this.tag} ${this.paint('green', '█'.repeat(filled))}${this.paint('dim', '░'.repeat(width - filled))} ${this.finished}/${total} nodes`];
    const rows = Math.max(3, (process.stdout.rows || 24) - 4);
    const flying = [...this.inFlight];
    for (const n of flying.slice(0, rows)) {
      const t = this.tasks.get(n)!;
      const current = t.ids[t.done] ?? 'handlers';
      lines.push(`  ${n.padEnd(12)} ${String(t.done).padStart(3)}/${t.total} ${this.paint('dim', current)}`.slice(0, this.io.columns + 20));
    }
    if (flying.length > rows) lines.push(this.paint('dim', `  … ${flying.length - rows} more in flight`));
    this.io.write(lines.join('\n') + '\n');
    this.drawnLines = lines.length;
  }
}
