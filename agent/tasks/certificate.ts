import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { CertificateSpec } from '../../proto/gen/muster/agent/v1/tasks.js';
import type { AgentErrorCode } from '../errors.js';
import { filesTask } from './managed-file.js';
import { Memo } from './memo.js';
import type { Problem } from './task.js';

interface Checked {
  code?: AgentErrorCode;
  message?: string;
  validFrom: number;
  validTo: number;
}

// Parsing, key match and chain never change for the same bytes; only the clock does.
const checked = new Memo<Checked>();

function check(spec: CertificateSpec): Checked {
  const fail = (code: AgentErrorCode, message: string): Checked => ({ code, message, validFrom: 0, validTo: 0 });
  let chain: X509Certificate[];
  let key: KeyObject;
  let ca: X509Certificate | undefined;
  try {
    chain = parseChain(spec.certPem);
    ca = spec.caPem ? parseChain(spec.caPem)[0] : undefined;
  } catch (err) {
    return fail('CERT_INVALID', (err as Error).message);
  }
  try {
    key = createPrivateKey(spec.keyPem);
  } catch {
    // The parser's message can quote key material; say only that it failed.
    return fail('CERT_INVALID', 'the private key does not parse as PEM');
  }
  const leaf = chain[0];
  if (!leaf.checkPrivateKey(key)) return fail('CERT_KEY_MISMATCH', `the private key does not belong to ${leaf.subject.replace(/\n/g, ', ')}`);
  if (ca && !chainsTo(chain, ca)) return fail('CERT_UNTRUSTED', `${leaf.subject.replace(/\n/g, ', ')} does not chain to the CA ${ca.subject.replace(/\n/g, ', ')}`);
  return { validFrom: Date.parse(leaf.validFrom), validTo: Date.parse(leaf.validTo) };
}

export const certificateTask = filesTask<CertificateSpec>('certificate', {
  validate(spec) {
    const problem = (code: AgentErrorCode, message: string): Problem[] => [{ code, message: `certificate ${spec.certPath}: ${message}` }];
    if (!spec.certPath || !spec.keyPath) return problem('INVALID_SPEC', 'certPath and keyPath are required');
    if (!spec.certPem || !spec.keyPem) return problem('INVALID_SPEC', 'certPem and keyPem are required');
    if (spec.caPath && !spec.caPem) return problem('INVALID_SPEC', 'caPath needs caPem');
    const c = checked.get([spec.certPem, spec.keyPem, spec.caPem], () => check(spec));
    if (c.code) return problem(c.code, c.message!);
    const now = Date.now();
    if (c.validTo <= now) return problem('CERT_EXPIRED', `expired on ${new Date(c.validTo).toISOString()}`);
    if (c.validFrom > now) return problem('CERT_EXPIRED', `not valid before ${new Date(c.validFrom).toISOString()}`);
    return [];
  },
  files(spec) {
    const files = [
      { path: spec.certPath, content: Buffer.from(ensureNewline(spec.certPem)), mode: 0o644, describe: describeCertificates },
      { path: spec.keyPath, content: Buffer.from(ensureNewline(spec.keyPem)), mode: 0o600, secret: true },
    ];
    if (spec.caPath) files.push({ path: spec.caPath, content: Buffer.from(ensureNewline(spec.caPem)), mode: 0o644, describe: describeCertificates });
    return files.map((f) => ({ ...f, owner: spec.owner || undefined, group: spec.group || undefined }));
  },
});

function parseChain(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) throw new Error('no PEM certificate found');
  return blocks.map((b) => new X509Certificate(b));
}

// The leaf, through any intermediates in the bundle, must be signed by the CA.
function chainsTo(chain: X509Certificate[], ca: X509Certificate): boolean {
  for (let i = 0; i < chain.length; i++) {
    if (chain[i].verify(ca.publicKey)) return true;
    if (i + 1 < chain.length && !chain[i].verify(chain[i + 1].publicKey)) return false;
  }
  return false;
}

// What a diff shows of a certificate file: who it names and when it ends, one line each.
const described = new Memo<string>();

export function describeCertificates(content: Buffer): string {
  const pem = content.toString('utf8');
  return described.get([pem], () => describe(pem));
}

function describe(pem: string): string {
  return parseChain(pem)
    .map((c) => {
      const sans = c.subjectAltName ? ` SANs=[${c.subjectAltName}]` : '';
      return `subject=${c.subject.replace(/\n/g, ', ')}${sans} notAfter=${new Date(c.validTo).toISOString()} serial=${c.serialNumber}`;
    })
    .join('\n');
}

function ensureNewline(s: string): string {
  return s.endsWith('\n') ? s : s + '\n';
}
