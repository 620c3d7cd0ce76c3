/**
 * Default price of one vCPU-second in USD: AWS Fargate on-demand, Linux/x86, us-east-1, $0.04048 per vCPU-hour
 * (AWS Fargate pricing page) / 3600 s = $0.0000112444 per vCPU-second. Memory is not priced: Regatta's
 * services are CPU-bound and the decision cost model charges CPU only. Override it per deployment with the
 * price of the hardware the fleet actually runs on.
 */
export const DEFAULT_VCPU_SECOND_USD = 0.04048 / 3600;

/** Compute cost of `cpuSeconds` of CPU at `vcpuSecondUsd` per vCPU-second. */
export function computeCostUsd(cpuSeconds: number, vcpuSecondUsd = DEFAULT_VCPU_SECOND_USD): number {
  return cpuSeconds * vcpuSecondUsd;
}
