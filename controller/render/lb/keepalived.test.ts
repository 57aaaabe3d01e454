import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exampleLbInput } from './fixtures.js';
import { KEEPALIVED_SCRIPT_NAME, renderKeepalived, renderKeepalivedCheckScript } from './keepalived.js';
import type { LbInput } from './types.js';

/** Non-comment lines inside the first `<name> {` ... matching `}` block. */
function block(conf: string, name: string): string[] {
  const lines = conf.split('\n').map((l) => l.replace(/#.*$/, '').trim());
  const start = lines.findIndex((l) => l === `${name} {` || l.startsWith(`${name} `) && l.endsWith('{'));
  assert.notEqual(start, -1, `block ${name} missing`);
  const body: string[] = [];
  let depth = 1;
  for (const line of lines.slice(start + 1)) {
    if (line.endsWith('{')) depth++;
    if (line === '}') depth--;
    if (depth === 0) return body;
    if (line !== '') body.push(line);
  }
  assert.fail(`block ${name} is not closed`);
}

const value = (lines: string[], key: string): string | undefined =>
  lines.find((l) => l.startsWith(`${key} `))?.slice(key.length + 1);

function threeNodes(): LbInput {
  return exampleLbInput({
    lbNodes: [
      { name: 'lb-1', address: '192.0.2.21', interface: 'eth0' },
      { name: 'lb-2', address: '192.0.2.22', interface: 'bond0' },
      { name: 'lb-3', address: '192.0.2.23', interface: 'eth1' },
    ],
  });
}

describe('renderKeepalived', () => {
  it('derives priorities from inventory order: first node highest', () => {
    const input = threeNodes();
    const got = input.lbNodes.map((n) => value(block(renderKeepalived({ ...input, self: n.name }), 'vrrp_instance'), 'priority'));
    assert.deepEqual(got, ['150', '140', '130']);
  });

  it('uses a given priority instead of the derived one', () => {
    const input = threeNodes();
    input.lbNodes[1]!.priority = 200;
    const vi = block(renderKeepalived({ ...input, self: 'lb-2' }), 'vrrp_instance');
    assert.equal(value(vi, 'priority'), '200');
  });

  it('advertises by unicast to every other lb node, never to itself', () => {
    const input = threeNodes();
    for (const self of input.lbNodes) {
      const conf = renderKeepalived({ ...input, self: self.name });
      assert.equal(value(block(conf, 'vrrp_instance'), 'unicast_src_ip'), self.address);
      const peers = block(conf, 'unicast_peer');
      assert.deepEqual(
        peers,
        input.lbNodes.filter((n) => n.name !== self.name).map((n) => n.address),
      );
      assert.ok(!peers.includes(self.address));
    }
  });

  it('starts every node as BACKUP with nopreempt, on its own interface', () => {
    const input = threeNodes();
    for (const self of input.lbNodes) {
      const conf = renderKeepalived({ ...input, self: self.name });
      const vi = block(conf, 'vrrp_instance');
      assert.equal(value(vi, 'state'), 'BACKUP');
      assert.ok(vi.includes('nopreempt'));
      assert.equal(value(vi, 'interface'), self.interface);
      assert.equal(value(vi, 'virtual_router_id'), '51');
      assert.deepEqual(block(conf, 'virtual_ipaddress'), [`192.0.2.100/32 dev ${self.interface}`]);
    }
  });

  it('tracks the apiserver check script', () => {
    const conf = renderKeepalived(exampleLbInput(), { paths: { keepalivedCheckScript: '/opt/check.sh' } });
    const script = block(conf, `vrrp_script ${KEEPALIVED_SCRIPT_NAME}`);
    assert.equal(value(script, 'script'), '"/opt/check.sh"');
    assert.ok(!script.some((l) => l.startsWith('weight')), 'a weight would let small priority gaps keep a broken node as master');
    assert.deepEqual(block(conf, 'track_script'), [KEEPALIVED_SCRIPT_NAME]);
    const global = block(conf, 'global_defs');
    assert.ok(global.includes('enable_script_security'));
    assert.equal(value(global, 'script_user'), 'nobody');
    assert.ok(!global.includes('vrrp_strict'), 'vrrp_strict forbids unicast and auth');
  });

  it('authenticates with the given password, and omits the block without one', () => {
    assert.deepEqual(block(renderKeepalived(exampleLbInput()), 'authentication'), ['auth_type PASS', 'auth_pass k8s-vip']);
    const input = exampleLbInput();
    delete input.authPass;
    assert.doesNotMatch(renderKeepalived(input), /^\s*(authentication|auth_type|auth_pass)\b/m);
  });

  it('renders a lone lb node without unicast peers', () => {
    const input = exampleLbInput({ lbNodes: [{ name: 'lb-1', address: '192.0.2.21', interface: 'eth0' }] });
    const conf = renderKeepalived(input);
    assert.doesNotMatch(conf, /unicast_peer|unicast_src_ip/);
    assert.equal(value(block(conf, 'vrrp_instance'), 'priority'), '150');
  });

  it('is deterministic', () => {
    assert.equal(renderKeepalived(exampleLbInput()), renderKeepalived(structuredClone(exampleLbInput())));
  });
});

describe('renderKeepalivedCheckScript', () => {
  it('is strict POSIX sh probing the local LB, and the VIP when held', () => {
    const script = renderKeepalivedCheckScript(exampleLbInput({ apiPort: 8443 }));
    const lines = script.split('\n');
    assert.equal(lines[0], '#!/bin/sh');
    assert.ok(lines.includes('set -eu'));
    assert.ok(lines.includes("VIP='192.0.2.100'"));
    assert.ok(lines.includes("PORT='8443'"));
    assert.match(script, /curl [^\n]*--insecure[^\n]*"https:\/\/\$1:\$\{PORT\}\/healthz"/);
    assert.match(script, /^probe 127\.0\.0\.1 \|\|/m);
    assert.match(script, /^if ip -o -4 addr show \| grep -qF " \$\{VIP\}\/"; then$/m);
    assert.match(script, /^ {4}probe "\$\{VIP\}" \|\|/m);
    assert.doesNotMatch(script, /\bbash\b|\[\[|\bfunction\b/, 'no bashisms');
  });

  it('is deterministic', () => {
    assert.equal(renderKeepalivedCheckScript(exampleLbInput()), renderKeepalivedCheckScript(exampleLbInput()));
  });
});
