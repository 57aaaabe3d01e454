// npm run build: one esbuild bundle per program, the JavaScript that bin/ and the .deb packages run.
//   dist/agent/main.js   musterd (the unit and the drift bench run it)
//   dist/cli/muster.js   the muster CLI
// Each dynamic import() stays a chunk of its own (dist/*/chunks/), loaded on first use.
// dist/sources.json lists the project files each bundle was built from: bin/ refuses to run a
// bundle older than any of them, so an edit is never tested through a stale build.
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Program {
  entry: string;
  outdir: string;
  outName: string;
}

export const programs: Record<'agent' | 'cli', Program> = {
  agent: { entry: 'agent/main.ts', outdir: 'dist/agent', outName: 'main' },
  cli: { entry: 'controller/cli/run.ts', outdir: 'dist/cli', outName: 'muster' },
};

// A source that loads a package lazily through createRequire(import.meta.url) (static-pod's Pod
// schema) would keep a runtime require of node_modules, which no node has: drop that local require
// so esbuild bundles the module behind its own lazy require, still evaluated on first use only.
const LOCAL_REQUIRE = /^const require = createRequire\(import\.meta\.url\);$/m;
const bundledRequire: esbuild.Plugin = {
  name: 'bundled-require',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = await fs.readFile(args.path, 'utf8');
      return { contents: source.replace(LOCAL_REQUIRE, ''), loader: 'ts' };
    });
  },
};

// The etcd3 client reads its .proto files from beside its own source when it loads, which a
// bundle has not: parse them here and hand proto-loader the same definitions as JSON instead.
const ETCD_PROTO_LOAD = 'proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`';
const etcdProtos: esbuild.Plugin = {
  name: 'etcd-protos',
  setup(b) {
    b.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => {
      const source = await fs.readFile(args.path, 'utf8');
      if (!source.includes(ETCD_PROTO_LOAD)) throw new Error(`${args.path}: etcd3 no longer loads its protos as the build expects; update the etcd-protos plugin`);
      // protobufjs as etcd3's own proto-loader resolves it.
      const req = createRequire(createRequire(args.path).resolve('@grpc/proto-loader'));
      const protobuf = req('protobufjs') as { Root: new () => { loadSync(f: string, o: object): { toJSON(): unknown } } };
      const json = new protobuf.Root().loadSync(path.join(path.dirname(args.path), '../proto/rpc.proto'), { keepCase: true }).toJSON();
      return { contents: source.replace(ETCD_PROTO_LOAD, `proto_loader_1.fromJSON)(${JSON.stringify(json)}`), loader: 'js' };
    });
  },
};

// The version package.json releases: what a bundle reports unless the build says another.
export const packageVersion = (): string => (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;

export function options(p: Program, outRoot = repo, version = packageVersion()): esbuild.BuildOptions {
  return {
    absWorkingDir: repo,
    entryPoints: { [p.outName]: p.entry },
    outdir: path.join(outRoot, p.outdir),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    // CommonJS dependencies call require() for node's own modules: give the ESM bundle one.
    banner: { js: "import { createRequire as __musterRequire } from 'node:module'; const require = __musterRequire(import.meta.url);" },
    // ajv-formats asks for node's deprecated punycode module; the same code from npm, without the warning.
    alias: { punycode: 'punycode/' },
    // common/version.ts: the bundle reports the version it was built as.
    define: { MUSTER_BUILD_VERSION: JSON.stringify(version) },
    legalComments: 'none',
    // V8 keeps a script's whole source in memory: minified (names kept for stack traces) the idle
    // agent is 71 MiB instead of 80 (docs/benchmarks.md).
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    logLevel: 'warning',
    plugins: [bundledRequire, etcdProtos],
  };
}

// The project's own files (not node_modules) that went into a build.
export function projectInputs(meta: esbuild.Metafile): string[] {
  return Object.keys(meta.inputs).filter((f) => !f.startsWith('node_modules/')).sort();
}

export async function build(opts: { write?: boolean; outRoot?: string; version?: string } = {}): Promise<Record<keyof typeof programs, esbuild.Metafile>> {
  const outRoot = opts.outRoot ?? repo;
  const write = opts.write ?? true;
  if (write) await fs.rm(path.join(outRoot, 'dist'), { recursive: true, force: true });
  const [agent, cli] = await Promise.all(
    (['agent', 'cli'] as const).map(async (name) => (await esbuild.build({ ...options(programs[name], outRoot, opts.version), write })).metafile!),
  );
  if (write) {
    const sources = { agent: projectInputs(agent), cli: projectInputs(cli) };
    await fs.writeFile(path.join(outRoot, 'dist', 'sources.json'), JSON.stringify(sources, null, 1) + '\n');
    // The repo's package.json says ESM for dist/ in place; a copy elsewhere (a package) needs its own.
    await fs.writeFile(path.join(outRoot, 'dist', 'package.json'), '{ "type": "module" }\n');
  }
  return { agent, cli };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const metas = await build();
  const size = (m: esbuild.Metafile) => Object.values(m.outputs).reduce((n, o) => n + o.bytes, 0);
  console.log(`built dist/ in ${Date.now() - started} ms: musterd ${(size(metas.agent) / 1e6).toFixed(1)} MB, muster ${(size(metas.cli) / 1e6).toFixed(1)} MB in ${Object.keys(metas.cli.outputs).length} files`);
}
