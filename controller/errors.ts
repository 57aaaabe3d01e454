// One registry of the controller's errors: code → CLI exit code, HTTP status (for the API to
// come), meaning. docs/errors.md lists the same codes; controller/errors.test.ts keeps them in sync.
export const controllerErrors = {
  SPEC_INVALID: { exit: 1, http: 400, summary: 'An inventory or task file does not load; every problem is listed with file, line and field, and nothing is sent.' },
  NO_CREDENTIALS: { exit: 1, http: 500, summary: 'The state folder has no fleet CA or controller certificate: run "muster init".' },
  LIMIT_INVALID: { exit: 1, http: 400, summary: 'A --limit is malformed or one of its terms matches no node; the term is named with the names, roles and label keys the inventory has.' },
  CONFIG_INVALID: { exit: 1, http: 400, summary: 'The controller config file (muster.yaml or $MUSTER_CONFIG) does not load; every problem is listed with file, line and field.' },
  NO_CLUSTER_CA: { exit: 1, http: 409, summary: 'The state folder has no cluster CA yet, so there is nothing to sign an admin certificate with: run "muster apply" first.' },
  UNKNOWN_NODE: { exit: 1, http: 404, summary: 'A node named on the command line is not in the inventory.' },
  NODE_UNREACHABLE: { exit: 1, http: 502, summary: 'An agent did not answer (connection refused, TLS refused, deadline passed); the node, address and cause are named.' },
  NODE_FAILED: { exit: 1, http: 502, summary: 'An agent answered and a task failed; the task, its error code and message are named.' },
  STORE_CONFLICT: { exit: 1, http: 409, summary: 'Another process changed the record first (a rollout paused or resumed elsewhere); read it again and retry.' },
  STORE_URL: { exit: 2, http: 400, summary: 'The --store address is neither sqlite nor an etcd:// list of endpoints.' },
  STORE_SCHEMA_NEWER: { exit: 1, http: 500, summary: 'The state database was written by a newer muster; this one does not downgrade it.' },
  ROLLOUT_REFUSED: { exit: 1, http: 409, summary: 'A rollout cannot start or go on safely (an etcd member unhealthy, quorum cannot lose one member); the reason is named and nothing was sent.' },
  ROLLOUT_INVALID: { exit: 1, http: 400, summary: 'A rollout option is malformed (--batch, --canary, --max-failed, --by); the option and what to give are named.' },
  ROLLOUT_NOT_FOUND: { exit: 1, http: 404, summary: 'No rollout with that id, or no earlier generation to undo to.' },
  ROLLOUT_LOCKED: { exit: 1, http: 409, summary: 'Another muster process is driving a rollout from this state folder; its pid, host and user are named. A lock left by a dead process on the same host is taken over.' },
  ROLLOUT_FAILED: { exit: 1, http: 200, summary: 'The rollout ended failed (nodes failed within the budget) or was aborted; the nodes and errors are named.' },
  ROLLOUT_PAUSED: { exit: 3, http: 200, summary: 'Not an error: the rollout paused (canary, error budget spent, an etcd or control-plane failure, or an operator); "muster rollout resume" goes on.' },
  CONFIRMATION_REQUIRED: { exit: 1, http: 400, summary: 'muster rollout asks before changing nodes; without a terminal to answer, give --yes.' },
  CHANGES_PENDING: { exit: 2, http: 200, summary: 'Not an error: muster plan found something to change.' },
  TOKEN_INVALID: { exit: 1, http: 401, summary: 'The bootstrap token is malformed, unknown or its secret is wrong; nothing was issued.' },
  TOKEN_EXPIRED: { exit: 1, http: 401, summary: 'The bootstrap token has expired; nothing was issued.' },
  TOKEN_USED: { exit: 1, http: 401, summary: 'The bootstrap token has no uses left; nothing was issued.' },
  TOKEN_SCOPE: { exit: 1, http: 403, summary: 'The bootstrap token is scoped to another node name or to labels this node lacks; nothing was issued.' },
  CSR_INVALID: { exit: 1, http: 400, summary: 'The certificate request does not parse, its signature does not verify or its key is not ECDSA P-256 or RSA; nothing was issued.' },
  CSR_NOT_ALLOWED: { exit: 1, http: 403, summary: 'The certificate request names another node, a role other than agent, or names and addresses the inventory does not give the node; nothing was issued.' },
  ENROLL_UNKNOWN_NODE: { exit: 1, http: 403, summary: 'The joining node is not in the inventory and the approval policy is off; nothing was issued.' },
  ENROLL_DENIED: { exit: 1, http: 403, summary: 'An operator denied this node\'s join request; nothing was issued.' },
  CERT_REVOKED: { exit: 1, http: 403, summary: 'The caller\'s fleet certificate is on the revocation list.' },
  NOT_AUTHENTICATED: { exit: 1, http: 401, summary: 'The call needs a fleet certificate with the right role (Renew: the agent\'s own).' },
  RATE_LIMITED: { exit: 1, http: 429, summary: 'Too many join requests at once from this address or in total; retry after a moment.' },
  NO_PENDING: { exit: 1, http: 404, summary: 'No join request is waiting for this node name.' },
  NO_CERTIFICATE: { exit: 1, http: 404, summary: 'No fleet certificate was issued to this name (nothing to revoke).' },
  NO_TOKEN: { exit: 1, http: 404, summary: 'No bootstrap token has this id (muster token delete); `muster token list` shows them.' },
  ROLE_REFUSED: { exit: 1, http: 403, summary: 'The client certificate\'s role may not make this call at the controller API: a reader only reads; agent certificates are refused.' },
  NOT_LEADER: { exit: 1, http: 409, summary: 'This controller is a follower: only the leader starts applies and rollouts and resumes them; the leader\'s id and URL are named (the CLI follows it once).' },
  REQUEST_INVALID: { exit: 1, http: 400, summary: 'An API request does not parse or has a wrong field (bad JSON, an unknown field, a limit out of range); the field is named and nothing changed.' },
  REQUEST_TOO_LARGE: { exit: 1, http: 413, summary: 'An API request body is over the limit (64 KiB); nothing changed.' },
  ROUTE_NOT_FOUND: { exit: 1, http: 404, summary: 'The controller API has no such route (docs/controller.md lists them).' },
  JOB_NOT_FOUND: { exit: 1, http: 404, summary: 'No job with that id on this controller (jobs are kept in memory until it restarts).' },
  CONTROLLER_UNREACHABLE: { exit: 1, http: 502, summary: 'The CLI could not reach the controller named by --controller (refused, TLS refused, no answer); the URL and the cause are named.' },
  INTERNAL: { exit: 1, http: 500, summary: 'An unexpected error inside the controller; the message says what failed.' },
} as const;

export type ControllerErrorCode = keyof typeof controllerErrors;

export class ControllerError extends Error {
  constructor(readonly code: ControllerErrorCode, message: string) {
    super(message);
    this.name = 'ControllerError';
  }
}
