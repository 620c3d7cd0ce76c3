import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import onnxProto from 'onnx-proto';
import { InferenceEngine } from '../src/engine/index.js';
import { buildWideModel, wideModelMacsPerRow, writeWideModel } from './wide-model.js';

const SMALL = { inputs: 5, hidden: [16, 8], seed: 3 };

/** The forward pass in plain arithmetic, from the graph's own weights (float64; the model runs float32). */
function forward(bytes: Uint8Array, row: number[]): number {
  const graph = onnxProto.onnx.ModelProto.decode(bytes).graph!;
  const tensor = (name: string) => {
    const t = graph.initializer!.find((i) => i.name === name)!;
    const raw = t.rawData!;
    return {
      dims: t.dims!.map(Number),
      data: new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
    };
  };
  let x = row;
  const layers = graph.initializer!.filter((i) => i.name!.startsWith('w')).length;
  for (let l = 1; l <= layers; l++) {
    const w = tensor(`w${l}`);
    const b = tensor(`b${l}`);
    const [fanIn, fanOut] = w.dims as [number, number];
    const out = Array.from({ length: fanOut }, (_, j) => {
      let z = b.data[j]!;
      for (let i = 0; i < fanIn; i++) z += x[i]! * w.data[i * fanOut + j]!;
      return l === layers ? 1 / (1 + Math.exp(-z)) : Math.max(0, z);
    });
    x = out;
  }
  return x[0]!;
}

describe('the wide benchmark model', () => {
  let repo: string;
  beforeAll(async () => {
    repo = await mkdtemp(path.join(os.tmpdir(), 'regatta-wide-'));
  });
  afterAll(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it('is the same bytes for the same options, different bytes for another seed', () => {
    expect(Buffer.compare(buildWideModel(SMALL), buildWideModel(SMALL))).toBe(0);
    expect(Buffer.compare(buildWideModel(SMALL), buildWideModel({ ...SMALL, seed: 4 }))).not.toBe(0);
  });

  it('counts the multiply-adds of every layer', () => {
    expect(wideModelMacsPerRow(SMALL)).toBe(5 * 16 + 16 * 8 + 8 * 1);
    expect(wideModelMacsPerRow({ inputs: 15, hidden: [1024, 1024], seed: 7 })).toBe(
      15 * 1024 + 1024 * 1024 + 1024,
    );
  });

  it('is served from a model repository, scoring rows as its weights say', async () => {
    writeWideModel(repo, 'wide', SMALL);
    const rows = [
      [0.5, -1, 2, 0, 3],
      [1, 1, 1, 1, 1],
      [-2, 0.25, 4, -1, 0],
    ];
    const engine = new InferenceEngine();
    await engine.start({ modelRepository: repo, workers: 1 });
    try {
      expect(engine.models()[0]).toMatchObject({ name: 'wide', inputs: [{ name: 'features' }] });
      const served = await engine.predict({ model: 'wide', rows: Float32Array.from(rows.flat()) });
      expect(served.outputs.score).toHaveLength(rows.length);
      const bytes = buildWideModel(SMALL);
      served.outputs.score!.forEach(([score], i) => expect(score).toBeCloseTo(forward(bytes, rows[i]!), 5));
      // Not a constant: different rows give different scores.
      expect(new Set(served.outputs.score!.map(([s]) => s)).size).toBe(rows.length);
    } finally {
      await engine.close();
    }
  });
});
