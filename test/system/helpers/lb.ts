// Shared by the load balancer system tests: stand-in kube-apiservers (TLS, /healthz, /whoami),
// plain HTTP(S) gets over fresh connections, and haproxy's CSV stats.
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import assert from 'node:assert/strict';
import forge from 'node-forge';

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function selfSignedCert(): { key: string; cert: string } {
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const subject = [{ name: 'commonName', value: 'kube-apiserver' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKey), forge.md.sha256.create());
  return { key: keys.privateKey, cert: forge.pki.certificateToPem(cert) };
}

/** A stand-in kube-apiserver on loopback: TLS, /healthz, and /whoami to see where the LB sent us. */
export interface FakeApiserver {
  name: string;
  port: number;
  healthy: boolean;
  server: https.Server;
}

export async function startFakeApiserver(name: string, tls: { key: string; cert: string }): Promise<FakeApiserver> {
  const fake: FakeApiserver = { name, port: 0, healthy: true, server: https.createServer(tls) };
  fake.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/healthz') {
      res.writeHead(fake.healthy ? 200 : 500).end(fake.healthy ? 'ok' : 'unhealthy');
    } else if (req.url === '/whoami') {
      res.writeHead(200).end(name);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
  fake.port = (fake.server.address() as net.AddressInfo).port;
  return fake;
}

/** GET over a fresh TLS connection, so every request is balanced on its own. */
export function httpsGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: urlPath, rejectUnauthorized: false, agent: false, timeout: 5_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export function httpGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Server status and last check result from haproxy's CSV stats, by server name. */
export async function haproxyServers(statsPort: number): Promise<Map<string, { status: string; check: string }>> {
  const [header, ...rows] = (await httpGet(statsPort, '/stats;csv')).body.trim().split('\n');
  const cols = (header ?? '').replace(/^# /, '').split(',');
  const col = (name: string): number => cols.indexOf(name);
  const out = new Map<string, { status: string; check: string }>();
  for (const row of rows) {
    const f = row.split(',');
    if (f[col('pxname')] === 'kube-apiserver' && f[col('svname')] !== 'BACKEND') {
      out.set(f[col('svname')]!, { status: f[col('status')]!, check: f[col('check_status')]! });
    }
  }
  return out;
}
