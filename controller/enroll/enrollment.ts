import { X509Certificate, createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { splitPemBundle } from '../../common/ca-hash.js';
import { ControllerError } from '../errors.js';
import { signCertificate } from '../pki/certs.js';
import { inspectCertificate, type CertPair } from '../pki/inspect.js';
import { CLIENT_ROLES, ROLE_AGENT, ROLE_READER, fleetStore, type ClientRole } from '../pki/fleet.js';
import { checkCsrFor, parseCsr, type ParsedCsr } from './csr.js';
import { FileLock, readJson } from './lock.js';
import { readTrust } from './rotation.js';
import { RevocationList, normalSerial, type Revoked } from './revocations.js';
import { FileTokenStore, checkScope, checkToken, consumeToken, findToken, type TokenStore } from './tokens.js';

// The parts of an inventory node enrollment reads (controller/spec's InventoryNode fits).
export interface EnrollNode {
  name: string;
  address: string;
  hostname: string;
  labels: Record<string, string>;
}

export interface NodeFacts {
  machineId: string;
  hostname: string;
  macs: string[];
  diskSerials: string[];
}

// inventory: only inventory nodes join. approve-unknown: a node not in the inventory waits in
// the approval queue. approve-all: every node waits for an operator.
export type ApprovalPolicy = 'inventory' | 'approve-unknown' | 'approve-all';

export interface EnrollmentOptions {
  stateDir: string;
  // The inventory as it is now (read on every join, so an edited inventory applies at once).
  nodes: () => EnrollNode[] | Promise<EnrollNode[]>;
  policy?: ApprovalPolicy;
  tokens?: TokenStore;
  validityDays?: number;
  // validityMs overrides validityDays (tests make certificates that are due for renewal).
  validityMs?: number;
}

export interface Pending {
  name: string;
  // sha256 of the CSR's public key: an approval is for that key only.
  keyHash: string;
  tokenId: string;
  facts: NodeFacts;
  peer: string;
  requestedAt: string;
  state: 'pending' | 'approved' | 'denied';
}

export interface EnrolledNode {
  name: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  dnsNames: string[];
  ipAddresses: string[];
  facts: NodeFacts;
  enrolledAt: string;
  renewedAt?: string;
  // earlier certificates not expired yet: a revocation takes them too.
  earlier?: { serial: string; notAfter: string }[];
}

export type JoinResult = { status: 'issued'; certPem: string; caPem: string; node: EnrolledNode } | { status: 'pending'; message: string };

export const DEFAULT_AGENT_CERT_DAYS = 90;

const keyHash = (csr: ParsedCsr) => createHash('sha256').update(csr.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');

// Joining, renewal, approval and revocation of fleet certificates, over the controller's state
// folder: <state>/enroll/{tokens.json, pending.json, revoked.json, nodes/<name>.{crt,json}}.
export class Enrollment {
  readonly dir: string;
  readonly tokens: TokenStore;
  readonly revocations: RevocationList;
  private readonly pendingLock: FileLock;

  constructor(readonly o: EnrollmentOptions) {
    this.dir = path.join(o.stateDir, 'enroll');
    this.tokens = o.tokens ?? new FileTokenStore(this.dir);
    this.revocations = new RevocationList(this.dir);
    this.pendingLock = new FileLock(path.join(this.dir, 'pending.lock'));
  }

  async init(): Promise<this> {
    await fs.mkdir(path.join(this.dir, 'nodes'), { recursive: true, mode: 0o700 });
    await this.revocations.load();
    return this;
  }

  // The CA that signs and the bundle members trust (the bundle holds two during a CA rotation).
  async trust(): Promise<{ ca: CertPair; bundle: string }> {
    // Read at most once a second: a burst of joins shares one read; a rotation shows within a second.
    if (this.trustCache && Date.now() - this.trustCache.at < 1000) return this.trustCache.value;
    const value = await readTrust(this.o.stateDir);
    this.trustCache = { at: Date.now(), value };
    return value;
  }

  private trustCache?: { at: number; value: { ca: CertPair; bundle: string } };

  // Join: every check runs before anything is written; the token use is taken last, so a
  // refused request leaves the token as it was.
  async join(req: { token: string; csrPem: string; facts: NodeFacts; peer?: string }): Promise<JoinResult> {
    const record = checkToken(req.token, await findToken(this.tokens, req.token));
    const csr = parseCsr(req.csrPem);
    const name = csr.commonName;
    if (!name) throw new ControllerError('CSR_NOT_ALLOWED', 'the certificate request has no CN: it must name the node');
    const node = (await this.o.nodes()).find((n) => n.name === name);
    checkScope(record, name, node?.labels);
    const allowed = node ? { name, dnsNames: [...new Set([name, node.hostname])], ipAddresses: [node.address] } : { name, dnsNames: [name], ipAddresses: [] };
    checkCsrFor(csr, allowed);
    const policy = this.o.policy ?? 'inventory';
    if (!node && policy === 'inventory') {
      throw new ControllerError('ENROLL_UNKNOWN_NODE', `node ${name} is not in the inventory; add it there (or run the controller with the approve-unknown policy)`);
    }
    if (policy === 'approve-all' || !node) {
      const waiting = await this.queue({ name, keyHash: keyHash(csr), tokenId: record.id, facts: req.facts, peer: req.peer ?? '' });
      if (waiting) return waiting;
    }
    await consumeToken(this.tokens, req.token);
    const issued = await this.sign(csr, allowed, req.facts);
    await this.dropPending(name);
    return issued;
  }

  // Renew: the caller proved its name with its current certificate; the new key is its own.
  async renew(peer: { name: string; roles: string[]; serial: string } | undefined, csrPem: string): Promise<{ certPem: string; caPem: string; node: EnrolledNode }> {
    if (!peer?.name) throw new ControllerError('NOT_AUTHENTICATED', 'Renew needs the caller\'s current fleet certificate (none was presented or it does not chain to the fleet CA)');
    if (this.revocations.has(peer.serial)) throw new ControllerError('CERT_REVOKED', `the certificate of ${peer.name} (serial ${peer.serial}) is revoked`);
    if (!peer.roles.includes(ROLE_AGENT)) throw new ControllerError('NOT_AUTHENTICATED', `Renew is for agents; ${peer.name} has role ${peer.roles.join(',') || 'none'}`);
    const csr = parseCsr(csrPem);
    const prior = await this.node(peer.name);
    const node = (await this.o.nodes()).find((n) => n.name === peer.name);
    const allowed = node
      ? { name: peer.name, dnsNames: [...new Set([peer.name, node.hostname])], ipAddresses: [node.address] }
      : prior
        ? { name: peer.name, dnsNames: prior.dnsNames, ipAddresses: prior.ipAddresses }
        : undefined;
    if (!allowed) throw new ControllerError('ENROLL_UNKNOWN_NODE', `node ${peer.name} is neither in the inventory nor enrolled`);
    checkCsrFor(csr, allowed);
    const out = await this.sign(csr, allowed, prior?.facts ?? { machineId: '', hostname: '', macs: [], diskSerials: [] }, prior);
    return out;
  }

  private async sign(csr: ParsedCsr, allowed: { name: string; dnsNames: string[]; ipAddresses: string[] }, facts: NodeFacts, prior?: EnrolledNode) {
    const { ca, bundle } = await this.trust();
    const certPem = signCertificate(ca, csr.publicKey, {
      commonName: allowed.name,
      organizationalUnits: [ROLE_AGENT],
      dnsNames: allowed.dnsNames,
      ipAddresses: allowed.ipAddresses,
      usages: ['server', 'client'],
      ...(this.o.validityMs ? { notAfter: new Date(Date.now() + this.o.validityMs) } : { validityDays: this.o.validityDays ?? DEFAULT_AGENT_CERT_DAYS }),
    });
    const x = new X509Certificate(certPem);
    const now = new Date().toISOString();
    const node: EnrolledNode = {
      name: allowed.name,
      serial: normalSerial(x.serialNumber),
      notBefore: new Date(x.validFrom).toISOString(),
      notAfter: new Date(x.validTo).toISOString(),
      dnsNames: allowed.dnsNames,
      ipAddresses: allowed.ipAddresses,
      facts,
      enrolledAt: prior?.enrolledAt ?? now,
      ...(prior ? { renewedAt: now, earlier: [...(prior.earlier ?? []), { serial: prior.serial, notAfter: prior.notAfter }].filter((c) => Date.parse(c.notAfter) > Date.now()) } : {}),
    };
    await writeFileAtomic(this.nodeFile(allowed.name, 'crt'), certPem, { mode: 0o644 });
    await writeFileAtomic(this.nodeFile(allowed.name, 'json'), JSON.stringify(node, null, 2) + '\n', { mode: 0o600 });
    return { status: 'issued' as const, certPem, caPem: bundle, node };
  }

  async node(name: string): Promise<EnrolledNode | undefined> {
    return readJson<EnrolledNode | undefined>(this.nodeFile(name, 'json'), undefined);
  }

  async enrolled(): Promise<EnrolledNode[]> {
    const files = (await fs.readdir(path.join(this.dir, 'nodes')).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
    return (await Promise.all(files.map((f) => this.node(f.slice(0, -5))))).filter((n): n is EnrolledNode => !!n);
  }

  private nodeFile(name: string, ext: 'crt' | 'json'): string {
    // Names are inventory DNS names or CSR CNs already checked against them; refuse a path anyway.
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new ControllerError('CSR_NOT_ALLOWED', `${JSON.stringify(name)} is not a node name`);
    return path.join(this.dir, 'nodes', `${name}.${ext}`);
  }

  // ---- the approval queue ----

  private pendingFile(): string {
    return path.join(this.dir, 'pending.json');
  }

  private changePending<T>(fn: (all: Pending[]) => { all: Pending[]; out: T }): Promise<T> {
    return this.pendingLock.run(async () => {
      const { all, out } = fn(await this.listAll());
      await writeFileAtomic(this.pendingFile(), JSON.stringify({ requests: all }, null, 2) + '\n', { mode: 0o600 });
      return out;
    });
  }

  private async listAll(): Promise<Pending[]> {
    return (await readJson<{ requests: Pending[] }>(this.pendingFile(), { requests: [] })).requests;
  }

  // Returns a "pending" answer, or undefined when an operator approved this key for the name.
  private async queue(p: Omit<Pending, 'requestedAt' | 'state'>): Promise<JoinResult | undefined> {
    const have = (await this.listAll()).find((r) => r.name === p.name);
    if (have?.state === 'denied') throw new ControllerError('ENROLL_DENIED', `an operator denied the join request of ${p.name}`);
    if (have?.state === 'approved' && have.keyHash === p.keyHash) return undefined;
    if (have?.state === 'approved') throw new ControllerError('CSR_NOT_ALLOWED', `the approval of ${p.name} was for another key; ask again with the key that was approved`);
    if (!have) {
      await this.changePending((all) => ({ all: [...all, { ...p, requestedAt: new Date().toISOString(), state: 'pending' }], out: undefined }));
    }
    return { status: 'pending', message: `node ${p.name} waits for an operator: muster nodes approve ${p.name}` };
  }

  async listPending(): Promise<Pending[]> {
    return (await this.listAll()).filter((r) => r.state === 'pending');
  }

  approve(name: string): Promise<Pending> {
    return this.decide(name, 'approved');
  }

  deny(name: string): Promise<Pending> {
    return this.decide(name, 'denied');
  }

  private decide(name: string, state: 'approved' | 'denied'): Promise<Pending> {
    return this.changePending((all) => {
      const r = all.find((x) => x.name === name && x.state === 'pending');
      if (!r) throw new ControllerError('NO_PENDING', `no join request of ${name} is waiting${all.some((x) => x.name === name) ? ` (it is ${all.find((x) => x.name === name)!.state})` : ''}`);
      const next = { ...r, state };
      return { all: all.map((x) => (x === r ? next : x)), out: next };
    });
  }

  private async dropPending(name: string): Promise<void> {
    if (!(await this.listAll()).some((r) => r.name === name && r.state !== 'denied')) return;
    return this.changePending((all) => ({ all: all.filter((r) => r.name !== name || r.state === 'denied'), out: undefined }));
  }

  // ---- lifecycle ----

  // Puts every fleet certificate issued to name (enrolled, made by init, reader) on the list.
  async revoke(name: string): Promise<Revoked[]> {
    const rows = (await listFleetCerts(this.o.stateDir)).filter((r) => r.name === name && r.role !== 'ca');
    if (!rows.length) throw new ControllerError('NO_CERTIFICATE', `no fleet certificate was issued to ${name}`);
    const now = new Date().toISOString();
    const earlier = ((await this.node(name))?.earlier ?? []).map((c) => ({ serial: c.serial, name, role: ROLE_AGENT, revokedAt: now, notAfter: c.notAfter }));
    const { added } = await this.revocations.add([...rows.map((r) => ({ serial: r.serial, name, role: r.role, revokedAt: now, notAfter: r.notAfter.toISOString() })), ...earlier]);
    return added;
  }
}

export interface FleetCertRow {
  name: string;
  role: string;
  notAfter: Date;
  daysLeft: number;
  serial: string;
  file: string;
}

// Every fleet certificate the controller knows, for `muster certs check-expiration`.
export async function listFleetCerts(stateDir: string, now = Date.now()): Promise<FleetCertRow[]> {
  const store = fleetStore(stateDir);
  const files = (await store.names()).map((n) => store.file(n, 'crt'));
  const nodes = path.join(stateDir, 'enroll', 'nodes');
  files.push(...(await fs.readdir(nodes).catch(() => [] as string[])).filter((f) => f.endsWith('.crt')).map((f) => path.join(nodes, f)));
  const rows: FleetCertRow[] = [];
  for (const file of files) {
    const pem = splitPemBundle(await fs.readFile(file, 'utf8'))[0];
    if (!pem) continue;
    const info = inspectCertificate(pem, now);
    const ca = new X509Certificate(pem).ca;
    rows.push({ name: info.commonName, role: ca ? 'ca' : info.organizationalUnits.join(',') || 'none', notAfter: info.notAfter, daysLeft: info.daysLeft, serial: normalSerial(info.serial), file });
  }
  return rows.sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime());
}

// A reader certificate for monitoring: GetStatus, GetFacts and WatchStatus, never Apply.
export async function issueClient(stateDir: string, name: string, role: ClientRole, validityDays = 365): Promise<{ certFile: string; keyFile: string; pair: CertPair }> {
  const store = fleetStore(stateDir);
  const ca = await store.read('ca');
  if (!ca) throw new ControllerError('NO_CREDENTIALS', `no fleet CA in ${store.dir}: run "muster init" first`);
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new ControllerError('SPEC_INVALID', `${role} name ${JSON.stringify(name)} must be a lower-case DNS name`);
  const at = `${CLIENT_ROLES[role]}/${name}`;
  const pair = await store.issue(at, ca, { commonName: name, organizationalUnits: [role], usages: ['client'], validityDays });
  return { certFile: store.file(at, 'crt'), keyFile: store.file(at, 'key'), pair };
}

export const issueReader = (stateDir: string, name: string, validityDays = 365) => issueClient(stateDir, name, ROLE_READER, validityDays);

// Past two thirds of a certificate's life it is due for renewal.
export function renewalDue(pem: string, now = Date.now()): { due: boolean; at: Date } {
  const x = new X509Certificate(pem);
  const from = Date.parse(x.validFrom);
  const at = new Date(from + ((Date.parse(x.validTo) - from) * 2) / 3);
  return { due: now >= at.getTime(), at };
}

// Re-issues the controller's own fleet certificate (the controller holds the CA, so no call
// is needed) once it is past two thirds of its life. The lead calls it when muster starts.
export async function renewControllerIfDue(stateDir: string, now = Date.now()): Promise<{ renewed: boolean; notAfter: Date }> {
  const store = fleetStore(stateDir);
  const [ca, have, saved] = await Promise.all([store.read('ca'), store.read('controller'), store.request('controller')]);
  if (!ca || !have) throw new ControllerError('NO_CREDENTIALS', `no fleet credentials in ${store.dir}: run "muster init" first`);
  const { due } = renewalDue(have.certPem, now);
  if (!due) return { renewed: false, notAfter: new Date(new X509Certificate(have.certPem).validTo) };
  const request = saved?.request ?? { commonName: 'muster-controller', organizationalUnits: ['controller'], usages: ['client' as const] };
  const { notBefore: _b, notAfter: _a, ...fresh } = request;
  const pair = await store.issue('controller', ca, fresh);
  return { renewed: true, notAfter: new Date(new X509Certificate(pair.certPem).validTo) };
}
