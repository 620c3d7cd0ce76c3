import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { RegattaError } from '@regatta/contracts';
import { z } from 'zod';

// Distinct users per month in bounded memory. Small populations are counted exactly (a set of 48-bit hashes,
// so two users collide with negligible probability); past `exactLimit` users the set becomes a HyperLogLog
// with 2^precision one-byte registers: precision 11 costs 2 KiB and has a standard error of 1.04/sqrt(2048)
// = 2.3%. Both forms merge (set union, register max), so sketches from several services combine into the
// fleet's distinct count instead of a sum that would count a user once per service.

const HASH_BITS = 48;
const MAX_PRECISION = 16;
const MAX_EXACT = 4096;

/** A distinct-count sketch as it travels between services. */
export const UserSketch = z.union([
  z.object({
    exact: z
      .array(
        z
          .number()
          .int()
          .nonnegative()
          .max(2 ** HASH_BITS - 1),
      )
      .max(MAX_EXACT),
  }),
  z.object({ hll: z.string().max(200_000), precision: z.number().int().min(4).max(MAX_PRECISION) }),
]);
export type UserSketch = z.infer<typeof UserSketch>;

/** Options of a DistinctCounter. */
export interface DistinctCounterOptions {
  /** log2 of the HyperLogLog register count (4..16); default 11. */
  precision?: number;
  /** Distinct values counted exactly before switching to the sketch; default 64. */
  exactLimit?: number;
}

/** Counts distinct string keys exactly while few, approximately (HyperLogLog) after that. */
export class DistinctCounter {
  private readonly precision: number;
  private readonly exactLimit: number;
  private exact: Set<number> | undefined = new Set();
  private registers: Uint8Array | undefined;

  constructor(options: DistinctCounterOptions = {}) {
    this.precision = options.precision ?? 11;
    this.exactLimit = options.exactLimit ?? 64;
    if (!Number.isInteger(this.precision) || this.precision < 4 || this.precision > MAX_PRECISION) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `precision must be an integer in 4..16, got ${this.precision}`,
      );
    }
    if (!Number.isInteger(this.exactLimit) || this.exactLimit < 0 || this.exactLimit > MAX_EXACT) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `exactLimit must be an integer in 0..${MAX_EXACT}, got ${this.exactLimit}`,
      );
    }
  }

  /** Counts `key` once, however often it is added. */
  add(key: string): void {
    this.addHash(hash48(key));
  }

  /** The number of distinct keys added (exact below `exactLimit`, within a few percent above). */
  count(): number {
    if (this.exact) return this.exact.size;
    return estimate(this.registers!);
  }

  /** Adds every key counted by `other`. */
  merge(other: DistinctCounter): void {
    if (other.exact) {
      for (const hash of other.exact) this.addHash(hash);
      return;
    }
    if (other.precision !== this.precision) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `cannot merge user sketches of precision ${other.precision} and ${this.precision}`,
      );
    }
    const mine = this.toRegisters();
    const theirs = other.registers!;
    for (let i = 0; i < mine.length; i++) mine[i] = Math.max(mine[i]!, theirs[i]!);
  }

  /** The sketch in its wire form. */
  toJSON(): UserSketch {
    if (this.exact) return { exact: [...this.exact].sort((a, b) => a - b) };
    return { hll: deflateRawSync(this.registers!).toString('base64'), precision: this.precision };
  }

  /** Rebuilds a counter from its wire form; INVALID_ARGUMENT when the registers are unreadable. */
  static fromJSON(sketch: UserSketch, options: DistinctCounterOptions = {}): DistinctCounter {
    if ('exact' in sketch) {
      const counter = new DistinctCounter(options);
      for (const hash of sketch.exact) counter.addHash(hash);
      return counter;
    }
    const counter = new DistinctCounter({ ...options, precision: sketch.precision });
    let registers: Buffer;
    try {
      registers = inflateRawSync(Buffer.from(sketch.hll, 'base64'));
    } catch {
      throw new RegattaError('INVALID_ARGUMENT', 'user sketch registers are not valid deflated base64');
    }
    if (registers.length !== 2 ** sketch.precision) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `user sketch has ${registers.length} registers, precision ${sketch.precision} needs ${2 ** sketch.precision}`,
      );
    }
    counter.exact = undefined;
    counter.registers = new Uint8Array(registers);
    return counter;
  }

  private addHash(hash: number): void {
    if (this.exact) {
      this.exact.add(hash);
      if (this.exact.size <= this.exactLimit) return;
      this.toRegisters();
      return;
    }
    insert(this.registers!, this.precision, hash);
  }

  // Switches to (or returns) the register form, folding in every exactly counted hash.
  private toRegisters(): Uint8Array {
    if (this.registers) return this.registers;
    const registers = new Uint8Array(2 ** this.precision);
    for (const hash of this.exact ?? []) insert(registers, this.precision, hash);
    this.exact = undefined;
    this.registers = registers;
    return registers;
  }
}

/** The first 48 bits of SHA-1 of `key`, as a safe integer. */
function hash48(key: string): number {
  return createHash('sha1').update(key).digest().readUIntBE(0, 6);
}

function insert(registers: Uint8Array, precision: number, hash: number): void {
  const restBits = HASH_BITS - precision;
  const index = Math.floor(hash / 2 ** restBits);
  const rest = hash % 2 ** restBits;
  // rank = position of the leftmost 1 in the remaining bits (1-based), or restBits + 1 when all are zero.
  const rank = rest === 0 ? restBits + 1 : restBits - highestBit(rest);
  if (rank > registers[index]!) registers[index] = rank;
}

// Index of the highest set bit of a positive integer below 2^53 (clz32 works on 32 bits at a time).
function highestBit(value: number): number {
  const high = Math.floor(value / 2 ** 32);
  if (high > 0) return 32 + 31 - Math.clz32(high);
  return 31 - Math.clz32(value >>> 0);
}

function estimate(registers: Uint8Array): number {
  const m = registers.length;
  const alpha = 0.7213 / (1 + 1.079 / m);
  let sum = 0;
  let zeros = 0;
  for (const r of registers) {
    sum += 2 ** -r;
    if (r === 0) zeros++;
  }
  const raw = (alpha * m * m) / sum;
  // Linear counting is the better estimator while many registers are still empty.
  if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
  return Math.round(raw);
}
