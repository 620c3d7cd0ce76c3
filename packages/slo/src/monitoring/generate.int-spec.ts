import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MONITORING_DIR, repositoryRoot, staleMonitoringFiles, writeMonitoringFiles } from './files.js';

// What `generate` and `generate --check` rely on: the committed files match the definitions, and every kind
// of drift (edited, missing, orphaned file) is reported and repaired.

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'regatta-slo-gen-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe(staleMonitoringFiles.name, () => {
  it('finds the committed monitoring files up to date (else run `pnpm --filter @regatta/slo generate`)', async () => {
    expect(await staleMonitoringFiles(repositoryRoot())).toEqual([]);
  });

  it('reports edited, missing and orphaned files, and writing repairs all of them', async () => {
    const written = await writeMonitoringFiles(root);
    expect(written).toContain('prometheus/prometheus.yml');
    expect(await staleMonitoringFiles(root)).toEqual([]);

    const dir = path.join(root, MONITORING_DIR);
    await appendFile(path.join(dir, 'prometheus/rules/slo-api-availability.yml'), '# hand edit\n');
    await rm(path.join(dir, 'grafana/dashboards/regatta-slo.json'));
    await writeFile(path.join(dir, 'prometheus/rules/old-slo.yml'), 'groups: []\n');
    expect(await staleMonitoringFiles(root)).toEqual([
      'grafana/dashboards/regatta-slo.json',
      'prometheus/rules/old-slo.yml',
      'prometheus/rules/slo-api-availability.yml',
    ]);

    await writeMonitoringFiles(root);
    expect(await staleMonitoringFiles(root)).toEqual([]);
    expect(await readFile(path.join(dir, 'prometheus/rules/slo-api-availability.yml'), 'utf8')).not.toContain(
      'hand edit',
    );
  });
});
