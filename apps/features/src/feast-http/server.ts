import { type AddressInfo } from 'node:net';
import { type DependencyCheck, RegattaError, worstStatus } from '@regatta/contracts';
import { encodeOnlineFeaturesResponse, toEpochMs } from '@regatta/feast';
import { type Logger, createLogger } from '@regatta/telemetry';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { type FeaturesService } from '../features.service.js';
import { InvalidBody, feastErrorResponse, parseBody } from './errors.js';
import {
  FeastGetOnlineFeaturesBody,
  FeastMaterializeBody,
  FeastMaterializeIncrementalBody,
  FeastPushBody,
  FeastWriteBody,
  toGetRequest,
} from './schemas.js';

/** Options of {@link startFeastHttpServer}. */
export interface FeastHttpServerOptions {
  features: FeaturesService;
  port: number;
  host?: string;
  /** Largest request body; default 16 MiB (push and write bodies carry whole column dicts). */
  bodyLimitBytes?: number;
  logger?: Logger;
}

/** A listening Feast-compatible HTTP API. */
export interface FeastHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** `GET /health` body: the checks that decide its status (Feast answers an empty 200 or 503). */
export interface FeastHealthBody {
  status: DependencyCheck['status'];
  checks: { registry: DependencyCheck; online_store: DependencyCheck };
}

const JSON_TYPE = 'application/json';

function sendJson(reply: FastifyReply, status: number, body: string | Buffer): FastifyReply {
  // Sent as bytes: Fastify appends `; charset=utf-8` to JSON text, which FastAPI's responses do not carry.
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return reply.status(status).header('content-type', JSON_TYPE).send(bytes);
}

/** Health of the Feast API: 503 when the registry was never read or the store cannot be reached. */
export async function feastHealth(
  features: FeaturesService,
): Promise<{ ok: boolean; body: FeastHealthBody }> {
  const [registry, online_store] = [features.registryHealth(), await features.storeHealth()];
  const status = worstStatus([registry.status, online_store.status]);
  return { ok: status !== 'down', body: { status, checks: { registry, online_store } } };
}

/** The Feast feature server's routes over a FeaturesService, on a Fastify instance that is not listening yet. */
export function buildFeastHttpApp(options: Omit<FeastHttpServerOptions, 'port' | 'host'>): FastifyInstance {
  const { features } = options;
  const log = options.logger ?? createLogger('features');
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimitBytes ?? 16 * 1024 * 1024 });

  // Bodies are parsed by the routes, so malformed JSON is a 422 naming the problem (FastAPI's answer), and any
  // content type is read as JSON, as Feast's clients sometimes omit it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post('/get-online-features', async (req, reply) => {
    const body = parseBody(req.body, FeastGetOnlineFeaturesBody);
    const result = await features.getFeatures(toGetRequest(body), 'get-online-features');
    return sendJson(reply, 200, encodeOnlineFeaturesResponse(result));
  });

  app.post('/push', async (req, reply) => {
    const body = parseBody(req.body, FeastPushBody);
    await features.push(body.push_source_name, body.df, body.to);
    return sendJson(reply, 200, 'null');
  });

  app.post('/write-to-online-store', async (req, reply) => {
    const body = parseBody(req.body, FeastWriteBody);
    await features.writeToOnlineStore(body.feature_view_name, body.df);
    return sendJson(reply, 200, 'null');
  });

  app.post('/materialize', async (req, reply) => {
    const body = parseBody(req.body, FeastMaterializeBody);
    await features.materialize({
      startMs: toEpochMs(body.start_ts, 'start_ts'),
      endMs: toEpochMs(body.end_ts, 'end_ts'),
      ...(body.feature_views && { views: body.feature_views }),
    });
    return sendJson(reply, 200, 'null');
  });

  app.post('/materialize-incremental', async (req, reply) => {
    const body = parseBody(req.body, FeastMaterializeIncrementalBody);
    await features.materialize({
      endMs: toEpochMs(body.end_ts, 'end_ts'),
      ...(body.feature_views && { views: body.feature_views }),
    });
    return sendJson(reply, 200, 'null');
  });

  app.get('/health', async (_req, reply) => {
    const { ok, body } = await feastHealth(features);
    return sendJson(reply, ok ? 200 : 503, JSON.stringify(body));
  });

  // A known path asked with another method is 405 with the methods it takes, as FastAPI answers.
  const methods = new Map<string, string>([
    ['/get-online-features', 'POST'],
    ['/push', 'POST'],
    ['/write-to-online-store', 'POST'],
    ['/materialize', 'POST'],
    ['/materialize-incremental', 'POST'],
    ['/health', 'GET'],
  ]);
  app.setNotFoundHandler((req, reply) => {
    const allow = methods.get(req.url.split('?', 1)[0]!);
    if (allow === undefined) return sendJson(reply, 404, '{"detail":"Not Found"}');
    void reply.header('allow', allow);
    return sendJson(reply, 405, '{"detail":"Method Not Allowed"}');
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof InvalidBody) return sendJson(reply, 422, JSON.stringify({ detail: err.detail }));
    if (err instanceof RegattaError) {
      const { status, body } = feastErrorResponse(err);
      // An unreachable store fails every request: health and metrics report it, the log does not repeat it.
      if (status >= 500 && err.code !== 'UNAVAILABLE')
        log.warn({ route: req.url, code: err.code, err: err.message }, 'feast route failed');
      return sendJson(reply, status, body);
    }
    // Fastify's own refusals (body too large, unreadable body) keep their status.
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500)
      return sendJson(reply, status, JSON.stringify({ detail: (err as Error).message }));
    log.error(
      { route: req.url, err: err instanceof Error ? err.message : String(err) },
      'feast route failed',
    );
    const { body } = feastErrorResponse(
      new RegattaError('INTERNAL', 'internal error in the features service'),
    );
    return sendJson(reply, 500, body);
  });

  return app;
}

/** Starts Feast's HTTP API (get-online-features, push, write-to-online-store, materialize, health). */
export async function startFeastHttpServer(options: FeastHttpServerOptions): Promise<FeastHttpServer> {
  const app = buildFeastHttpApp(options);
  try {
    await app.listen({ port: options.port, host: options.host ?? '0.0.0.0' });
  } catch (err) {
    await app.close();
    throw err;
  }
  const port = (app.server.address() as AddressInfo).port;
  return { port, close: () => app.close() };
}
