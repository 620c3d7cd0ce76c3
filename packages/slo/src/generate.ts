import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  MONITORING_DIR,
  repositoryRoot,
  staleMonitoringFiles,
  writeMonitoringFiles,
} from './monitoring/files.js';

// `pnpm --filter @regatta/slo generate` writes every monitoring file from the SLO definitions;
// `... generate --check` (CI) changes nothing and exits 1 when a committed file is stale.

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { check: { type: 'boolean', default: false }, root: { type: 'string' } },
    allowPositionals: false,
  });
  const root = values.root ? path.resolve(values.root) : repositoryRoot();
  if (values.check) {
    const stale = await staleMonitoringFiles(root);
    if (stale.length === 0) {
      console.log(`${MONITORING_DIR}: up to date`);
      return 0;
    }
    console.error(
      `${MONITORING_DIR}: ${stale.length} file(s) stale; run \`pnpm --filter @regatta/slo generate\`:`,
    );
    for (const file of stale) console.error(`  ${MONITORING_DIR}/${file}`);
    return 1;
  }
  const changed = await writeMonitoringFiles(root);
  for (const file of changed) console.log(`updated ${MONITORING_DIR}/${file}`);
  console.log(
    `${MONITORING_DIR}: ${changed.length === 0 ? 'already up to date' : `${changed.length} file(s) updated`}`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
