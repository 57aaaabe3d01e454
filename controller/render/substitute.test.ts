import assert from 'node:assert/strict';
import { test } from 'node:test';
import { substitute, substituteDeep } from './substitute.js';

test('substitute: fills known placeholders, keeps $${X} literal, names an unknown one and where', () => {
  assert.equal(substitute('--name=${NODE_NAME} --ip=${NODE_IP}', { NODE_NAME: 'm1', NODE_IP: '10.0.0.11' }, ''), '--name=m1 --ip=10.0.0.11');
  assert.equal(substitute('echo $${HOME} ${A}', { A: 'x' }, ''), 'echo ${HOME} x');
  assert.equal(substitute('no placeholders, $PATH and ${}x', { '': 'empty' }, ''), 'no placeholders, $PATH and emptyx');
  assert.throws(() => substitute('${NODE_ADDR}', { NODE_IP: '1' }, 'etcd.yaml'), { message: 'unknown placeholder ${NODE_ADDR} in etcd.yaml (known: NODE_IP)' });
});

test('substituteDeep: every string in nested values', () => {
  assert.deepEqual(substituteDeep({ a: ['${X}', 1, { b: '${X}-y' }], c: true }, { X: 'v' }, ''), { a: ['v', 1, { b: 'v-y' }], c: true });
});
