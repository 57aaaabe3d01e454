import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { ControllerError } from '../errors.js';
import { createCA, type CertPair } from '../pki/certs.js';
import { fleetStore } from '../pki/fleet.js';

// The signing CA and the bundle to trust: what the controller's channels to agents must trust
// too (createSsl's root certificates), or agents renewed from a new CA are refused.
export async function readTrust(stateDir: string): Promise<{ ca: CertPair; bundle: string }> {
  const store = fleetStore(stateDir);
  const ca = await store.read('ca');
  if (!ca) throw new ControllerError('NO_CREDENTIALS', `no fleet CA in ${store.dir}: run "muster init" first`);
  const bundle = await fs.readFile(bundleFile(stateDir), 'utf8').catch(() => ca.certPem);
  return { ca, bundle };
}

export type RotationStep = 'start' | 'switch' | 'finish';

// The fleet CA bundle: what every member trusts. Its first certificate is the CA that signs.
// Absent outside a rotation (the CA alone is trusted); .pem, so certificate listings skip it.
export function bundleFile(stateDir: string): string {
  return path.join(stateDir, 'enroll', 'ca-bundle.pem');
}

// A CA rotation in three steps, each a window of dual trust:
//   start:  a new CA is made; the bundle is old+new (old still signs). Agents fetch it (GetTrust).
//   switch: the new CA signs; the bundle is new+old; the controller's certificate is re-issued
//           from it; agents whose certificate the old CA signed renew at their next GetTrust.
//   finish: the bundle is the new CA alone; the old CA is dropped.
export async function rotateCa(stateDir: string, step: RotationStep): Promise<{ bundle: string[] }> {
  const store = fleetStore(stateDir);
  const ca = await store.read('ca');
  if (!ca) throw new ControllerError('NO_CREDENTIALS', `no fleet CA in ${store.dir}: run "muster init" first`);
  const next = await store.read('ca-next');
  const previous = await store.read('ca-previous');
  const writeBundle = async (pems: string[]) => {
    await writeFileAtomic(bundleFile(stateDir), pems.join(''), { mode: 0o644 });
    return { bundle: pems.map((p) => new X509Certificate(p).subject) };
  };
  if (step === 'start') {
    if (next || previous) throw new ControllerError('SPEC_INVALID', 'a CA rotation is already under way: run the switch or finish step');
    const cn = new X509Certificate(ca.certPem).subject.split('\n').find((f) => f.startsWith('CN='))?.slice(3) ?? 'muster fleet CA';
    const fresh = createCA(`${cn.replace(/ \(rotated [^)]*\)$/, '')} (rotated ${new Date().toISOString().slice(0, 10)})`);
    await store.write('ca-next', fresh);
    return writeBundle([ca.certPem, fresh.certPem]);
  }
  if (step === 'switch') {
    if (!next) throw new ControllerError('SPEC_INVALID', 'no CA rotation was started: run the start step first');
    await store.write('ca-previous', ca);
    await store.write('ca', next);
    await Promise.all(['crt', 'key'].map((ext) => fs.rm(store.file('ca-next', ext as 'crt'), { force: true })));
    await fs.rm(path.join(store.dir, 'ca-next.json'), { force: true });
    // The controller's client certificate comes from the signing CA; its server certificate is
    // re-issued when the enrollment service sees the new bundle.
    const saved = await store.request('controller');
    if (saved) {
      const { notBefore: _b, notAfter: _a, ...request } = saved.request;
      await store.issue('controller', next, request);
    }
    return writeBundle([next.certPem, ca.certPem]);
  }
  if (!previous) throw new ControllerError('SPEC_INVALID', 'no CA rotation is in its switch step: nothing to finish');
  await Promise.all(['crt', 'key'].map((ext) => fs.rm(store.file('ca-previous', ext as 'crt'), { force: true })));
  return writeBundle([ca.certPem]);
}
