// muster --version: the one version both programs report (common/version.ts).
export { VERSION } from '../common/version.js';
