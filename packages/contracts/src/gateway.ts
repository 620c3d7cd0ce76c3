import { z } from 'zod';
import { contract } from './contract.js';

/**
 * The gateway's own NATS operations, both broadcast to every gateway replica. `gateway.keys.revoked.v1`: the
 * replica that revoked an API key asks the others to forget it now rather than when their cache expires.
 * `gateway.peers.v1`: each replica answers with its instance, so a replica can count the gateways on the bus.
 */
export const GATEWAY = {
  keyRevoked: contract({
    subject: 'gateway.keys.revoked.v1',
    request: z.object({ key_id: z.string().min(1) }).strict(),
    /** How many cached entries of the key this replica dropped (0 when it had none). */
    reply: z.object({ forgotten: z.number().int().nonnegative() }),
    broadcast: true,
  }),
  peers: contract({
    subject: 'gateway.peers.v1',
    request: z.object({}).strict(),
    /** The answering replica's instance (`host:pid:<random>`: one process may run several gateways). */
    reply: z.object({ instance: z.string().min(1) }),
    broadcast: true,
  }),
} as const;
