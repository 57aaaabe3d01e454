import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { build, options, packageVersion, programs, repo } from '../../scripts/build.js';
import { buildPackages } from '../../scripts/package.js';

const exec = promisify(execFile);
let metas: Awaited<ReturnType<typeof build>>;
let tmp: string;

before(async () => {
  metas = await build({ write: false });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-build-'));
});
after(() => fs.rm(tmp, { recursive: true, force: true }));

const testOnly = /(\.test\.ts$|^test\/|\/fixtures\/|manifests\/testing\.ts$)/;

for (const name of ['agent', 'cli'] as const) {
  test(`build: the ${name} bundle holds no test helper, fixture or test`, () => {
    const inputs = Object.keys(metas[name].inputs);
    assert.ok(inputs.includes(programs[name].entry), `the metafile lists ${programs[name].entry}`);
    assert.deepEqual(inputs.filter((f) => testOnly.test(f)), []);
  });
}

test('build: the test-helper check can fail (an entry that imports one shows it)', async () => {
  const entry = path.join(tmp, 'uses-testing.ts');
  await fs.writeFile(entry, `export * from '${path.join(repo, 'controller/render/cluster/manifests/testing.ts')}';\n`);
  const r = await esbuild.build({ ...options({ ...programs.cli, entry }, tmp), write: false });
  assert.ok(Object.keys(r.metafile!.inputs).some((f) => testOnly.test(f)));
});

// Modules reached only through import() must not load with the CLI's entry.
function staticClosure(meta: esbuild.Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const walk = (f: string) => {
    if (seen.has(f) || !meta.inputs[f]) return;
    seen.add(f);
    for (const i of meta.inputs[f].imports) if (i.kind !== 'dynamic-import' && !i.external) walk(i.path);
  };
  walk(entry);
  return seen;
}

for (const name of ['agent', 'cli'] as const) {
  test(`build: the ${name} entry chunk carries only what its static imports reach`, () => {
    const meta = metas[name];
    const entryOut = Object.values(meta.outputs).find((o) => o.entryPoint === programs[name].entry)!;
    const closure = staticClosure(meta, programs[name].entry);
    assert.deepEqual(Object.keys(entryOut.inputs).filter((f) => !closure.has(f)), []);
  });
}

test('build: the agent loads systeminformation (facts, an import()) from a chunk of its own', () => {
  const entryOut = Object.values(metas.agent.outputs).find((o) => o.entryPoint === programs.agent.entry)!;
  assert.ok(Object.keys(metas.agent.inputs).some((f) => f.startsWith('node_modules/systeminformation/')), 'bundled');
  assert.ok(!Object.keys(entryOut.inputs).some((f) => f.startsWith('node_modules/systeminformation/')), 'not in the entry chunk');
});

test('build: a dynamic import() in the CLI becomes a chunk of its own, loaded on use', async () => {
  await fs.writeFile(path.join(tmp, 'heavy.ts'), 'export const heavy = "loaded";\n');
  await fs.writeFile(path.join(tmp, 'entry.ts'), 'console.log((await import("./heavy.ts")).heavy);\n');
  const r = await esbuild.build({ ...options({ ...programs.cli, entry: path.join(tmp, 'entry.ts') }, tmp), write: true });
  const outs = Object.entries(r.metafile!.outputs).filter(([f]) => f.endsWith('.js'));
  assert.equal(outs.length, 2, outs.map(([f]) => f).join(', '));
  const [entryFile, entryOut] = outs.find(([, o]) => o.entryPoint)!;
  assert.ok(!Object.keys(entryOut.inputs).some((f) => f.endsWith('heavy.ts')), 'heavy.ts is not in the entry chunk');
  await fs.writeFile(path.join(tmp, 'dist', 'package.json'), '{ "type": "module" }\n');
  const { stdout } = await exec(process.execPath, [path.resolve(repo, entryFile)]);
  assert.equal(stdout, 'loaded\n');
});

test('build: both bundles report the version package.json releases unless the build names another', () => {
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
  assert.equal(packageVersion(), pkg.version);
  for (const p of Object.values(programs)) {
    assert.deepEqual(options(p).define, { MUSTER_BUILD_VERSION: JSON.stringify(pkg.version) });
    assert.deepEqual(options(p, tmp, '1.2.3+x1').define, { MUSTER_BUILD_VERSION: '"1.2.3+x1"' });
  }
});

test('build: the bundles run from a copy with no node_modules and no sources beside them, and print the version they were built as', async () => {
  const out = path.join(tmp, 'copy');
  // Not package.json's: what the bundles print comes from the build, as an upgrade package's does.
  await build({ outRoot: out, version: '7.7.7+build1' });
  const dist = path.join(out, 'dist');
  assert.equal((await exec(process.execPath, [path.join(dist, programs.agent.outdir.replace('dist/', ''), 'main.js'), '--version'], { cwd: tmp })).stdout, '7.7.7+build1\n');
  assert.equal((await exec(process.execPath, [path.join(dist, 'cli', 'muster.js'), '--version'], { cwd: tmp })).stdout, '7.7.7+build1\n');
  const help = await exec(process.execPath, [path.join(dist, 'cli', 'muster.js'), '--help'], { cwd: tmp });
  assert.match(help.stdout, /^Usage: muster /);
  assert.equal(help.stderr, '', 'no warning (such as the deprecated punycode built-in) on start');
  const agent = await fs.readFile(path.join(dist, 'agent', 'main.js'), 'utf8');
  assert.doesNotMatch(agent, /require\d*\("kubernetes-models/, 'static-pod\'s Pod schema is bundled, not required from node_modules');
});

test('build: bin/ runs a fresh bundle and refuses one older than a source it was built from', async () => {
  const copy = path.join(tmp, 'copy');
  await fs.cp(path.join(repo, 'bin'), path.join(copy, 'bin'), { recursive: true });
  // A stand-in source list, so the test can age and touch the sources without editing the tree's.
  await fs.writeFile(path.join(copy, 'dist', 'sources.json'), JSON.stringify({ cli: ['src/a.ts'], agent: ['src/a.ts'] }));
  await fs.mkdir(path.join(copy, 'src'));
  const past = new Date(Date.now() - 3_600_000);
  for (const f of ['src/a.ts', 'package-lock.json']) {
    await fs.writeFile(path.join(copy, f), '');
    await fs.utimes(path.join(copy, f), past, past);
  }
  const run = (bin: string, arg: string) => exec(process.execPath, [path.join(copy, 'bin', bin), arg]).then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);
  assert.match((await run('muster.js', '--help')).stdout, /^Usage: muster /);
  assert.match((await run('musterd.js', '--version')).stdout, /^\d+\.\d+\.\d+/);

  const future = new Date(Date.now() + 3_600_000);
  await fs.utimes(path.join(copy, 'src/a.ts'), future, future);
  const stale = await run('muster.js', '--help');
  assert.equal(stale.code, 1);
  assert.equal(stale.stdout, '');
  assert.equal(stale.stderr, 'src/a.ts changed after the build in dist/: run `npm run build` (about a second) and try again\n');
  await fs.rm(path.join(copy, 'src/a.ts'));
  assert.match((await run('musterd.js', '--version')).stderr, /^src\/a\.ts changed after the build/);
  await fs.rm(path.join(copy, 'dist', 'cli', 'muster.js'));
  assert.match((await run('muster.js', '--help')).stderr, /^no build of cli\/muster\.js in dist\//);
});

test('package: a bad version or package name is refused before anything is built', async () => {
  await assert.rejects(buildPackages({ version: 'v1.0', out: tmp }), /--version "v1\.0" is not a Debian version/);
  await assert.rejects(buildPackages({ version: '1.0 beta', out: tmp }), /is not a Debian version/);
  await assert.rejects(buildPackages({ only: 'kubelet', out: tmp }), /--only kubelet: no such package \(musterd or muster\)/);
  assert.deepEqual((await fs.readdir(tmp)).filter((f) => f.endsWith('.deb')), []);
});
