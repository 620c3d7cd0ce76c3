/** One decile of a calibration table: rows sorted by score, split into ten equal-count bins. */
export interface CalibrationBin {
  decile: number;
  count: number;
  minScore: number;
  maxScore: number;
  meanScore: number;
  fraudRate: number;
}

/** Precision and recall when flagging every row scoring at or above `threshold`. */
export interface ThresholdStats {
  threshold: number;
  precision: number;
  recall: number;
  flaggedRate: number;
}

/** Area under the ROC curve by the rank-sum formula; tied scores share their average rank. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives += 1;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean binary cross-entropy, scores clipped to [1e-7, 1 − 1e-7]. */
export function logLoss(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = Math.min(Math.max(scores[i]!, 1e-7), 1 - 1e-7);
    sum += labels[i] === 1 ? -Math.log(p) : -Math.log(1 - p);
  }
  return sum / scores.length;
}

/** Ten equal-count bins by ascending score, with mean score against observed fraud rate. */
export function calibrationDeciles(scores: ArrayLike<number>, labels: ArrayLike<number>): CalibrationBin[] {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  const bins: CalibrationBin[] = [];
  for (let d = 0; d < 10; d++) {
    const start = Math.floor((d * n) / 10);
    const end = Math.floor(((d + 1) * n) / 10);
    let sumScore = 0;
    let frauds = 0;
    for (let k = start; k < end; k++) {
      sumScore += scores[order[k]!]!;
      frauds += labels[order[k]!] === 1 ? 1 : 0;
    }
    const count = end - start;
    bins.push({
      decile: d + 1,
      count,
      minScore: scores[order[start]!]!,
      maxScore: scores[order[end - 1]!]!,
      meanScore: sumScore / count,
      fraudRate: frauds / count,
    });
  }
  return bins;
}

/** Precision, recall and flagged share at one threshold. */
export function statsAt(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold: number,
): ThresholdStats {
  let flagged = 0;
  let truePositives = 0;
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    const isFraud = labels[i] === 1;
    if (isFraud) positives += 1;
    if (scores[i]! >= threshold) {
      flagged += 1;
      if (isFraud) truePositives += 1;
    }
  }
  return {
    threshold,
    precision: flagged === 0 ? 0 : truePositives / flagged,
    recall: positives === 0 ? 0 : truePositives / positives,
    flaggedRate: flagged / scores.length,
  };
}

/**
 * The lowest threshold on a 0.01 grid whose precision reaches `minPrecision` (so as many frauds as
 * possible are caught at that precision); the highest grid point if none does.
 */
export function thresholdForPrecision(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  minPrecision: number,
): ThresholdStats {
  let last = statsAt(scores, labels, 0.99);
  for (let k = 1; k <= 99; k++) {
    const stats = statsAt(scores, labels, k / 100);
    if (stats.flaggedRate > 0 && stats.precision >= minPrecision) return stats;
    last = stats;
  }
  return last;
}
