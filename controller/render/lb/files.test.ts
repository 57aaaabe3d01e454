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
      haproxy.map((f) => [f.path, f.mode.toString(8), f.service]),
      [
        ['/etc/haproxy/haproxy.cfg', '644', 'haproxy'],
        ['/etc/keepalived/keepalived.conf', '600', 'keepalived'],
        ['/etc/keepalived/check_apiserver.sh', '755', 'keepalived'],
      ],
    );
    assert.equal(haproxy[0]!.content, renderHaproxy(exampleLbInput()));
    const nginx = renderLbFiles(exampleLbInput({ kind: 'nginx' }));
    assert.equal(nginx[0]!.path, '/etc/nginx/nginx.conf');
    assert.equal(nginx[0]!.content, renderNginx(exampleLbInput()));
  });

  it('installs the check script where keepalived.conf points', () => {
    const files = renderLbFiles(exampleLbInput(), { paths: { keepalivedCheckScript: '/usr/local/lib/muster/check.sh' } });
    assert.equal(files[2]!.path, '/usr/local/lib/muster/check.sh');
    assert.match(files[1]!.content, /script "\/usr\/local\/lib\/muster\/check\.sh"/);
  });
});
