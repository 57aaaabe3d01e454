// The enrollment service's port (Join, Renew, GetTrust); its own module so the CLI's flag
// defaults do not load the enrollment code.
export const DEFAULT_ENROLL_PORT = 7450;
