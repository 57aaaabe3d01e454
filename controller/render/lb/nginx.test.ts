import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exampleLbInput } from './fixtures.js';
import { renderNginx } from './nginx.js';
import { DEFAULT_LB_PATHS, LbInputError } from './types.js';

/** Directives (trimmed, comments dropped) in the order they appear. */
function directives(conf: string): string[] {
  return conf
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

describe('renderNginx', () => {
  it('loads the stream module before anything else', () => {
    const d = directives(renderNginx(exampleLbInput({ kind: 'nginx' })));
    assert.equal(d[0], 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;');
  });

  it('proxies to every apiserver with passive health checks', () => {
    const input = exampleLbInput({ kind: 'nginx' });
    const d = directives(renderNginx(input));
    for (const b of input.backends) {
      assert.ok(d.includes(`server ${b.address}:${b.port} max_fails=3 fail_timeout=10s;`), b.name);
    }
    const upstream = d.indexOf('upstream kube_apiserver {');
    assert.ok(upstream > d.indexOf('stream {'));
    assert.equal(d[upstream + 1], 'zone kube_apiserver 64k;');
    assert.ok(d.includes('proxy_pass kube_apiserver;'));
  });

  it('listens on the API port and keeps watches open for 10 minutes', () => {
    const d = directives(renderNginx(exampleLbInput({ kind: 'nginx', apiPort: 8443 })));
    assert.ok(d.includes('listen 8443;'));
    assert.ok(d.includes('proxy_timeout 10m;'));
    assert.ok(d.some((l) => /^proxy_connect_timeout \d+s;$/.test(l)));
  });

  it('has an events block and sized worker connections', () => {
    const d = directives(renderNginx(exampleLbInput({ kind: 'nginx', maxConnections: 3000 })));
    const events = d.indexOf('events {');
    assert.notEqual(events, -1);
    assert.equal(d[events + 1], 'worker_connections 6000;');
  });

  it('writes pid and error log where told, defaulting to the Debian paths', () => {
    const defaults = directives(renderNginx(exampleLbInput({ kind: 'nginx' })));
    assert.ok(defaults.includes(`pid ${DEFAULT_LB_PATHS.nginxPidFile};`));
    assert.ok(defaults.includes(`error_log ${DEFAULT_LB_PATHS.nginxErrorLog} warn;`));
    const custom = directives(
      renderNginx(exampleLbInput({ kind: 'nginx' }), { paths: { nginxPidFile: '/tmp/t/nginx.pid', nginxErrorLog: '/tmp/t/error.log' } }),
    );
    assert.ok(custom.includes('pid /tmp/t/nginx.pid;'));
    assert.ok(custom.includes('error_log /tmp/t/error.log warn;'));
  });

  it('balances its braces', () => {
    const conf = renderNginx(exampleLbInput({ kind: 'nginx' }));
    const code = conf.replace(/#.*$/gm, '');
    assert.equal((code.match(/{/g) ?? []).length, (code.match(/}/g) ?? []).length);
  });

  it('brackets IPv6 apiserver addresses', () => {
    const input = exampleLbInput({ kind: 'nginx' });
    input.backends[0] = { name: 'cp-1', address: 'fd00::11', port: 6443 };
    assert.ok(directives(renderNginx(input)).includes('server [fd00::11]:6443 max_fails=3 fail_timeout=10s;'));
  });

  it('is deterministic', () => {
    assert.equal(renderNginx(exampleLbInput()), renderNginx(structuredClone(exampleLbInput())));
  });

  it('refuses a path that would need quoting', () => {
    assert.throws(() => renderNginx(exampleLbInput(), { paths: { nginxPidFile: '/run/my nginx.pid' } }), LbInputError);
  });
});
