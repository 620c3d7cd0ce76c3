import { describe, expect, it } from '@jest/globals';
import { prng } from './prng.js';

describe(prng.name, () => {
  it('replays the same sequence for the same seed and another for another seed', () => {
    const take = (seed: number) => {
      const rng = prng(seed);
      return Array.from({ length: 8 }, () => rng.next());
    };
    expect(take(42)).toEqual(take(42));
    expect(take(42)).not.toEqual(take(43));
  });

  it('stays in range and reaches every value of a small range', () => {
    const rng = prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1_000; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
      seen.add(rng.int(5));
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(['a', 'b']).toContain(rng.pick(['a', 'b']));
  });
});
