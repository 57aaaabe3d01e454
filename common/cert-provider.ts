import type { experimental } from '@grpc/grpc-js';

type Provider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdListener = experimental.IdentityCertificateUpdateListener;

// TLS material held in memory for grpc-js: set() swaps it for the next handshakes without
// closing the server, so a renewed certificate or a new CA bundle takes effect at once.
export class MemoryCertificateProvider implements Provider {
  private readonly caListeners = new Set<CaListener>();
  private readonly idListeners = new Set<IdListener>();

  constructor(private tls: { ca: Buffer; cert: Buffer; key: Buffer }) {}

  get current(): { ca: Buffer; cert: Buffer; key: Buffer } {
    return this.tls;
  }

  set(tls: { ca: Buffer; cert: Buffer; key: Buffer }): void {
    this.tls = tls;
    for (const l of this.caListeners) l({ caCertificate: tls.ca });
    for (const l of this.idListeners) l({ certificate: tls.cert, privateKey: tls.key });
  }

  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    // Later, not now: grpc-js registers its watcher only after adding the listener.
    queueMicrotask(() => this.caListeners.has(l) && l({ caCertificate: this.tls.ca }));
  }

  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }

  addIdentityCertificateListener(l: IdListener): void {
    this.idListeners.add(l);
    queueMicrotask(() => this.idListeners.has(l) && l({ certificate: this.tls.cert, privateKey: this.tls.key }));
  }

  removeIdentityCertificateListener(l: IdListener): void {
    this.idListeners.delete(l);
  }
}
