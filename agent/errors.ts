import { status as GrpcStatus } from '@grpc/grpc-js';

// One registry of every error the agent reports: code → gRPC status, HTTP status, meaning.
// docs/errors.md lists the same codes; agent/errors.test.ts keeps the two in sync.
export const agentErrors = {
  INVALID_SPEC: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, summary: 'A task spec is malformed; nothing was changed.' },
  INVALID_PLAN: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, summary: 'The plan is malformed (missing, duplicate task ids or paths); nothing was changed.' },
  PATH_NOT_ALLOWED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403, summary: 'A path is outside the allowed trees, uses "..", holds a NUL byte or escapes through a symlink; refused before any I/O.' },
  PERMISSION_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403, summary: 'The caller\'s certificate role may not make this call.' },
  MANIFEST_INVALID: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, summary: 'A static-pod manifest is not a valid Kubernetes Pod.' },
  CERT_INVALID: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, summary: 'A certificate, key or CA does not parse as PEM.' },
  CERT_KEY_MISMATCH: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, summary: 'The private key does not belong to the certificate.' },
  CERT_UNTRUSTED: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, summary: 'The certificate does not chain to the given CA.' },
  CERT_EXPIRED: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, summary: 'The certificate has expired (or is not valid yet).' },
  UNKNOWN_OWNER: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, summary: 'An owner or group name does not exist on the host.' },
  NOT_CONVERGED: { grpc: GrpcStatus.INTERNAL, http: 500, summary: 'A task applied without error but the host still differs from the spec.' },
  STALE_GENERATION: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'The plan\'s generation is lower than the one the agent applied and the request is not a rollback; nothing was changed.' },
  APPLY_IN_PROGRESS: { grpc: GrpcStatus.ABORTED, http: 409, summary: 'Another apply is running on this agent; retry when it ends.' },
  SHUTTING_DOWN: { grpc: GrpcStatus.UNAVAILABLE, http: 503, summary: 'The agent is stopping; the task in flight finished and the rest did not run.' },
  EXEC_FAILED: { grpc: GrpcStatus.INTERNAL, http: 500, summary: 'A command exited non-zero.' },
  EXEC_TIMEOUT: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504, summary: 'A command ran past its timeout and was killed.' },
  DEVICE_HAS_DATA: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'mkfs was asked for a device that already holds a filesystem or data; it is never formatted.' },
  DEVICE_UNFORMATTED: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'The device holds no filesystem and the mount did not ask for mkfs.' },
  DEVICE_NOT_FOUND: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504, summary: 'The device did not appear before the timeout (an iSCSI LUN, a mapped RBD image).' },
  TARGET_BUSY: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'The mount point is in use; the processes holding it are named and nothing is forced.' },
  STORAGE_UNREACHABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503, summary: 'The storage server (NFS, iSCSI portal, Ceph monitors, GlusterFS) does not answer.' },
  EXPORT_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404, summary: 'The server answers but has no such export, iSCSI target or RBD image.' },
  PERSISTENCE_CONFLICT: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'The mount point is already persisted outside muster (an fstab line or a unit muster did not write).' },
  CONFIG_CHECK_FAILED: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'The program a config file names as its check (haproxy -c, nginx -t, keepalived -t) rejected the new content, or is not installed; the old file is kept and no handler is owed.' },
  SYSCTL_NOT_FOUND: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'The running kernel has no such sysctl key under /proc/sys; nothing was written.' },
  MODULE_NOT_FOUND: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'modprobe could not load a kernel module (not built for this kernel); the modules-load.d file was not written.' },
  SERVICE_NOT_FOUND: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'systemd has no such unit (no unit file on the host).' },
  PACKAGE_NOT_FOUND: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'apt knows no such package or version, even after refreshing its sources.' },
  PACKAGE_ROOT_UNSUPPORTED: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'The package kind runs apt and dpkg on the real root only; an agent with another root prefix refuses it.' },
  NOT_REGULAR_FILE: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'A FIFO, device, socket or folder sits where a managed file belongs; refused without opening it, nothing changed.' },
  PLAN_TOO_LARGE: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, summary: 'The plan has more tasks than the agent takes in one plan (MAX_PLAN_TASKS); nothing was changed.' },
  ETCD_NOT_PLANNED: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, summary: 'An etcd snapshot was asked of a node whose plan has no etcd probe (no etcd member there).' },
  SNAPSHOT_FAILED: { grpc: GrpcStatus.UNAVAILABLE, http: 503, summary: 'The etcd snapshot could not be taken (the member did not answer, refused the client certificate or sent nothing); no snapshot file was left.' },
  IO_ERROR: { grpc: GrpcStatus.INTERNAL, http: 500, summary: 'Reading or writing the host failed.' },
  INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500, summary: 'An unexpected error in the agent.' },
} as const;

export type AgentErrorCode = keyof typeof agentErrors;

export class AgentError extends Error {
  constructor(readonly code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
  }
}

// Any thrown value becomes an AgentError, keeping what the code already said.
export function toAgentError(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    return new AgentError('IO_ERROR', e.message, { cause: err });
  }
  return new AgentError('INTERNAL', e?.message ?? String(err), { cause: err });
}
