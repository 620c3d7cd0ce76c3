import { type z } from 'zod';

/** A request/reply contract: the subject and the schemas both sides validate with. */
export interface Contract<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  readonly subject: string;
  readonly request: Req;
  readonly reply: Res;
  /** For streaming subjects: the schema of each streamed chunk. */
  readonly chunk?: z.ZodType;
  /** Whether a caller may safely retry the request on another replica. */
  readonly idempotent: boolean;
  /** Every replica answers (no queue group); callers gather the replies with `RpcClient.gather`. */
  readonly broadcast: boolean;
}

export type RequestOf<C extends Contract> = z.input<C['request']>;
export type ParsedRequestOf<C extends Contract> = z.infer<C['request']>;
export type ReplyOf<C extends Contract> = z.infer<C['reply']>;

const SUBJECT = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+\.v[0-9]+$/;

/** Declares a contract; subjects are versioned (`<service>.<operation>.v<N>`). */
export function contract<Req extends z.ZodType, Res extends z.ZodType>(def: {
  subject: string;
  request: Req;
  reply: Res;
  chunk?: z.ZodType;
  idempotent?: boolean;
  broadcast?: boolean;
}): Contract<Req, Res> {
  if (!SUBJECT.test(def.subject)) throw new Error(`subject ${def.subject} is not <service>.<op>.v<N>`);
  return { idempotent: true, broadcast: false, ...def };
}
