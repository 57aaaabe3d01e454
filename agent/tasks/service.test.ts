import { FakeKernel } from '../host/kernel.js';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { ServiceEnablement, ServiceRunState } from '../../proto/gen/muster/agent/v1/system.js';
import { silent, tempHost } from '../../test/helpers/host.js';
import { useStandins } from '../../test/helpers/standins.js';
import { timeline } from '../../test/helpers/timeline.js';
import { parseShow, serviceTask } from './service.js';

// The real systemctl works on unit files under the temp root (systemctl --root); the live half
// (start, stop, daemon-reload) needs systemd as PID 1 and is tested through its pure diff here.
const UNIT = '[Unit]\nDescription=muster test\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n';
const WANTS = '/etc/systemd/system/multi-user.target.wants/muster-demo.service';
const unitFile = async (real: (p: string) => string) => {
  await fs.mkdir(real('/etc/systemd/system'), { recursive: true });
  await fs.writeFile(real('/etc/systemd/system/muster-demo.service'), UNIT);
};
const link = async (real: (p: string) => string) => {
  await fs.mkdir(path.dirname(real(WANTS)), { recursive: true });
  await fs.symlink('/etc/systemd/system/muster-demo.service', real(WANTS));
};
const enabled = { id: 'svc', service: { name: 'muster-demo', enablement: ServiceEnablement.SERVICE_ENABLEMENT_ENABLED } };

timeline({
  name: 'service (enabled at boot)',
  task: enabled,
  setup: unitFile,
  drift: async (real) => fs.rm(real(WANTS)),
});

timeline({
  name: 'service (disabled at boot)',
  task: { id: 'svc', service: { name: 'muster-demo.service', enablement: ServiceEnablement.SERVICE_ENABLEMENT_DISABLED } },
  setup: async (real) => {
    await unitFile(real);
    await link(real);
  },
  drift: link,
});

test('service: without systemd as PID 1, the unit is enabled on disk and the result says the rest waits for a boot', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await unitFile(h.real);
  const r = (await h.run([{ id: 'svc', service: { name: 'muster-demo', enablement: ServiceEnablement.SERVICE_ENABLEMENT_ENABLED, state: ServiceRunState.SERVICE_RUN_STATE_STARTED } }])).results[0];
  assert.equal(r.status, TaskStatus.TASK_STATUS_CHANGED, r.errorMessage);
  assert.equal(await fs.readlink(h.real(WANTS)), '/etc/systemd/system/muster-demo.service');
  assert.deepEqual(r.warnings, ['systemd is not PID 1 here, so the unit was enabled or disabled on disk only; it starts or stops at the next boot']);
});

test('service: a unit the host does not have fails clearly', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await fs.mkdir(h.real('/etc/systemd/system'), { recursive: true });
  const r = (await h.run([{ id: 'svc', service: { name: 'nosuch', enablement: ServiceEnablement.SERVICE_ENABLEMENT_ENABLED } }])).results[0];
  assert.equal(r.errorCode, 'SERVICE_NOT_FOUND');
  assert.match(r.errorMessage, /no unit nosuch.service/);
});

test('service: bad input is refused', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  for (const [spec, pattern] of [
    [{ name: 'x', enablement: 0, state: 0 }, /say enablement, state or both/],
    [{ name: '--root=/', enablement: 1 }, /not a systemd unit name/],
    [{ name: 'a b', enablement: 1 }, /not a systemd unit name/],
    [{ name: '../x', enablement: 1 }, /not a systemd unit name/],
  ] as const) {
    const r = (await h.run([{ id: 's', service: spec }])).results[0];
    assert.equal(r.errorCode, 'INVALID_SPEC', JSON.stringify(spec));
    assert.match(r.errorMessage, pattern);
  }
});

test('service: the live half, as systemctl show reports it', () => {
  const live = parseShow('ActiveState=inactive\nLoadState=loaded\nNeedDaemonReload=yes\n');
  assert.deepEqual(live, { loadState: 'loaded', activeState: 'inactive', needDaemonReload: true });
  const spec = { name: 'haproxy', enablement: ServiceEnablement.SERVICE_ENABLEMENT_ENABLED, state: ServiceRunState.SERVICE_RUN_STATE_STARTED };
  assert.deepEqual(serviceTask.diff(spec, { enablement: 'enabled', live }).map((d) => [d.header, d.before, d.after]), [
    ['haproxy.service (unit file changed on disk)', 'not reloaded', 'systemctl daemon-reload'],
    ['haproxy.service (now)', 'inactive', 'active'],
  ]);
  assert.deepEqual(serviceTask.diff(spec, { enablement: 'enabled', live: { loadState: 'loaded', activeState: 'active', needDaemonReload: false } }), []);
  const stop = { ...spec, enablement: ServiceEnablement.SERVICE_ENABLEMENT_DISABLED, state: ServiceRunState.SERVICE_RUN_STATE_STOPPED };
  assert.deepEqual(serviceTask.diff(stop, { enablement: 'enabled', live: { loadState: 'loaded', activeState: 'active', needDaemonReload: false } }).map((d) => d.after), ['disabled', 'inactive']);
});

test('service: the live half runs daemon-reload, then start or stop, as systemd would be told (stand-in systemctl)', async (t) => {
  // The stand-in records what would reach systemd as PID 1; observing it needs a booted host.
  const h = await tempHost();
  t.after(h.cleanup);
  const standins = useStandins();
  standins.rootFor(h.real);
  const ctx = { host: h.host, log: silent, kernel: new FakeKernel() };
  const start = { name: 'haproxy', enablement: ServiceEnablement.SERVICE_ENABLEMENT_ENABLED, state: ServiceRunState.SERVICE_RUN_STATE_STARTED };
  await serviceTask.apply(start, { enablement: 'enabled', live: { loadState: 'loaded', activeState: 'inactive', needDaemonReload: true } }, ctx);
  const stop = { ...start, state: ServiceRunState.SERVICE_RUN_STATE_STOPPED };
  await serviceTask.apply(stop, { enablement: 'enabled', live: { loadState: 'loaded', activeState: 'active', needDaemonReload: false } }, ctx);
  await serviceTask.apply(stop, { enablement: 'enabled', live: { loadState: 'loaded', activeState: 'inactive', needDaemonReload: false } }, ctx);
  assert.deepEqual((await fs.readFile(h.real('/systemctl.log'), 'utf8')).trim().split('\n'), [
    'systemctl daemon-reload',
    'systemctl start haproxy.service',
    'systemctl stop haproxy.service',
  ]);
  await assert.rejects(serviceTask.apply(start, { enablement: 'enabled', live: { loadState: 'not-found', activeState: 'inactive', needDaemonReload: false } }, ctx), /SERVICE_NOT_FOUND|no unit haproxy.service/);
});
