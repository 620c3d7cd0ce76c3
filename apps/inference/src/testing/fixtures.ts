import { expect } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { Prng } from '../../training/prng.js';

/** Plausible fraud-model rows (the model's 15 inputs, in order) from a seeded generator. */
export function fraudRows(count: number, seed: number): number[][] {
  const rng = new Prng(seed);
  return Array.from({ length: count }, () => [
    Math.round(rng.logNormal(3.5, 1) * 100) / 100,
    rng.int(24),
    rng.int(2),
    rng.bernoulli(0.1) ? 1 : 0,
    rng.bernoulli(0.1) ? 1 : 0,
    rng.poisson(0.2),
    rng.poisson(2),
    Math.round(rng.logNormal(3.5, 0.7) * 100) / 100,
    Math.round(rng.logNormal(3, 0.7) * 100) / 100,
    rng.int(3000),
    rng.poisson(0.1),
    1 + rng.poisson(1),
    rng.between(0, 0.05),
    Math.round(rng.logNormal(4, 0.6) * 100) / 100,
    rng.uniform(),
  ]);
}

/** The RegattaError a call that must fail rejects with (the test fails if it resolves or throws anything else). */
export async function failure(promise: Promise<unknown>): Promise<RegattaError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegattaError);
  return err as RegattaError;
}
