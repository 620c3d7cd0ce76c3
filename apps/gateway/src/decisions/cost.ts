import { getSloMonitor } from '@regatta/slo';
import { counter } from '@regatta/telemetry';

const decisionCpu = counter({
  name: 'decision_cpu_seconds_total',
  help: 'CPU seconds of this process attributed to decisions (all of its CPU in intervals with decisions)',
});

/**
 * The compute-cost model of a decision: every `intervalMs`, the CPU this process used is
 * attributed to the decisions made in that interval (nothing is attributed to idle intervals).
 * In embedded mode the process is the whole fleet; in distributed mode it is the gateway, and
 * the services' CPU is in their own `process_cpu_seconds_total`. The SLO monitor turns it into
 * dollars with the configured price per vCPU-second.
 */
export class DecisionCostMeter {
  private decisions = 0;
  private last = process.cpuUsage();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 5_000) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Counts one decision in the current interval. */
  onDecision(): void {
    this.decisions++;
  }

  /** Attributes the CPU used since the last sample to the decisions counted since then. */
  sample(): void {
    const usage = process.cpuUsage(this.last);
    this.last = process.cpuUsage();
    const n = this.decisions;
    this.decisions = 0;
    if (n === 0) return;
    const cpuSeconds = (usage.user + usage.system) / 1e6;
    decisionCpu.inc(cpuSeconds);
    getSloMonitor().recordDecision(cpuSeconds, n);
  }

  close(): void {
    this.sample();
    clearInterval(this.timer);
  }
}
