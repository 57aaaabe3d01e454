// How long ago (or for how long), as a table shows it: 45s, 3m, 2h, 5d. No imports: the
// dashboard's page bundles it too.
export function age(sinceMs: number | undefined, now = Date.now()): string {
  if (!sinceMs) return '-';
  const s = Math.max(0, Math.floor((now - Number(sinceMs)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
