export * from './types.js';
export { lbNodePriorities } from './common.js';
export { validateLbInput, assertValidLbInput } from './validate.js';
export { renderHaproxy } from './haproxy.js';
export { renderNginx } from './nginx.js';
export { renderKeepalived, renderKeepalivedCheckScript, KEEPALIVED_SCRIPT_NAME } from './keepalived.js';
export { LB_CHECKS, renderLbFiles, type LbFile } from './files.js';
