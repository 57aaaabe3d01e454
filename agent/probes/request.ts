import https from 'node:https';

// Not an ESM import of node:http: on Node 24 that loads undici (agent/server/http.ts).
const http = process.getBuiltinModule('node:http');

export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure?: boolean;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

// One HTTP(S) request with client certificates and a hard timeout; fetch cannot present a
// client certificate, which etcd and the API server ask for.
export function request(url: string, options: { method?: string; body?: string; timeoutMs: number; tls?: TlsFiles }): Promise<HttpAnswer> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: options.method ?? 'GET',
        timeout: options.timeoutMs,
        headers: options.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) } : {},
        ...(u.protocol === 'https:'
          ? { ca: options.tls?.ca, cert: options.tls?.cert, key: options.tls?.key, rejectUnauthorized: !options.tls?.insecure, agent: false }
          : { agent: false }),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 65536) body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
