// The release version of both programs. A bundle carries the version it was built as (esbuild's
// define, from package.json or `npm run package -- --version`); run from source, this default,
// which common/version.test.ts keeps equal to package.json's.
declare const MUSTER_BUILD_VERSION: string | undefined;
export const VERSION: string = typeof MUSTER_BUILD_VERSION === 'string' ? MUSTER_BUILD_VERSION : '0.1.0';
