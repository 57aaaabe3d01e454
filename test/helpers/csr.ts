// The agent's CSR builder, for controller tests that need requests a node would send (or forge).
export { makeKeyAndCsr } from '../../agent/join/csr.js';
