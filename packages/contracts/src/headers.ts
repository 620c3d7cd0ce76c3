/** Message and HTTP header names shared by every hop of a request. */
export const HEADERS = {
  /** Milliseconds the receiver has left to answer, measured when the message was sent. */
  timeoutMs: 'regatta-timeout-ms',
  requestId: 'x-request-id',
  tenant: 'regatta-tenant',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** Set on a request that wants a stream of chunks instead of one reply. */
  stream: 'regatta-stream',
  responseTime: 'x-response-time-ms',
} as const;
