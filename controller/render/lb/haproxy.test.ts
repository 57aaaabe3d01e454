import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exampleLbInput } from './fixtures.js';
import { renderHaproxy } from './haproxy.js';
import { LbInputError } from './types.js';

/** Lines of one top-level haproxy section (global, defaults, frontend X, backend X). */
function section(cfg: string, title: string): string[] {
  const lines = cfg.split('\n');
  const start = lines.indexOf(title);
  assert.notEqual(start, -1, `section "${title}" missing`);
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line !== '' && !line.startsWith(' ')) break;
    if (line.trim() !== '' && !line.trim().startsWith('#')) body.push(line.trim());
  }
  return body;
}

/** haproxy time values in milliseconds. */
function ms(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value);
  assert.ok(m, `bad time ${value}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
}

describe('renderHaproxy', () => {
  it('sends traffic to every apiserver with a TLS /healthz check', () => {
    const input = exampleLbInput();
    const backend = section(renderHaproxy(input), 'backend kube-apiserver');
    for (const b of input.backends) {
      assert.ok(backend.includes(`server ${b.name} ${b.address}:${b.port} check check-ssl verify none`), b.name);
    }
    assert.equal(backend.filter((l) => l.startsWith('server ')).length, input.backends.length);
    assert.ok(backend.includes('mode tcp'));
    assert.ok(backend.includes('balance roundrobin'));
    assert.ok(backend.includes('option httpchk GET /healthz'));
    assert.ok(backend.includes('http-check expect status 200'));
    const defaultServer = backend.find((l) => l.startsWith('default-server '));
    assert.match(defaultServer ?? '', /\binter \d+s\b.*\bfall \d+\b.*\brise \d+\b/);
  });

  it('retries a failed connect on another server (redispatch), with retries to spend', () => {
    const defaults = section(renderHaproxy(exampleLbInput()), 'defaults');
    assert.ok(defaults.includes('option redispatch 1'), defaults.join('\n'));
    const retries = defaults.find((l) => l.startsWith('retries '));
    assert.ok(retries && Number(retries.split(' ')[1]) >= 2, 'at least two retries: one may hit another dead server');
  });

  it('listens in TCP mode on all addresses at the API port', () => {
    const frontend = section(renderHaproxy(exampleLbInput({ apiPort: 8443 })), 'frontend kube-apiserver');
    assert.ok(frontend.includes('bind *:8443'));
    assert.ok(frontend.includes('mode tcp'));
    assert.ok(frontend.includes('default_backend kube-apiserver'));
  });

  it('keeps long-lived watches open', () => {
    const defaults = section(renderHaproxy(exampleLbInput()), 'defaults');
    const timeout = (name: string): number => {
      const line = defaults.find((l) => l.startsWith(`timeout ${name} `));
      assert.ok(line, `timeout ${name} missing`);
      return ms(line.split(' ')[2]!);
    };
    assert.ok(timeout('client') >= 10 * 60_000);
    assert.ok(timeout('server') >= 10 * 60_000);
    assert.ok(timeout('tunnel') >= timeout('client'));
    assert.ok(timeout('connect') <= 10_000, 'a dead backend should fail over fast');
  });

  it('exposes stats and /healthz on loopback only', () => {
    const stats = section(renderHaproxy(exampleLbInput(), { haproxyStatsPort: 9000 }), 'frontend stats');
    assert.ok(stats.includes('bind 127.0.0.1:9000'));
    assert.ok(stats.includes('monitor-uri /healthz'));
  });

  it('applies maxConnections and the stats socket path', () => {
    const cfg = renderHaproxy(exampleLbInput({ maxConnections: 12345 }), { paths: { haproxyStatsSocket: '/tmp/x/admin.sock' } });
    const global = section(cfg, 'global');
    assert.ok(global.includes('maxconn 12345'));
    assert.ok(global.includes('stats socket /tmp/x/admin.sock mode 660 level admin'));
  });

  it('brackets IPv6 apiserver addresses', () => {
    const input = exampleLbInput();
    input.backends[2] = { name: 'cp-3', address: '2001:db8::13', port: 6443 };
    assert.match(renderHaproxy(input), /^ {4}server cp-3 \[2001:db8::13\]:6443 check check-ssl verify none$/m);
  });

  it('is deterministic', () => {
    assert.equal(renderHaproxy(exampleLbInput()), renderHaproxy(structuredClone(exampleLbInput())));
  });

  it('refuses invalid input instead of rendering a broken config', () => {
    assert.throws(() => renderHaproxy(exampleLbInput({ backends: [] })), (err: unknown) => {
      assert.ok(err instanceof LbInputError);
      assert.match(err.problems.join('\n'), /no backends/);
      return true;
    });
  });
});
