import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exampleLbInput } from './fixtures.js';
import type { LbInput, LbRenderOptions } from './types.js';
import { validateLbInput } from './validate.js';

/** Asserts that validation reports a problem matching `pattern`. */
function reports(input: LbInput, pattern: RegExp, options?: LbRenderOptions): void {
  const problems = validateLbInput(input, options);
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `expected a problem matching ${pattern}, got:\n${problems.join('\n') || '(none)'}`,
  );
}

describe('validateLbInput', () => {
  it('accepts the example cluster', () => {
    assert.deepEqual(validateLbInput(exampleLbInput()), []);
    assert.deepEqual(validateLbInput(exampleLbInput({ kind: 'nginx', authPass: undefined, maxConnections: 10 })), []);
  });

  it('needs at least one backend', () => {
    reports(exampleLbInput({ backends: [] }), /no backends/);
  });

  it('rejects a bad VIP', () => {
    for (const vip of ['192.0.2', '300.1.1.1', '192.0.2.010', 'api.example.com', '2001:db8::1', '127.0.0.5', '224.0.0.18', '']) {
      reports(exampleLbInput({ vip }), /vip/);
    }
  });

  it('rejects a VIP that is a node or apiserver address', () => {
    reports(exampleLbInput({ vip: '192.0.2.21' }), /lb node lb-1: .*is the VIP/);
    reports(exampleLbInput({ vip: '192.0.2.11' }), /backend cp-1: .*is the VIP/);
  });

  it('needs self among the lb nodes', () => {
    reports(exampleLbInput({ self: 'lb-9' }), /self "lb-9" is not one of the lbNodes/);
  });

  it('rejects duplicate priorities, given or derived', () => {
    const input = exampleLbInput();
    input.lbNodes[1]!.priority = 150;
    reports(input, /lb nodes lb-1 and lb-2 have the same priority 150/);
  });

  it('rejects priorities outside 1..254', () => {
    const input = exampleLbInput();
    input.lbNodes[0]!.priority = 255;
    reports(input, /lb node lb-1: priority 255/);
    const many = exampleLbInput({
      lbNodes: Array.from({ length: 16 }, (_, i) => ({ name: `lb-${i}`, address: `192.0.2.${30 + i}`, interface: 'eth0' })),
      self: 'lb-0',
    });
    reports(many, /lb node lb-15: derived priority 0 is out of range/);
  });

  it('rejects a router id out of range', () => {
    for (const virtualRouterId of [0, 256, 1.5, -1]) reports(exampleLbInput({ virtualRouterId }), /virtualRouterId/);
  });

  it('rejects an auth pass longer than 8 or one keepalived would misread', () => {
    reports(exampleLbInput({ authPass: 'ninechars' }), /authPass is 9 characters/);
    reports(exampleLbInput({ authPass: '' }), /authPass is empty/);
    for (const authPass of ['a b', 'pa#ss', 'pa!ss', 'p"ss', 'p{ss', '$HOME']) {
      reports(exampleLbInput({ authPass }), /authPass may only use/);
    }
  });

  it('rejects duplicate names and addresses', () => {
    const input = exampleLbInput();
    input.backends.push({ name: 'cp-1', address: '192.0.2.11', port: 6443 });
    input.lbNodes.push({ name: 'lb-1', address: '192.0.2.22', interface: 'eth0' });
    reports(input, /backend name cp-1 is used twice/);
    reports(input, /192\.0\.2\.11:6443 is listed more than once/);
    reports(input, /lb node name lb-1 is used twice/);
    reports(input, /address 192\.0\.2\.22 is used by another lb node/);
  });

  it('rejects bad ports, addresses and interfaces', () => {
    const input = exampleLbInput({ apiPort: 70000 });
    input.backends[0]!.port = 0;
    input.backends[1]!.address = 'not an address';
    input.lbNodes[0]!.interface = 'lo';
    input.lbNodes[1]!.interface = 'a-very-long-interface-name';
    reports(input, /apiPort 70000/);
    reports(input, /backend cp-1: port 0/);
    reports(input, /backend cp-2: address "not an address"/);
    reports(input, /lb node lb-1: interface lo cannot carry VRRP/);
    reports(input, /lb node lb-2: interface "a-very-long-interface-name"/);
  });

  it('accepts host names and IPv6 for apiservers, but only IPv4 for VRRP peers', () => {
    const input = exampleLbInput();
    input.backends[0]!.address = 'cp-1.prod.example.com';
    input.backends[1]!.address = '2001:db8::12';
    assert.deepEqual(validateLbInput(input), []);
    input.lbNodes[0]!.address = '2001:db8::21';
    reports(input, /lb node lb-1: address "2001:db8::21" must be an IPv4 address/);
  });

  it('catches an LB that would collide with a co-located apiserver', () => {
    const input = exampleLbInput();
    input.lbNodes[0]!.address = '192.0.2.11';
    reports(input, /lb node lb-1: it also runs a kube-apiserver on port 6443; .*8443/);
    input.apiPort = 8443;
    assert.deepEqual(validateLbInput(input), []);
  });

  it('rejects names that would break the config syntax', () => {
    reports(exampleLbInput({ clusterName: 'prod cluster' }), /clusterName/);
    const input = exampleLbInput();
    input.backends[0]!.name = 'cp 1';
    reports(input, /backend #1: name "cp 1"/);
  });

  it('checks render options', () => {
    reports(exampleLbInput(), /path nginxPidFile/, { paths: { nginxPidFile: 'relative/nginx.pid' } });
    reports(exampleLbInput(), /path keepalivedCheckScript/, { paths: { keepalivedCheckScript: '/etc/../tmp/x.sh' } });
    reports(exampleLbInput(), /haproxyStatsPort 6443 is the same as apiPort/, { haproxyStatsPort: 6443 });
    reports(exampleLbInput(), /keepalivedScriptUser/, { keepalivedScriptUser: 'root; rm' });
  });

  it('survives malformed input from a hand-written inventory', () => {
    const broken = { clusterName: 'x', backends: 'cp-1', lbNodes: null } as unknown as LbInput;
    const problems = validateLbInput(broken);
    assert.ok(problems.includes('backends must be a list'));
    assert.ok(problems.includes('lbNodes must be a list'));
  });
});
