// One registry of the controller's errors: code → CLI exit code, HTTP status (for the API to
// come), meaning. docs/errors.md lists the same codes; controller/errors.test.ts keeps them in sync.
export const controllerErrors = {
  SPEC_INVALID: { exit: 1, http: 400, summary: 'An inventory or task file does not load; every problem is listed with file, line and field, and nothing is sent.' },
  NO_CREDENTIALS: { exit: 1, http: 500, summary: 'The state folder has no fleet CA or controller certificate: run "muster init".' },
  LIMIT_INVALID: { exit: 1, http: 400, summary: 'A --limit is malformed or one of its terms matches no node; the term is named with the names, roles and label keys the inventory has.' },
  CONFIG_INVALID: { exit: 1, http: 400, summary: 'The controller config file (muster.yaml or $MUSTER_CONFIG) does not load; every problem is listed with file, line and field.' },
  UNKNOWN_NODE: { exit: 1, http: 404, summary: 'A node named on the command line is not in the inventory.' },
  NODE_UNREACHABLE: { exit: 1, http: 502, summary: 'An agent did not answer (connection refused, TLS refused, deadline passed); the node, address and cause are named.' },
  NODE_FAILED: { exit: 1, http: 502, summary: 'An agent answered and a task failed; the task, its error code and message are named.' },
  STORE_CONFLICT: { exit: 1, http: 409, summary: 'Another process changed the record first (a rollout paused or resumed elsewhere); read it again and retry.' },
  STORE_SCHEMA_NEWER: { exit: 1, http: 500, summary: 'The state database was written by a newer muster; this one does not downgrade it.' },
  ROLLOUT_REFUSED: { exit: 1, http: 409, summary: 'A rollout cannot start or go on safely (an etcd member unhealthy, quorum cannot lose one member); the reason is named and nothing was sent.' },
  ROLLOUT_INVALID: { exit: 1, http: 400, summary: 'A rollout option is malformed (--batch, --canary, --max-failed, --by); the option and what to give are named.' },
  ROLLOUT_NOT_FOUND: { exit: 1, http: 404, summary: 'No rollout with that id, or no earlier generation to undo to.' },
  CHANGES_PENDING: { exit: 2, http: 200, summary: 'Not an error: muster plan found something to change.' },
} as const;

export type ControllerErrorCode = keyof typeof controllerErrors;

export class ControllerError extends Error {
  constructor(readonly code: ControllerErrorCode, message: string) {
    super(message);
    this.name = 'ControllerError';
  }
}
