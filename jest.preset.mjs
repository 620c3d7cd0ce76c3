// One jest setup for every package: ESM, sources compiled by swc, workspace packages
// resolved to their TypeScript sources so tests never need a prior build.
import path from 'node:path';

const root = path.dirname(new URL(import.meta.url).pathname);

// The inference package turns onnxruntime's telemetry off by setting ORT_DISABLE_TELEMETRY when it is
// imported. Under jest that assignment reaches only the test's sandboxed copy of the environment, not the one
// the native library reads, so test runs set it here, in the process that starts jest's workers.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/** Jest config for the package in `dir`; `kind` picks unit (`*.spec.ts`) or integration (`*.int-spec.ts`) tests. */
export function jestConfig(dir, kind = process.env.REGATTA_TEST_KIND ?? 'unit') {
  return {
    rootDir: dir,
    testEnvironment: 'node',
    testRegex: kind === 'int' ? '\\.int-spec\\.ts$' : '\\.spec\\.ts$',
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    extensionsToTreatAsEsm: ['.ts'],
    transform: {
      '^.+\\.ts$': [
        '@swc/jest',
        {
          jsc: {
            target: 'es2023',
            parser: { syntax: 'typescript', decorators: true },
            transform: { legacyDecorator: true, decoratorMetadata: true },
          },
          module: { type: 'es6' },
          sourceMaps: 'inline',
        },
      ],
    },
    moduleNameMapper: {
      '^@regatta/(gateway|inference|features|llm-proxy|fleet)$': path.join(root, 'apps/$1/src/index.ts'),
      '^@regatta/([a-z-]+)$': path.join(root, 'packages/$1/src/index.ts'),
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    reporters: ['default', path.join(root, 'tools/jest-tally-reporter.mjs')],
    setupFiles: [path.join(root, 'jest.setup.mjs')],
    testTimeout: kind === 'int' ? 60_000 : 10_000,
    maxWorkers: kind === 'int' ? 1 : '50%',
    // Integration tests start servers and child processes; one left open by a failed test must not keep
    // jest (and CI) waiting after the results are in.
    forceExit: kind === 'int',
  };
}
