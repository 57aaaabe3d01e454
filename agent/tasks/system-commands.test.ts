import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apt, dpkg, modprobe, swapoff, systemctl } from './system-commands.js';

const line = (argv: string[]) => argv.join(' ');

test('package commands are the lines an operator would type', () => {
  assert.equal(line(dpkg.query('sl')), 'dpkg-query -W -f=${Status}\\t${Version}\\n sl');
  assert.equal(
    line(apt.install('kubelet', '1.32.3-1.1')),
    'apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends --allow-downgrades --allow-change-held-packages install kubelet=1.32.3-1.1',
  );
  assert.equal(line(apt.install('sl', '')).endsWith(' install sl'), true);
  assert.equal(line(apt.remove('sl')), 'apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --allow-change-held-packages remove sl');
  assert.equal(line(apt.update('/etc/apt/sources.list.d/k8s.sources')), 'apt-get -q update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/k8s.sources -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0');
  assert.equal(line(apt.update()), 'apt-get -q update');
  assert.equal(line(apt.mark('kubelet', true)), 'apt-mark hold kubelet');
  assert.equal(line(apt.mark('kubelet', false)), 'apt-mark unhold kubelet');
  assert.equal(line(apt.policy('kubelet')), 'apt-cache policy kubelet');
});

test('no package command ever upgrades what is not named', () => {
  for (const argv of [apt.install('a', '1'), apt.install('a', ''), apt.remove('a'), apt.update(), apt.update('/x')]) {
    assert.ok(!argv.includes('upgrade') && !argv.includes('dist-upgrade') && !argv.includes('full-upgrade'), line(argv));
  }
});

test('service, module and swap commands', () => {
  assert.equal(line(systemctl.isEnabled('/', 'kubelet.service')), 'systemctl is-enabled kubelet.service');
  assert.equal(line(systemctl.enable('/srv/img', 'kubelet.service')), 'systemctl --root=/srv/img enable kubelet.service');
  assert.equal(line(systemctl.disable('/', 'haproxy.service')), 'systemctl disable haproxy.service');
  assert.equal(line(systemctl.show('haproxy.service')), 'systemctl show haproxy.service -p LoadState,ActiveState,NeedDaemonReload');
  assert.equal(line(systemctl.start('haproxy.service')), 'systemctl start haproxy.service');
  assert.equal(line(systemctl.stop('haproxy.service')), 'systemctl stop haproxy.service');
  assert.equal(line(systemctl.daemonReload()), 'systemctl daemon-reload');
  assert.equal(line(modprobe('br_netfilter')), 'modprobe br_netfilter');
  assert.equal(line(swapoff('/swap.img')), 'swapoff /swap.img');
});
