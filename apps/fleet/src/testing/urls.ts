import { serviceUrls } from '@regatta/testing';
import { type DistributedFleetOptions } from '../distributed.js';

/** Distributed mode in tests runs on the machine's real servers: NATS, Redis and Postgres. */
export function fleetUrls(): Pick<DistributedFleetOptions, 'natsUrl' | 'redisUrl' | 'databaseUrl'> {
  const urls = serviceUrls();
  return { natsUrl: urls.nats, redisUrl: urls.redis, databaseUrl: urls.database };
}
