// One registry of the controller's errors: code → CLI exit code, HTTP status (for the API to
// come), meaning. docs/errors.md lists the same codes; controller/errors.test.ts keeps them in sync.
export const controllerErrors = {
  SPEC_INVALID: { exit: 1, http: 400, summary: 'An inventory or task file does not load; every problem is listed with file, line and field, and nothing is sent.' },
  NO_CREDENTIALS: { exit: 1, http: 500, summary: 'The state folder has no fleet CA or controller certificate: run "muster init".' },
  NO_CLUSTER_CA: { exit: 1, http: 409, summary: 'The state folder has no cluster CA yet, so there is nothing to sign an admin certificate with: run "muster apply" first.' },
  UNKNOWN_NODE: { exit: 1, http: 404, summary: 'A node named on the command line is not in the inventory.' },
  NODE_UNREACHABLE: { exit: 1, http: 502, summary: 'An agent did not answer (connection refused, TLS refused, deadline passed); the node, address and cause are named.' },
  NODE_FAILED: { exit: 1, http: 502, summary: 'An agent answered and a task failed; the task, its error code and message are named.' },
  CHANGES_PENDING: { exit: 2, http: 200, summary: 'Not an error: muster plan found something to change.' },
} as const;

export type ControllerErrorCode = keyof typeof controllerErrors;

export class ControllerError extends Error {
  constructor(readonly code: ControllerErrorCode, message: string) {
    super(message);
    this.name = 'ControllerError';
  }
}
