import Fastify from 'fastify';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { ASSET_CACHE, CONTENT_SECURITY_POLICY, dashboardDir, PAGE_CACHE, registerDashboard } from './dashboard.js';

async function builtDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-dashboard-'));
  await fs.mkdir(path.join(dir, 'web/assets'), { recursive: true });
  await fs.writeFile(path.join(dir, 'web/index.html'), '<!doctype html><script type="module" src="/assets/index-AbC123.js"></script>');
  await fs.writeFile(path.join(dir, 'web/assets/index-AbC123.js'), 'console.log("page")');
  await fs.writeFile(path.join(dir, 'web/assets/index-AbC123.css'), 'body{}');
  await fs.writeFile(path.join(dir, 'web/.secret'), 'dotfile');
  await fs.writeFile(path.join(dir, 'outside.txt'), 'not part of the page');
  return dir;
}

describe('registerDashboard', () => {
  let dir: string;
  let app: ReturnType<typeof Fastify>;
  before(async () => {
    dir = await builtDir();
    app = Fastify();
    app.get('/v1/fleet', async () => ({ nodes: [] }));
    registerDashboard(app, path.join(dir, 'web'));
    await app.ready();
  });
  after(async () => {
    await app.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('serves the page at / with no-cache and a strict Content-Security-Policy', async () => {
    const res = await app.inject({ url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.equal(res.headers['cache-control'], PAGE_CACHE);
    assert.equal(res.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.match(res.body, /index-AbC123\.js/);
    assert.equal((await app.inject({ url: '/index.html' })).statusCode, 200);
  });

  it('serves hashed assets with their content type and a year of immutable cache', async () => {
    const js = await app.inject({ url: '/assets/index-AbC123.js' });
    assert.equal(js.statusCode, 200);
    assert.match(js.headers['content-type'] as string, /^(text|application)\/javascript/);
    assert.equal(js.headers['cache-control'], ASSET_CACHE);
    assert.equal(js.body, 'console.log("page")');
    const css = await app.inject({ url: '/assets/index-AbC123.css' });
    assert.match(css.headers['content-type'] as string, /^text\/css/);
    assert.equal(css.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
  });

  it('answers nothing outside the built files: traversal, encoded traversal, dotfiles, unknown names', async () => {
    for (const url of ['/../outside.txt', '/assets/../../outside.txt', '/%2e%2e/outside.txt', '/assets/..%2f..%2foutside.txt', '/assets/%2e%2e%2f%2e%2e%2foutside.txt', '/.secret', '/assets/nope.js', '/assets/', '/etc/passwd', '/..%5coutside.txt']) {
      const res = await app.inject({ url });
      assert.ok(res.statusCode === 404 || res.statusCode === 400 || res.statusCode === 403, `${url}: ${res.statusCode}`);
      assert.doesNotMatch(res.body, /not part of the page|dotfile/, url);
    }
  });

  it('leaves the API routes to the API', async () => {
    const res = await app.inject({ url: '/v1/fleet' });
    assert.deepEqual(res.json(), { nodes: [] });
    assert.equal(res.headers['content-security-policy'], undefined);
  });

  it('refuses to start when the page was never built, naming the fix', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-dashboard-empty-'));
    try {
      assert.throws(() => registerDashboard(Fastify(), empty), /not built in .*npm run build/);
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });

  it('finds the built page from the source tree, a bundle and a package', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-dashboard-find-'));
    try {
      const mk = async (d: string) => {
        await fs.mkdir(path.join(root, d, 'assets'), { recursive: true });
        await fs.writeFile(path.join(root, d, 'index.html'), '');
      };
      await mk('repo/dist/web');
      // The page's sources are no build: no assets/ beside index.html.
      await fs.mkdir(path.join(root, 'repo/web/src'), { recursive: true });
      await fs.writeFile(path.join(root, 'repo/web/index.html'), '');
      await mk('usr/lib/muster/web');
      assert.equal(dashboardDir(path.join(root, 'repo/controller/api')), path.join(root, 'repo/dist/web'));
      assert.equal(dashboardDir(path.join(root, 'repo/dist/cli/chunks')), path.join(root, 'repo/dist/web'));
      assert.equal(dashboardDir(path.join(root, 'usr/lib/muster')), path.join(root, 'usr/lib/muster/web'));
      assert.equal(dashboardDir(path.join(root, 'usr/lib/muster/chunks')), path.join(root, 'usr/lib/muster/web'));
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

describe('the built dashboard (npm run build)', () => {
  it('serves index.html whose scripts and styles exist, compressed for browsers that ask', async () => {
    const dir = dashboardDir();
    assert.ok(dir, 'dist/web is built by npm run build (pretest:unit)');
    const app = Fastify();
    registerDashboard(app, dir);
    try {
      const page = await app.inject({ url: '/' });
      assert.equal(page.statusCode, 200);
      const refs = [...page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
      assert.ok(refs.some((r) => r.endsWith('.js')) && refs.some((r) => r.endsWith('.css')), page.body);
      assert.doesNotMatch(page.body, /<script>(?!<\/script>)|<style>|style="/, 'nothing inline, as the Content-Security-Policy demands');
      // A browser asks for / with every encoding it takes.
      const br = await app.inject({ url: '/', headers: { 'accept-encoding': 'gzip, deflate, br' } });
      assert.equal(br.statusCode, 200);
      assert.equal(br.headers['content-encoding'], 'br');
      assert.equal(br.headers['cache-control'], PAGE_CACHE);
      assert.equal(brotliDecompressSync(br.rawPayload).toString(), page.body);
      for (const ref of refs) {
        const plain = await app.inject({ url: ref });
        assert.equal(plain.statusCode, 200, ref);
        assert.equal(plain.headers['cache-control'], ASSET_CACHE, ref);
        const gz = await app.inject({ url: ref, headers: { 'accept-encoding': 'gzip' } });
        assert.equal(gz.headers['content-encoding'], 'gzip', ref);
        assert.equal(gunzipSync(gz.rawPayload).toString(), plain.body, ref);
      }
    } finally {
      await app.close();
    }
  });
});
