// The version muster reports (muster --version); controller/version.test.ts keeps it equal to package.json's.
export const VERSION = '0.1.0';
