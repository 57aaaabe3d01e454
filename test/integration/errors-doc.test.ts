import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import fs from 'node:fs';
import { test } from 'node:test';
import { agentErrors } from '../../agent/errors.js';
import { controllerErrors } from '../../controller/errors.js';

const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const section = (title: string) => doc.split(/^## /m).find((s) => s.startsWith(title))!;
const rows = (text: string) => [...text.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \| ([^|]+) \|/gm)].map((m) => ({ code: m[1], a: m[2].trim(), b: m[3].trim() }));

test('errors: docs/errors.md lists every agent code with its gRPC and HTTP status, and no other', () => {
  const documented = rows(section('Agent'));
  assert.deepEqual(documented.map((r) => r.code).sort(), Object.keys(agentErrors).sort());
  for (const r of documented) {
    const e = agentErrors[r.code as keyof typeof agentErrors];
    assert.equal(r.a, status[e.grpc], `${r.code} gRPC status`);
    assert.equal(Number(r.b), e.http, `${r.code} HTTP status`);
  }
});

test('errors: docs/errors.md lists every controller code with its exit code, and no other', () => {
  const documented = rows(section('Controller'));
  assert.deepEqual(documented.map((r) => r.code).sort(), Object.keys(controllerErrors).sort());
  for (const r of documented) {
    const e = controllerErrors[r.code as keyof typeof controllerErrors];
    assert.equal(Number(r.a), e.exit, `${r.code} exit code`);
    assert.equal(Number(r.b), e.http, `${r.code} HTTP status`);
  }
});
