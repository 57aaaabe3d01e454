import type { FileState, Host } from '../../host/host.js';
import { applyFile, diffFile, type DesiredFile } from '../managed-file.js';
import type { Change } from '../task.js';
import { managedLine, setManagedLine, unmanagedLines, type KeyOf } from './managed-block.js';

// The host state a mount keeps besides the mount itself: whole files (units, keyrings), enable
// links, and lines in shared files. Each is wanted (a value) or wanted gone (null).
export type Item =
  | { kind: 'file'; path: string; want: DesiredFile | null; secret: boolean }
  | { kind: 'link'; path: string; want: string | null }
  | { kind: 'line'; path: string; key: string; want: string | null; keyOf: KeyOf };

export type ItemState =
  | { kind: 'file'; have: FileState | null }
  | { kind: 'link'; have: string | null }
  | { kind: 'line'; file: FileState | null; have: string | null; clashes: number[] };

export async function observeItem(host: Host, item: Item): Promise<ItemState> {
  if (item.kind === 'file') return { kind: 'file', have: await host.read(item.path) };
  if (item.kind === 'link') return { kind: 'link', have: await host.readLink(item.path) };
  const file = await host.read(item.path);
  const text = file?.content.toString('utf8') ?? '';
  return {
    kind: 'line',
    file,
    have: managedLine(text, item.key, item.keyOf, item.path) ?? null,
    clashes: unmanagedLines(text, item.key, item.keyOf, item.path),
  };
}

export function diffItem(item: Item, state: ItemState): Change[] {
  if (item.kind === 'file' && state.kind === 'file') {
    if (item.want) return diffFile(item.want, state.have);
    if (!state.have) return [];
    return [{ header: item.path, before: item.secret ? `(secret, ${state.have.content.length} bytes)` : state.have.content.toString('utf8'), after: '(absent)' }];
  }
  if (item.kind === 'link' && state.kind === 'link') {
    return state.have === item.want ? [] : [{ header: `${item.path} (enable link)`, before: state.have ?? '(absent)', after: item.want ?? '(absent)' }];
  }
  if (item.kind === 'line' && state.kind === 'line') {
    return state.have === item.want ? [] : [{ header: `${item.path} (muster managed: ${item.key})`, before: state.have ?? '(absent)', after: item.want ?? '(absent)' }];
  }
  throw new Error(`host item ${item.path}: observed state of another kind`);
}

export async function applyItem(host: Host, item: Item, state: ItemState): Promise<void> {
  if (diffItem(item, state).length === 0) return;
  if (item.kind === 'file' && state.kind === 'file') {
    if (item.want) await applyFile(host, item.want, state.have);
    else await host.remove(item.path);
    return;
  }
  if (item.kind === 'link') {
    await host.setLink(item.path, item.want);
    return;
  }
  if (item.kind === 'line' && state.kind === 'line') {
    const text = state.file?.content.toString('utf8') ?? '';
    const next = setManagedLine(text, item.key, item.want ?? undefined, item.keyOf, item.path);
    await host.writeAtomic(item.path, Buffer.from(next), { mode: state.file?.mode ?? 0o644 }, state.file);
  }
}
