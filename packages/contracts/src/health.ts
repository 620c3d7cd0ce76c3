import { z } from 'zod';
import { contract } from './contract.js';

export const SERVICES = ['gateway', 'inference', 'features', 'llm-proxy'] as const;
export const ServiceName = z.enum(SERVICES);
export type ServiceName = z.infer<typeof ServiceName>;

export const CheckStatus = z.enum(['ok', 'degraded', 'down']);
export type CheckStatus = z.infer<typeof CheckStatus>;

/**
 * One dependency's state, e.g. `redis: {status: 'degraded', detail: 'in-process cache only'}`.
 * `gates_readiness: false` marks a dependency every replica shares (a database, another service): it is
 * reported, but being down does not take the replica out of traffic, since no other replica could do better.
 */
export const DependencyCheck = z.object({
  status: CheckStatus,
  detail: z.string().optional(),
  gates_readiness: z.boolean().optional(),
});
export type DependencyCheck = z.infer<typeof DependencyCheck>;

export const HealthReply = z.object({
  service: z.string(),
  instance: z.string(),
  status: CheckStatus,
  ready: z.boolean(),
  uptime_s: z.number(),
  version: z.string(),
  checks: z.record(z.string(), DependencyCheck),
});
export type HealthReply = z.infer<typeof HealthReply>;

export const HealthRequest = z.object({}).strict();

/** `<service>.health.v1` for every service of the fleet. */
export function healthContract(service: ServiceName) {
  const subject = `${service === 'llm-proxy' ? 'llm' : service}.health.v1`;
  return contract({ subject, request: HealthRequest, reply: HealthReply });
}

export const HEALTH = {
  gateway: healthContract('gateway'),
  inference: healthContract('inference'),
  features: healthContract('features'),
  'llm-proxy': healthContract('llm-proxy'),
} as const;

/** Worst of several statuses: any down -> down, any degraded -> degraded. */
export function worstStatus(statuses: Iterable<CheckStatus>): CheckStatus {
  let worst: CheckStatus = 'ok';
  for (const s of statuses) {
    if (s === 'down') return 'down';
    if (s === 'degraded') worst = 'degraded';
  }
  return worst;
}
