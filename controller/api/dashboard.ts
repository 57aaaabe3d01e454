import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The dashboard's page: the static files `npm run build` makes with Vite (dist/web/), served at /
// under the same mutual TLS as the API. Only files that exist when the controller starts are
// routes, so no path a request names can reach anything else.

// Scripts, styles and connections only from this origin, nothing inline, never framed.
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// Vite names every asset by its content hash: a new build is a new name, so a year is safe.
export const ASSET_CACHE = 'private, max-age=31536000, immutable';
// index.html names the current assets: always asked again (an ETag keeps that cheap).
export const PAGE_CACHE = 'no-cache';

const isBuilt = (dir: string) => existsSync(path.join(dir, 'index.html')) && existsSync(path.join(dir, 'assets'));

// Where the built page is, from wherever this code runs: the source tree (controller/api/ →
// dist/web), the CLI bundle (dist/cli/ or its chunks/ → dist/web) or the package
// (/usr/lib/muster/ → /usr/lib/muster/web).
export function dashboardDir(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let d = from; ; d = path.dirname(d)) {
    for (const candidate of [path.join(d, 'dist', 'web'), path.join(d, 'web')]) if (isBuilt(candidate)) return candidate;
    if (path.dirname(d) === d) return undefined;
  }
}

export function registerDashboard(app: FastifyInstance, dir = dashboardDir()): void {
  if (!dir || !isBuilt(dir)) throw new Error(`the dashboard is not built${dir ? ` in ${dir}` : ''} (no index.html and assets/): run "npm run build"`);
  const assets = path.join(dir, 'assets') + path.sep;
  void app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // One route per file found now: nothing outside them answers, whatever the URL holds.
    wildcard: false,
    // / is the route below: the plugin's own index route misses the compressed files.
    index: false,
    dotfiles: 'deny',
    // The build writes .br and .gz beside each file; a browser that takes them gets them.
    preCompressed: true,
    cacheControl: false,
    setHeaders(reply, file) {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
      reply.header('cross-origin-opener-policy', 'same-origin');
      reply.header('cross-origin-resource-policy', 'same-origin');
      reply.header('cache-control', file.startsWith(assets) ? ASSET_CACHE : PAGE_CACHE);
    },
  });
  app.get('/', (_req, reply) => reply.sendFile('index.html'));
}
