// The API's request and reply types, taken from the contracts as types only: nothing of the
// contracts (nor zod) is bundled into a frontend that imports this client.
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  DecisionReply,
  DecisionRequest,
  ErrorCode,
  GetFeaturesReply,
  GetFeaturesRequest,
  INFERENCE,
  PredictReply,
  RequestOf,
  StoredDecision,
} from '@regatta/contracts';

export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  DecisionReply,
  DecisionRequest,
  ErrorCode,
  GetFeaturesReply,
  GetFeaturesRequest,
  PredictReply,
  StoredDecision,
};

/** The body of `POST /v1/predict/{model}`: the predict request without the model, which is in the path. */
export type PredictInput = Omit<RequestOf<typeof INFERENCE.predict>, 'model'>;

/** `GET /health`. */
export interface GatewayHealth {
  status: string;
  service: string;
  instance: string;
}
