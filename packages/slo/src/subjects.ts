import { type ServiceName, contract } from '@regatta/contracts';
import { z } from 'zod';
import { SloSnapshot } from './snapshot.js';

/**
 * `<service>.slo.v1`: every replica answers with its SLO window as a mergeable snapshot. The contract lives beside
 * the snapshot schema it carries; the gateway merges every service's snapshot for `GET /v1/slo`.
 */
export function sloContract(service: ServiceName) {
  const subject = `${service === 'llm-proxy' ? 'llm' : service}.slo.v1`;
  return contract({ subject, request: z.object({}).strict(), reply: SloSnapshot, broadcast: true });
}

export const SLO_SNAPSHOT = {
  gateway: sloContract('gateway'),
  inference: sloContract('inference'),
  features: sloContract('features'),
  'llm-proxy': sloContract('llm-proxy'),
} as const;
