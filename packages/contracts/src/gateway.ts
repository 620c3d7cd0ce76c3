import { z } from 'zod';
import { contract } from './contract.js';

/**
 * The gateway's own NATS operations. `gateway.keys.revoked.v1` goes to every gateway replica (broadcast):
 * the replica that revoked an API key asks the others to forget it now rather than when their cache expires.
 */
export const GATEWAY = {
  keyRevoked: contract({
    subject: 'gateway.keys.revoked.v1',
    request: z.object({ key_id: z.string().min(1) }).strict(),
    /** How many cached entries of the key this replica dropped (0 when it had none). */
    reply: z.object({ forgotten: z.number().int().nonnegative() }),
    broadcast: true,
  }),
} as const;
