import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tmp = (text: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'musterd-config-'));
  dirs.push(dir);
  const file = path.join(dir, 'musterd.yaml');
  fs.writeFileSync(file, text);
  return file;
};

test('config: the shipped example loads, and flags override it', () => {
  const example = fileURLToPath(new URL('../packaging/musterd.yaml', import.meta.url));
  const c = loadConfig(example, { listen: '127.0.0.1:9000' });
  assert.equal(c.name, 'm1');
  assert.equal(c.listen, '127.0.0.1:9000');
  assert.equal(c.http, '127.0.0.1:7444');
  assert.equal(c.tls.key, '/etc/muster/pki/agent.key');
});

test('config: a bad field names the file, line and field', () => {
  const file = tmp('name: m1\nlisten: nowhere\n');
  assert.throws(() => loadConfig(file, {}), { message: `${file}:2:9: listen: must be host:port` });
});

test('config: an unknown key is refused, a missing name is named', () => {
  assert.throws(() => loadConfig(tmp('name: m1\nlisen: 1\n'), {}), /musterd\.yaml:1:1: Unrecognized key: "lisen"/);
  assert.throws(() => loadConfig(undefined, {}), /name: .*\(flags\)/);
});

test('config: wrong types, levels and trees name their lines; tls keys merge with the defaults', () => {
  const file = tmp('name: m1\nlogLevel: loud\nallowedTrees: [/etc/kubernetes, relative/path]\ntls: { ca: /x/ca.crt }\n');
  assert.throws(() => loadConfig(file, {}), (err: Error) => {
    assert.match(err.message, /musterd\.yaml:2:11: logLevel: must be one of fatal, error/);
    assert.match(err.message, /musterd\.yaml:3:33: allowedTrees\[1\]: must be an absolute path/);
    return true;
  });
  const ok = loadConfig(tmp('name: m1\ntls: { ca: /x/ca.crt }\n'), { http: 'off' });
  assert.deepEqual(ok.tls, { ca: '/x/ca.crt', cert: '/etc/muster/pki/agent.crt', key: '/etc/muster/pki/agent.key' });
  assert.equal(ok.http, 'off');
  assert.throws(() => loadConfig(undefined, { name: 'm1', listen: 'nope' }), /listen: must be host:port \(flags\)/);
});

test('config: join settings load from the file, flags override them, bad ones name their lines', () => {
  const hash = 'sha256:' + 'a'.repeat(64);
  const file = tmp(`name: m1\njoin: { controller: "10.0.0.1:7450", token: abcdef.0123456789abcdef, caCertHash: "${hash}" }\n`);
  const c = loadConfig(file, { join: { token: 'zzzzzz.zzzzzzzzzzzzzzzz' } });
  assert.deepEqual(c.join, { controller: '10.0.0.1:7450', token: 'zzzzzz.zzzzzzzzzzzzzzzz', caCertHash: hash });
  assert.throws(() => loadConfig(tmp('name: m1\njoin: { controller: "10.0.0.1:7450", caCertHash: md5:1 }\n'), {}), /musterd\.yaml:2:\d+: join\.caCertHash: must be sha256:<64 hex digits>/);
  assert.throws(() => loadConfig(tmp('name: m1\njoin: { token: abcdef.0123456789abcdef }\n'), {}), /join\.controller: is required/);
});
