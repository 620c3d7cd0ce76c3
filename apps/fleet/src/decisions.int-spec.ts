import { afterAll, beforeAll, describe } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DistributedFleet } from './distributed.js';
import { type EmbeddedFleet, startEmbeddedFleet } from './embedded.js';
import { decisionSuite } from './testing/decisions-suite.js';
import { fleetUrls } from './testing/urls.js';

const ADMIN_KEY = 'rg_decisions_test_admin_key_0123456789ab';

describe('decisions in the embedded fleet (one process, no servers)', () => {
  let fleet: EmbeddedFleet;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'regatta-embedded-'));

  beforeAll(async () => {
    fleet = await startEmbeddedFleet(
      { REGATTA_DATA_DIR: dataDir, REGATTA_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'warn' },
      0,
    );
  }, 120_000);
  afterAll(async () => {
    await fleet?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  decisionSuite(() => ({ gatewayUrl: fleet.url, adminKey: ADMIN_KEY }));
});

describe('decisions in the distributed fleet (NATS, Redis, Postgres)', () => {
  let fleet: DistributedFleet;

  beforeAll(async () => {
    fleet = await DistributedFleet.start({
      ...fleetUrls(),
      env: { LOG_LEVEL: 'warn', REGATTA_ADMIN_KEY: ADMIN_KEY },
    });
  }, 120_000);
  afterAll(async () => {
    await fleet?.stop();
  });

  decisionSuite(() => ({ gatewayUrl: fleet.gatewayUrl, adminKey: ADMIN_KEY }));
});
