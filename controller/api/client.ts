import https from 'node:https';
import { ControllerError, controllerErrors, type ControllerErrorCode } from '../errors.js';

export interface ClientTls {
  // The client certificate and key (operator or reader); without them only /healthz answers.
  certPem?: string;
  keyPem?: string;
  // The fleet CA the controller's server certificate chains to.
  caPem: string;
}

// An error the controller answered with: its code and message, and the leader for NOT_LEADER.
export class ApiError extends ControllerError {
  constructor(code: ControllerErrorCode, message: string, readonly status: number, readonly leader?: { id: string; url?: string }) {
    super(code, message);
  }
}

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

// The controller API over mutual TLS, for the CLI's remote mode and the tests.
export class ControllerClient {
  private readonly agent: https.Agent;

  constructor(readonly url: string, private readonly tls: ClientTls, private readonly timeoutMs = 30_000) {
    this.agent = new https.Agent({ keepAlive: true, cert: tls.certPem, key: tls.keyPem, ca: tls.caPem });
  }

  // The same client on another controller (the leader a follower named).
  at(url: string): ControllerClient {
    return new ControllerClient(url, this.tls, this.timeoutMs);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  // A route that answers text (/metrics).
  async text(path: string): Promise<string> {
    const { status, text } = await this.send('GET', path);
    if (status >= 400) throw errorOf(status, parse(text), text, `GET ${path}`);
    return text;
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, text } = await this.send(method, path, body === undefined ? undefined : JSON.stringify(body));
    const json = parse(text);
    if (status >= 400) throw errorOf(status, json, text, `${method} ${path}`);
    return json as T;
  }

  // The server-sent events, until close(); onEnd with the cause when the stream ends.
  // opened: once the controller has subscribed this stream.
  events(on: (name: string, data: unknown) => void, onEnd?: (err?: Error) => void): { opened: Promise<void>; close(): void } {
    let open = () => {};
    const opened = new Promise<void>((resolve) => (open = resolve));
    const req = https.request(new URL('/v1/events', this.url), { agent: this.agent, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode === 200) open();
      else {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => onEnd?.(errorOf(res.statusCode ?? 0, parse(text), text, 'GET /v1/events')));
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (name && data !== undefined) on(name, JSON.parse(data));
        }
      });
      res.on('end', () => onEnd?.());
      res.on('error', (err) => onEnd?.(err));
    });
    req.on('error', (err) => onEnd?.(this.unreachable(err)));
    req.end();
    return { opened, close: () => req.destroy() };
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const req = https.request(new URL(path, this.url), { method, agent: this.agent, headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > MAX_RESPONSE_BYTES) return req.destroy(new Error(`the answer is over ${MAX_RESPONSE_BYTES} bytes`));
          chunks.push(d);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => reject(this.unreachable(err)));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(this.unreachable(err)));
      req.end(body);
    });
  }

  private unreachable(err: Error): ControllerError {
    return new ControllerError('CONTROLLER_UNREACHABLE', `the controller at ${this.url} did not answer: ${err.message}`);
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorOf(status: number, json: unknown, text: string, what: string): ApiError {
  const body = (json ?? {}) as { error?: string; message?: string; leader?: { id: string; url?: string } };
  const code = body.error && body.error in controllerErrors ? (body.error as ControllerErrorCode) : 'INTERNAL';
  return new ApiError(code, body.message ?? `${what}: HTTP ${status}: ${text.slice(0, 200)}`, status, body.leader);
}
