import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderLbFiles } from './files.js';
import { exampleLbInput } from './fixtures.js';
import { renderHaproxy } from './haproxy.js';
import { renderNginx } from './nginx.js';

describe('renderLbFiles', () => {
  it('picks the load balancer by kind and adds keepalived with safe modes', () => {
    const haproxy = renderLbFiles(exampleLbInput({ kind: 'haproxy' }));
    assert.deepEqual(
      haproxy.map((f) => [f.path, f.mode.toString(8), f.service, f.check?.join(' ')]),
      [
        ['/etc/haproxy/haproxy.cfg', '644', 'haproxy', 'haproxy -c -f {}'],
        ['/etc/keepalived/check_apiserver.sh', '755', 'keepalived', 'sh -n {}'],
        ['/etc/keepalived/keepalived.conf', '600', 'keepalived', undefined],
      ],
    );
    const tested = renderLbFiles(exampleLbInput(), { keepalivedConfigTest: true });
    assert.deepEqual(tested[2]!.check, ['keepalived', '-t', '-f', '{}'], 'keepalived -t where keepalived is 2.2.8 or later');
    assert.equal(haproxy[0]!.content, renderHaproxy(exampleLbInput()));
    const nginx = renderLbFiles(exampleLbInput({ kind: 'nginx' }));
    assert.equal(nginx[0]!.path, '/etc/nginx/nginx.conf');
    assert.equal(nginx[0]!.content, renderNginx(exampleLbInput()));
    assert.deepEqual(nginx[0]!.check, ['nginx', '-t', '-q', '-c', '{}']);
  });

  it('installs the check script where keepalived.conf points', () => {
    const files = renderLbFiles(exampleLbInput(), { paths: { keepalivedCheckScript: '/usr/local/lib/muster/check.sh' } });
    assert.equal(files[1]!.path, '/usr/local/lib/muster/check.sh');
    assert.match(files[2]!.content, /script "\/usr\/local\/lib\/muster\/check\.sh"/);
  });
});
