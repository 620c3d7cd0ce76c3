import { describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { DistinctCounter, UserSketch } from './distinct-users.js';

function counterOf(keys: Iterable<string>): DistinctCounter {
  const counter = new DistinctCounter();
  for (const key of keys) counter.add(key);
  return counter;
}

const users = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `user-${from + i}`);

describe(DistinctCounter.name, () => {
  describe('count', () => {
    it('counts small populations exactly, repeats once', () => {
      const counter = counterOf([...users(0, 40), ...users(0, 40), ...users(20, 60)]);
      expect(counter.count()).toBe(60);
      expect(counter.toJSON()).toHaveProperty('exact');
    });

    it('estimates large populations within 5% in 2 KiB', () => {
      const counter = counterOf(users(0, 20_000));
      const sketch = counter.toJSON();
      expect(sketch).toHaveProperty('hll');
      expect(Math.abs(counter.count() - 20_000) / 20_000).toBeLessThan(0.05);
      expect(counterOf(users(0, 500)).count()).toBeGreaterThan(480);
      expect(counterOf(users(0, 500)).count()).toBeLessThan(520);
    });
  });

  describe('merge', () => {
    it('counts the union of overlapping populations, not their sum', () => {
      const a = counterOf(users(0, 6000));
      const b = counterOf(users(3000, 9000));
      a.merge(b);
      expect(Math.abs(a.count() - 9000) / 9000).toBeLessThan(0.05);
    });

    it('stays exact while the union is small', () => {
      const a = counterOf(users(0, 10));
      a.merge(counterOf(users(5, 20)));
      expect(a.count()).toBe(20);
    });

    it('merges an exact set into a sketch', () => {
      const a = counterOf(users(0, 5000));
      const before = a.count();
      a.merge(counterOf(users(0, 10)));
      expect(a.count()).toBe(before);
    });
  });

  describe('toJSON / fromJSON', () => {
    it('round-trips both forms through the wire schema', () => {
      for (const counter of [counterOf(users(0, 30)), counterOf(users(0, 3000))]) {
        const wire = UserSketch.parse(JSON.parse(JSON.stringify(counter.toJSON())));
        expect(DistinctCounter.fromJSON(wire).count()).toBe(counter.count());
      }
    });

    it('rejects registers that do not match the precision with INVALID_ARGUMENT', () => {
      const wire = counterOf(users(0, 3000)).toJSON();
      if (!('hll' in wire)) throw new Error('expected a sketch');
      expect(() => DistinctCounter.fromJSON({ ...wire, precision: 12 })).toThrow(RegattaError);
      expect(() => DistinctCounter.fromJSON({ hll: 'not deflate', precision: 11 })).toThrow(
        /deflated base64/,
      );
    });

    it('rejects merging sketches of different precision', () => {
      const a = new DistinctCounter({ precision: 10, exactLimit: 0 });
      a.add('x');
      const b = new DistinctCounter({ precision: 11, exactLimit: 0 });
      b.add('y');
      expect(() => a.merge(b)).toThrow(/precision 11 and 10/);
    });
  });
});
