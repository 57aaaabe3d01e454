// prom-client's single default-metric collectors (lib/metrics/*.js) ship without types.
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  const collector: (registry: Registry, config: object) => void;
  export default collector;
}
