// What route authors use: decorators for auth scopes, schemas and deadlines; the caller of a
// request; calls to services with breakers and retries; server-sent event streams.
export { Caller, ownedBy, signalOf } from './caller.js';
export { STREAM_DONE, sendEventStream } from './event-stream.js';
export {
  Deadline,
  Public,
  type RouteEdge,
  type RouteSchemaSpec,
  Schema,
  Scopes,
  SystemRoute,
  replyJsonSchema,
  requestJsonSchema,
} from './route-meta.js';
export { Downstream } from '../resilience/downstream.js';
export { type Principal, SCOPES, type Scope } from '../auth/scopes.js';
