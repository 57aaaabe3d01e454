// npm run build: one esbuild bundle per program, the JavaScript that bin/ and the .deb packages run.
//   dist/agent/main.js   musterd (the unit and the drift bench run it)
//   dist/cli/muster.js   the muster CLI
//   dist/web/            the dashboard muster serve serves (Vite, from web/)
// Each dynamic import() stays a chunk of its own (dist/*/chunks/), loaded on first use.
// dist/sources.json lists the project files each bundle was built from: bin/ refuses to run a
// bundle older than any of them, so an edit is never tested through a stale build.
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { InlineConfig, Rollup } from 'vite';

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

// The dashboard: preact and TypeScript from web/, hashed assets under dist/web/assets/ (served
// with a year's cache), index.html naming them (served with no-cache).
export function webOptions(outRoot = repo): InlineConfig {
  return {
    configFile: false,
    root: path.join(repo, 'web'),
    base: '/',
    logLevel: 'warn',
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      outDir: path.join(outRoot, 'dist/web'),
      emptyOutDir: true,
      target: 'es2022',
      // The page runs under a strict Content-Security-Policy: no inline script, nothing inlined as data:.
      modulePreload: { polyfill: false },
      assetsInlineLimit: 0,
      reportCompressedSize: false,
    },
  };
}

const COMPRESSIBLE = /\.(html|js|css|svg|json)$/;

export interface WebFile {
  file: string;
  bytes: number;
  gzip: number;
}

// Builds dist/web/ and writes a .br and a .gz beside each text file, which the controller sends
// to a browser that accepts them. Returns each file's size and its gzipped size.
export async function buildWeb(outRoot = repo): Promise<WebFile[]> {
  const { build: viteBuild } = await import('vite');
  const out = (await viteBuild(webOptions(outRoot))) as Rollup.RollupOutput;
  const dir = path.join(outRoot, 'dist/web');
  return Promise.all(
    out.output.map(async (o) => {
      const data = await fs.readFile(path.join(dir, o.fileName));
      const gz = zlib.gzipSync(data, { level: 9 });
      if (COMPRESSIBLE.test(o.fileName)) {
        await fs.writeFile(path.join(dir, `${o.fileName}.gz`), gz);
        await fs.writeFile(path.join(dir, `${o.fileName}.br`), zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
      return { file: o.fileName, bytes: data.length, gzip: gz.length };
    }),
  );
}

export async function build(opts: { write?: boolean; outRoot?: string; version?: string } = {}): Promise<Record<keyof typeof programs, esbuild.Metafile> & { web: WebFile[] }> {
  const outRoot = opts.outRoot ?? repo;
  const write = opts.write ?? true;
  if (write) await fs.rm(path.join(outRoot, 'dist'), { recursive: true, force: true });
  const bundle = async (name: keyof typeof programs) => (await esbuild.build({ ...options(programs[name], outRoot, opts.version), write })).metafile!;
  const [agent, cli, web] = await Promise.all([bundle('agent'), bundle('cli'), write ? buildWeb(outRoot) : []]);
  if (write) {
    const sources = { agent: projectInputs(agent), cli: projectInputs(cli) };
    await fs.writeFile(path.join(outRoot, 'dist', 'sources.json'), JSON.stringify(sources, null, 1) + '\n');
    // The repo's package.json says ESM for dist/ in place; a copy elsewhere (a package) needs its own.
    await fs.writeFile(path.join(outRoot, 'dist', 'package.json'), '{ "type": "module" }\n');
  }
  return { agent, cli, web };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const metas = await build();
  const size = (m: esbuild.Metafile) => Object.values(m.outputs).reduce((n, o) => n + o.bytes, 0);
  const web = metas.web.reduce((t, f) => ({ bytes: t.bytes + f.bytes, gzip: t.gzip + f.gzip }), { bytes: 0, gzip: 0 });
  console.log(`built dist/ in ${Date.now() - started} ms: musterd ${(size(metas.agent) / 1e6).toFixed(1)} MB, muster ${(size(metas.cli) / 1e6).toFixed(1)} MB in ${Object.keys(metas.cli.outputs).length} files, dashboard ${(web.bytes / 1e3).toFixed(1)} kB (${(web.gzip / 1e3).toFixed(1)} kB gzipped)`);
}
