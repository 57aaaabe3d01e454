import { createHash } from 'node:crypto';

// Remembers results of pure, costly checks by content hash: a controller resends the same
// manifests and certificates on every apply, and parsing them again is most of a no-op run.
export class Memo<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly limit = 512) {}

  get(parts: string[], compute: () => T): T {
    const h = createHash('sha256');
    for (const p of parts) h.update(p).update('\0');
    const key = h.digest('base64');
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      // Refresh recency: Map keeps insertion order, the oldest entry goes first.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const value = compute();
    this.entries.set(key, value);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}
