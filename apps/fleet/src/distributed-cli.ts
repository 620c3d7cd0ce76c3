#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { DistributedFleet, FLEET_SERVICES, type FleetService } from './distributed.js';

const { values } = parseArgs({
  options: {
    replicas: { type: 'string', multiple: true, default: [] },
    port: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`regatta-fleet: run each service as its own process over NATS

  --replicas <service>=<n>   replicas of one service (repeatable), e.g. --replicas inference=2
  --port <n>                 gateway HTTP port (default 8080)

  Reads NATS_URL, REDIS_URL, DATABASE_URL and every service variable from the environment.
`);
  process.exit(0);
}

const replicas: Partial<Record<FleetService, number>> = {};
for (const spec of values.replicas) {
  const [name, n] = spec.split('=');
  if (!FLEET_SERVICES.includes(name as FleetService) || !Number.isInteger(Number(n)) || Number(n) < 1) {
    process.stderr.write(`--replicas ${spec}: expected <${FLEET_SERVICES.join('|')}>=<n >= 1>\n`);
    process.exit(2);
  }
  replicas[name as FleetService] = Number(n);
}

const fleet = await DistributedFleet.start({ replicas, gatewayPort: Number(values.port ?? 8080) });
process.stdout.write(
  `Regatta fleet ready at ${fleet.gatewayUrl}: ${fleet.processes.map((p) => `${p.service}#${p.index} (pid ${p.child.pid})`).join(', ')}\n`,
);
const stop = () => {
  process.stdout.write('stopping fleet...\n');
  void fleet.stop().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
