// Jest runs in ESM mode (node --experimental-vm-modules); @swc/jest strips types per file.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/e2e'],
  testMatch: ['<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/e2e/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  testTimeout: 60000,
  setupFiles: ['<rootDir>/jest.setup.js'],
  // A directory per run (KILN_TEST_RUN_DIR) for the shared dockerd and the skip records; the
  // teardown prints what was skipped and why, after jest's summary, and stops that dockerd by PID.
  globalSetup: '<rootDir>/jest.global-setup.js',
  globalTeardown: '<rootDir>/jest.global-teardown.js',
};
