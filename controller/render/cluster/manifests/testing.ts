// Helpers for the manifest tests: read rendered YAML back the way an operator would look at it.
import assert from 'node:assert/strict';
import { parse, parseAllDocuments } from 'yaml';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPod } from 'kubernetes-models/v1/Pod';

export function parsePod(yaml: string): IPod {
  const pod = parse(yaml) as IPod;
  assert.equal(pod.kind, 'Pod');
  return pod;
}

export function onlyContainer(pod: IPod): IContainer {
  const containers = pod.spec?.containers ?? [];
  assert.equal(containers.length, 1, 'a control-plane static pod has exactly one container');
  return containers[0]!;
}

/** The --name=value flags of a command (the binary itself skipped); a repeated flag is a test failure. */
export function flagsOf(command: string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const arg of (command ?? []).slice(1)) {
    const m = /^--([a-z0-9-]+)=(.*)$/.exec(arg);
    assert.ok(m, `not a --flag=value argument: ${arg}`);
    assert.ok(!out.has(m[1]!), `flag --${m[1]} given twice`);
    out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The flags of a rendered control-plane static pod. */
export function podFlags(yaml: string): Map<string, string> {
  return flagsOf(onlyContainer(parsePod(yaml)).command);
}

/** Every absolute path a flag names must be inside a hostPath mount, or the component cannot read it. */
export function assertPathsMounted(yaml: string): void {
  const pod = parsePod(yaml);
  const container = onlyContainer(pod);
  const mounts = container.volumeMounts ?? [];
  for (const [name, value] of flagsOf(container.command)) {
    if (!value.startsWith('/')) continue;
    const mount = mounts.find((m) => value === m.mountPath || value.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `--${name}=${value} is not under any volume mount`);
    const volume = pod.spec?.volumes?.find((v) => v.name === mount.name);
    assert.equal(volume?.hostPath?.path, mount.mountPath, `volume ${mount.name} mounts the same host path`);
  }
}

export function documents(yaml: string): { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }[] {
  return parseAllDocuments(yaml).map((d) => {
    assert.equal(d.errors.length, 0, String(d.errors[0]));
    return d.toJS();
  });
}
