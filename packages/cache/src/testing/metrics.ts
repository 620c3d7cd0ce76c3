import { getRegistry } from '@regatta/telemetry';
import type { CacheLogger } from '../redis.js';

/** The current value of one labelled series of a counter in the process registry (0 if absent). */
export async function counterValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = getRegistry().getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const series = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return series?.value ?? 0;
}

/** A logger that records messages by level, for asserting what was logged and how often. */
export function recordingLogger(): CacheLogger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  return {
    lines,
    info: (_obj, msg) => lines.push({ level: 'info', msg }),
    warn: (_obj, msg) => lines.push({ level: 'warn', msg }),
  };
}
