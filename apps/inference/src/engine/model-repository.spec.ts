import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';

import { buildOnnxModel, type ElemType } from '../../training/onnx-builder.js';
import { ModelRepository, ModelRepositoryError } from './model-repository.js';

const MODELS = fileURLToPath(new URL('../../models', import.meta.url));

/** A one-node model: `out = input + 1`, with the given input type and shape. */
function addOne(shape: (number | string)[], type: ElemType = 'float32'): Uint8Array {
  const cols = typeof shape[1] === 'number' ? shape[1] : 1;
  return buildOnnxModel({
    graphName: 'add_one',
    inputs: [{ name: 'x', type, shape }],
    outputs: [{ name: 'out', type, shape }],
    initializers:
      type === 'float32' ? [{ name: 'one', dims: [cols], data: new Float32Array(cols).fill(1) }] : [],
    nodes:
      type === 'float32'
        ? [{ op: 'Add', inputs: ['x', 'one'], outputs: ['out'] }]
        : [{ op: 'Identity', inputs: ['x'], outputs: ['out'] }],
  });
}

describe(ModelRepository.name, () => {
  let tmp: string;
  let fraudJson: Record<string, unknown>;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'regatta-repo-'));
    fraudJson = JSON.parse(await readFile(path.join(MODELS, 'fraud', '1', 'model.json'), 'utf8')) as Record<
      string,
      unknown
    >;
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  let n = 0;
  /** A fresh repository directory holding the given files (path → bytes or JSON). */
  async function repo(files: Record<string, Uint8Array | string | object>): Promise<string> {
    const dir = path.join(tmp, `repo-${n++}`);
    for (const [file, content] of Object.entries(files)) {
      const target = path.join(dir, file);
      await mkdir(path.dirname(target), { recursive: true });
      const bytes =
        content instanceof Uint8Array || typeof content === 'string'
          ? content
          : `${JSON.stringify(content, null, 2)}\n`;
      await writeFile(target, bytes);
    }
    return dir;
  }

  async function fraudRepo(edit: (json: Record<string, unknown>) => void): Promise<string> {
    const dir = await repo({});
    await cp(path.join(MODELS, 'fraud'), path.join(dir, 'fraud'), { recursive: true });
    const json = structuredClone(fraudJson);
    edit(json);
    await writeFile(path.join(dir, 'fraud', '1', 'model.json'), JSON.stringify(json));
    return dir;
  }

  async function problemsOf(dir: string): Promise<string[]> {
    const err = await ModelRepository.load(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelRepositoryError);
    return (err as ModelRepositoryError).problems;
  }

  describe('load', () => {
    it('loads the committed fraud model with its metadata', async () => {
      const repository = await ModelRepository.load(MODELS);
      const fraud = repository.get('fraud');
      expect(fraud).toMatchObject({
        name: 'fraud',
        version: 1,
        featureCount: 15,
        metadataSource: 'model.json',
      });
      expect(fraud.features).toHaveLength(15);
      expect(fraud.features?.[0]).toBe('amount');
      expect(fraud.features?.[14]).toBe('merchant_category_risk');
      expect(fraud.outputs).toEqual([{ name: 'score', shape: [-1, 1], datatype: 'FP32' }]);
      expect(fraud.thresholds).toEqual({ review: expect.any(Number), decline: expect.any(Number) });
    });

    it('refuses a model.json whose input name does not match the graph, saying so', async () => {
      const dir = await fraudRepo((json) => {
        (json.inputs as { name: string }[])[0]!.name = 'feature';
      });
      expect(await problemsOf(dir)).toEqual([
        "fraud/1: model.json declares inputs ['feature'] but the ONNX graph's inputs are ['features']",
      ]);
    });

    it('refuses a model.json whose shape or feature list disagrees with the graph', async () => {
      const shape = await fraudRepo((json) => {
        (json.inputs as { shape: number[] }[])[0]!.shape = [-1, 14];
      });
      expect(await problemsOf(shape)).toEqual([
        "fraud/1: model.json input 'features' has shape [-1, 14] but the ONNX graph has [-1, 15]",
      ]);
      const features = await fraudRepo((json) => {
        (json.inputs as { features: string[] }[])[0]!.features.pop();
      });
      expect(await problemsOf(features)).toEqual([
        "fraud/1: model.json input 'features' names 14 features but its shape has 15 columns",
      ]);
    });

    it('refuses a model.json that declares an output the graph lacks or the wrong type', async () => {
      const output = await fraudRepo((json) => {
        (json.outputs as { name: string }[])[0]!.name = 'probability';
      });
      expect(await problemsOf(output)).toEqual([
        "fraud/1: model.json declares output 'probability' but the ONNX graph's outputs are ['score']",
      ]);
      const type = await fraudRepo((json) => {
        (json.outputs as { datatype: string }[])[0]!.datatype = 'FP64';
      });
      expect(await problemsOf(type)).toEqual([
        "fraud/1: model.json output 'score' is FP64 but the ONNX graph has FP32",
      ]);
    });

    it('refuses malformed model.json files with the field at fault', async () => {
      const badType = await fraudRepo((json) => {
        (json.inputs as { datatype: string }[])[0]!.datatype = 'FLOAT';
      });
      const [problem] = await problemsOf(badType);
      expect(problem).toMatch(/^fraud\/1: model\.json is invalid: inputs\.0\.datatype: /);

      const wrongName = await fraudRepo((json) => {
        json.name = 'fraud-v2';
      });
      expect(await problemsOf(wrongName)).toEqual([
        "fraud/1: model.json names the model 'fraud-v2' but it sits in directory 'fraud'",
      ]);

      const notJson = await repo({ 'm/1/model.onnx': addOne(['n', 2]), 'm/1/model.json': '{ "name": ' });
      expect((await problemsOf(notJson))[0]).toMatch(/^m\/1: model\.json is not valid JSON/);
    });

    it('lists every problem of every model at once', async () => {
      const dir = await repo({
        'a/1/model.onnx': new Uint8Array([1, 2, 3, 4]),
        'b/1/model.json': { name: 'b', version: 1 },
        'c/1/model.onnx': addOne([1, 2]),
        'd/README.md': 'no versions here',
      });
      const problems = await problemsOf(dir);
      expect(problems).toHaveLength(4);
      expect(problems[0]).toMatch(/^a\/1: model\.onnx cannot be loaded: /);
      expect(problems[1]).toBe('b/1: model.onnx is missing');
      expect(problems[2]).toBe(
        "c/1: input 'x' has a fixed leading dimension 1; the batch dimension must be dynamic",
      );
      expect(problems[3]).toBe('d: no version directories (expected d/<n>/model.onnx)');
    });

    it('refuses a model whose inputs are not float32', async () => {
      const dir = await repo({ 'ints/1/model.onnx': addOne(['n', 2], 'int64') });
      expect(await problemsOf(dir)).toEqual([
        "ints/1: input 'x' is INT64; only FP32 (float32) inputs are served",
      ]);
    });

    it('serves a user model without model.json, taking names and shapes from the graph', async () => {
      const dir = await repo({ 'user/1/model.onnx': addOne(['batch', 4]) });
      const model = (await ModelRepository.load(dir)).get('user');
      expect(model).toMatchObject({
        metadataSource: 'graph',
        featureCount: 4,
        features: undefined,
        inputs: [{ spec: { name: 'x', shape: [-1, 4], datatype: 'FP32' }, cols: 4, rank: 2 }],
        outputs: [{ name: 'out', shape: [-1, 4], datatype: 'FP32' }],
      });
    });

    it('refuses an empty repository', async () => {
      const dir = await repo({ 'README.md': 'nothing' });
      expect(await problemsOf(dir)).toEqual(['no models found (expected <model>/<n>/model.onnx)']);
    });
  });

  describe('get', () => {
    it('serves the newest version by default, any loaded version on request, and a pinned default', async () => {
      const files = {
        'm/1/model.onnx': addOne(['n', 2]),
        'm/2/model.onnx': addOne(['n', 3]),
        'm/10/model.onnx': addOne(['n', 4]),
      };
      const dir = await repo(files);
      const repository = await ModelRepository.load(dir);
      expect(repository.get('m').version).toBe(10);
      expect(repository.get('m', 2).featureCount).toBe(3);
      expect(repository.versions('m')).toEqual([1, 2, 10]);

      const pinned = await ModelRepository.load(dir, { defaultVersions: { m: 2 } });
      expect(pinned.get('m').version).toBe(2);

      const err = await ModelRepository.load(dir, { defaultVersions: { m: 3 } }).catch((e: unknown) => e);
      expect((err as ModelRepositoryError).problems).toEqual([
        'm: pinned default version 3 is not in the repository',
      ]);
    });

    it('answers NOT_FOUND naming the unknown model or version', async () => {
      const repository = await ModelRepository.load(await repo({ 'm/1/model.onnx': addOne(['n', 2]) }));
      const unknownModel = (() => {
        try {
          return repository.get('fruad');
        } catch (e) {
          return e;
        }
      })();
      expect(unknownModel).toBeInstanceOf(RegattaError);
      expect(unknownModel).toMatchObject({
        code: 'NOT_FOUND',
        message: "model 'fruad' is not served (served: m)",
      });
      expect(() => repository.get('m', 7)).toThrow("model 'm' has no version 7 (served versions: 1)");
    });
  });
});
