import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const APP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REPOSITORY = path.join(APP, 'dist/engine/model-repository.js');
const MODELS = path.join(APP, 'models');

// Variables by which onnxruntime recognises a CI run and stays quiet on its own; the child runs without them,
// as a service in production would.
const CI_VARIABLES = [
  'CI',
  'GITHUB_ACTIONS',
  'GITLAB_CI',
  'CIRCLECI',
  'TF_BUILD',
  'JENKINS_URL',
  'BUILDKITE',
];

describe("onnxruntime's own telemetry", () => {
  it('is off in a process that loads models through the repository, unless the operator set it', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'regatta-ort-home-'));
    try {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home };
      for (const name of CI_VARIABLES) delete env[name];
      const script = `
        const { ModelRepository, onnxruntimeTelemetry } = await import(${JSON.stringify(REPOSITORY)});
        await ModelRepository.load(${JSON.stringify(MODELS)});
        process.stdout.write(JSON.stringify({ pid: process.pid, telemetry: onnxruntimeTelemetry(),
          variable: process.env.ORT_DISABLE_TELEMETRY }));
      `;
      const run = (extra: NodeJS.ProcessEnv = {}) => {
        const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
          env: { ...env, ...extra },
          encoding: 'utf8',
        });
        expect(child.stderr).toBe('');
        return JSON.parse(child.stdout) as { pid: number; telemetry: string; variable?: string };
      };

      const quiet = run();
      expect(quiet).toMatchObject({ telemetry: 'off', variable: '1' });
      // What onnxruntime's telemetry leaves when it runs: a debug log per process and a device-id store.
      expect(existsSync(path.join(tmpdir(), `mat-debug-${quiet.pid}.log`))).toBe(false);
      expect(existsSync(path.join(home, '.cache/Microsoft'))).toBe(false);

      // An operator's own choice stands (only read back here: the child is not left to send anything).
      expect(run({ ORT_DISABLE_TELEMETRY: '1' })).toMatchObject({ telemetry: 'off', variable: '1' });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
