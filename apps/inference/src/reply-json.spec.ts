import { describe, expect, it } from '@jest/globals';
import { PredictReply } from '@regatta/contracts';
import { type Prng, prng } from '@regatta/testing';
import { predictReplyJson } from './reply-json.js';

const ODD_NUMBERS = [0, -0, 1, -1, 0.1, 1e-7, 1.5e-300, 1e21, 123456789.125, -2.5e-8, Number.MIN_VALUE];
const NAMES = [
  'score',
  'probabilities',
  'label',
  'a"quote',
  'back\\slash',
  'tab\there',
  'ünïcödé',
  '\u2028',
  '😀',
];

function randomReply({ next, int, pick }: Prng): PredictReply {
  const rows = int(4);
  const outputs: Record<string, number[][]> = {};
  const tensors: { name: string; datatype: string; shape: number[] }[] = [];
  for (let o = 0, n = 1 + int(3); o < n; o++) {
    const name = pick(NAMES) + (o === 0 ? '' : String(o));
    const cols = 1 + int(3);
    outputs[name] = Array.from({ length: rows }, () =>
      Array.from({ length: cols }, () =>
        next() < 0.3 ? pick(ODD_NUMBERS) : Math.fround((next() - 0.5) * 10 ** Math.floor(next() * 12 - 6)),
      ),
    );
    tensors.push({ name, datatype: pick(['FP32', 'INT64']), shape: cols === 1 ? [rows] : [rows, cols] });
  }
  const model = pick(NAMES);
  const version = String(1 + int(9));
  return next() < 0.8
    ? { model, version, outputs, output_tensors: tensors, cache_hits: int(rows) }
    : { model, version, outputs, cache_hits: 0 };
}

describe(predictReplyJson.name, () => {
  it('writes what JSON.stringify writes, for 2,000 varied replies', () => {
    const random = prng(7);
    for (let i = 0; i < 2_000; i++) {
      const reply = randomReply(random);
      expect(predictReplyJson(reply)).toBe(JSON.stringify(reply));
    }
  });

  it('writes the one-row reply of the fraud model', () => {
    const reply: PredictReply = {
      model: 'fraud',
      version: '1',
      outputs: { score: [[0.11535590887069702]] },
      output_tensors: [{ name: 'score', datatype: 'FP32', shape: [1, 1] }],
      cache_hits: 0,
    };
    expect(predictReplyJson(reply)).toBe(
      '{"model":"fraud","version":"1","outputs":{"score":[[0.11535590887069702]]},' +
        '"output_tensors":[{"name":"score","datatype":"FP32","shape":[1,1]}],"cache_hits":0}',
    );
    expect(PredictReply.parse(JSON.parse(predictReplyJson(reply)))).toEqual(reply);
  });

  it('leaves values JSON cannot hold as numbers, and unknown tensor fields, to JSON.stringify', () => {
    for (const value of [Number.NaN, Infinity, -Infinity]) {
      const reply: PredictReply = { model: 'm', version: '1', outputs: { y: [[1, value]] }, cache_hits: 0 };
      expect(predictReplyJson(reply)).toBe(JSON.stringify(reply));
      expect(predictReplyJson(reply)).toContain('[1,null]');
    }
    const extra = {
      model: 'm',
      version: '1',
      outputs: { y: [[1]] },
      output_tensors: [{ name: 'y', datatype: 'FP32', shape: [1], note: 'kept' }],
      cache_hits: 0,
    };
    expect(predictReplyJson(extra)).toBe(JSON.stringify(extra));
  });

  it('writes empty outputs and empty row lists', () => {
    const shapes: Record<string, number[][]>[] = [{}, { y: [] }, { y: [[]] }];
    for (const outputs of shapes) {
      const reply: PredictReply = { model: 'm', version: '2', outputs, cache_hits: 0 };
      expect(predictReplyJson(reply)).toBe(JSON.stringify(reply));
    }
  });
});
