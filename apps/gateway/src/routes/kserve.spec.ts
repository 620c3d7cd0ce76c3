import { describe, expect, it } from '@jest/globals';
import { type ModelsReply, RegattaError } from '@regatta/contracts';
import {
  flattenData,
  modelParam,
  parseInferRequest,
  toInferResponse,
  toModelMetadata,
  toPredictRequest,
  versionParam,
} from './kserve.js';

function thrown(fn: () => unknown): RegattaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RegattaError);
    return err as RegattaError;
  }
  throw new Error('expected a RegattaError');
}

describe('KServe v2 translation', () => {
  describe(flattenData.name, () => {
    it('flattens nested data row-major and keeps flat data as is', () => {
      expect(
        flattenData('x', [
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ).toEqual([1, 2, 3, 4, 5, 6]);
      expect(flattenData('x', [1, 2, 3])).toEqual([1, 2, 3]);
    });

    it('names the input and position of a value that is not a number', () => {
      expect(
        thrown(() =>
          flattenData('x', [
            [1, 2],
            [3, 'four'],
          ]),
        ).message,
      ).toBe(`input 'x' value 3 is "four"; expected a number`);
      expect(thrown(() => flattenData('x', [1, null])).message).toContain(
        'value 1 is null (NaN and infinities are not JSON numbers)',
      );
    });
  });

  describe(parseInferRequest.name, () => {
    it('says what is missing from a request', () => {
      expect(thrown(() => parseInferRequest({ inputs: [{ name: 'x', shape: [1] }] })).message).toBe(
        'invalid inference request: inputs.0.datatype: Invalid input: expected string, received undefined; inputs.0.data: Invalid input: expected array, received undefined',
      );
      expect(thrown(() => parseInferRequest([])).message).toBe(
        'the request body must be a JSON object with "inputs"',
      );
    });
  });

  describe(toPredictRequest.name, () => {
    it('sends named tensors, requested outputs, the version pin and the cache opt-out', () => {
      const request = parseInferRequest({
        id: 'r1',
        parameters: { cache: false },
        inputs: [
          {
            name: 'features',
            shape: [2, 2],
            datatype: 'FP32',
            data: [
              [1, 2],
              [3, 4],
            ],
          },
        ],
        outputs: [{ name: 'score', parameters: { binary_data: false } }],
      });
      expect(toPredictRequest('fraud', '1', request)).toEqual({
        model: 'fraud',
        version: '1',
        inputs: [{ name: 'features', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }],
        outputs: ['score'],
        cache: false,
      });
    });

    it('refuses string tensors and the binary extension with a message a client can act on', () => {
      const bytes = parseInferRequest({
        inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['a'] }],
      });
      expect(thrown(() => toPredictRequest('m', undefined, bytes)).message).toMatch(
        /^input 'text' has datatype BYTES; the models take numeric tensors \(FP16, FP32/,
      );
      const binary = parseInferRequest({
        inputs: [{ name: 'x', shape: [1], datatype: 'FP32', parameters: { binary_data_size: 4 }, data: [] }],
      });
      expect(thrown(() => toPredictRequest('m', undefined, binary)).message).toContain('binary_data=False');
    });
  });

  describe(toInferResponse.name, () => {
    it('answers each output as a flat tensor with its shape and datatype, echoing the id', () => {
      const response = toInferResponse(
        {
          model: 'fraud',
          version: '1',
          outputs: { score: [[0.1], [0.2]] },
          output_tensors: [{ name: 'score', datatype: 'FP32', shape: [2, 1] }],
          cache_hits: 0,
        },
        'r1',
      );
      expect(response).toEqual({
        model_name: 'fraud',
        model_version: '1',
        id: 'r1',
        outputs: [{ name: 'score', shape: [2, 1], datatype: 'FP32', data: [0.1, 0.2] }],
      });
    });

    it('describes outputs itself when a reply carries no tensor description', () => {
      const response = toInferResponse(
        { model: 'm', version: '2', outputs: { y: [[1, 2, 3]] }, cache_hits: 0 },
        undefined,
      );
      expect(response.outputs).toEqual([{ name: 'y', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }]);
      expect(response).not.toHaveProperty('id');
    });
  });

  describe(toModelMetadata.name, () => {
    const models: ModelsReply = {
      models: [
        {
          name: 'fraud',
          default_version: '2',
          versions: ['1', '2'].map((version) => ({
            version,
            ready: true,
            platform: 'onnxruntime_onnx',
            inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 15], features: ['a'] }],
            outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
          })),
        },
      ],
    };

    it('describes the default version with every version listed', () => {
      expect(toModelMetadata(models, undefined)).toEqual({
        name: 'fraud',
        versions: ['1', '2'],
        platform: 'onnxruntime_onnx',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 15] }],
        outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
      });
    });

    it('is NOT_FOUND for a version it was not given', () => {
      expect(thrown(() => toModelMetadata(models, '3')).code).toBe('NOT_FOUND');
    });
  });

  describe('path parameters', () => {
    it('accept model names and positive versions, and say what is wrong with others', () => {
      expect(modelParam('fraud-v2.onnx')).toBe('fraud-v2.onnx');
      expect(thrown(() => modelParam('../etc')).message).toBe(
        'model name "../etc": model names are letters, digits, _ . -',
      );
      expect(versionParam('12')).toBe('12');
      expect(thrown(() => versionParam('0')).message).toBe('model version "0" is not a positive integer');
    });
  });
});
