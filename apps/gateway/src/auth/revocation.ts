import { GATEWAY, RegattaError } from '@regatta/contracts';
import { type RpcClient } from '@regatta/transport';

/**
 * Asks every gateway process on the bus to forget a revoked key (gateway.keys.revoked.v1, broadcast) and
 * resolves with how many answered within `windowMs`. Rejects when nobody can be reached.
 */
export async function announceKeyRevocation(
  client: RpcClient,
  keyId: string,
  windowMs: number,
): Promise<number> {
  const replies = await client.gather(GATEWAY.keyRevoked, { key_id: keyId }, { windowMs });
  return replies.filter((r) => !(r instanceof RegattaError)).length;
}
