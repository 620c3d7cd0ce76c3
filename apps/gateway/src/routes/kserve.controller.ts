import {
  type ArgumentsHost,
  Body,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Res,
  UseFilters,
} from '@nestjs/common';
import { HEALTH, INFERENCE } from '@regatta/contracts';
import { type FastifyReply } from 'fastify';
import { Downstream, Schema, Scopes, SystemRoute } from '../edge/index.js';
import { toClientError } from '../http/errors.js';
import {
  KserveInferRequest,
  KserveInferResponse,
  KserveModelMetadata,
  modelParam,
  parseInferRequest,
  toInferResponse,
  toModelMetadata,
  toPredictRequest,
  versionParam,
  type KserveError,
} from './kserve.js';

const tags = ['inference', 'kserve-v2'];
/** Health probes wait this long for the inference service before answering "not ready". */
const PROBE_TIMEOUT_MS = 1_000;

/**
 * Errors in the shape v2 clients read, `{"error": "<message>"}`, with the status of the error's
 * code (400 bad input, 404 unknown model, 503 overloaded or down, 504 deadline). Errors raised
 * before a route runs (401, 403, 429, and a body that fails the request schema) keep the
 * gateway's uniform body, whose `error` field clients print as well.
 */
@Catch()
export class KserveErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent) return;
    const { error, status } = toClientError(exception);
    if (error.retryAfterS !== undefined)
      void reply.header('retry-after', String(Math.ceil(error.retryAfterS)));
    else if (error.code === 'OVERLOADED' || error.code === 'UNAVAILABLE')
      void reply.header('retry-after', '1');
    const body: KserveError = { error: error.message };
    void reply.status(status).type('application/json').send(body);
  }
}

/**
 * The Open Inference Protocol (KServe v2) REST routes that Triton, KServe and MLServer clients
 * speak, answered by the inference service. Health probes are public; model routes need the
 * `predict` scope. Tensor data is JSON (flat or nested); the binary extension is refused.
 */
@Controller('v2')
@UseFilters(KserveErrorFilter)
export class KserveController {
  constructor(@Inject(Downstream) private readonly downstream: Downstream) {}

  /** Server metadata. */
  @Get()
  @SystemRoute()
  server(): { name: string; version: string; extensions: string[] } {
    return { name: 'regatta', version: process.env.REGATTA_VERSION ?? '0.1.0', extensions: [] };
  }

  /** Liveness: the gateway answers HTTP. */
  @Get('health/live')
  @SystemRoute()
  live(): { live: boolean } {
    return { live: true };
  }

  /** Readiness: the inference service answers and is ready (400 `{ready: false}` otherwise, as the protocol says). */
  @Get('health/ready')
  @SystemRoute()
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<{ ready: boolean }> {
    const ready = await this.downstream.client
      .request(HEALTH.inference, {}, { timeoutMs: PROBE_TIMEOUT_MS })
      .then((h) => h.ready)
      .catch(() => false);
    if (!ready) void reply.status(400);
    return { ready };
  }

  @Get('models/:name')
  @Scopes('predict')
  @Schema({ reply: KserveModelMetadata, summary: 'Model metadata (KServe v2)', tags })
  metadata(@Param('name') name: string): Promise<KserveModelMetadata> {
    return this.describe(name, undefined);
  }

  @Get('models/:name/versions/:version')
  @Scopes('predict')
  @Schema({ reply: KserveModelMetadata, summary: 'Model version metadata (KServe v2)', tags })
  versionMetadata(
    @Param('name') name: string,
    @Param('version') version: string,
  ): Promise<KserveModelMetadata> {
    return this.describe(name, versionParam(version));
  }

  @Get('models/:name/ready')
  @Scopes('predict')
  @Schema({ summary: 'Model readiness (KServe v2)', tags })
  modelReady(@Param('name') name: string, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.readiness(name, undefined, reply);
  }

  @Get('models/:name/versions/:version/ready')
  @Scopes('predict')
  @Schema({ summary: 'Model version readiness (KServe v2)', tags })
  versionReady(
    @Param('name') name: string,
    @Param('version') version: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.readiness(name, versionParam(version), reply);
  }

  @Post('models/:name/infer')
  @HttpCode(200)
  @Scopes('predict')
  @Schema({
    body: KserveInferRequest,
    reply: KserveInferResponse,
    status: 200,
    summary: 'Inference (KServe v2 JSON tensors)',
    tags,
  })
  infer(@Param('name') name: string, @Body() body: unknown): Promise<KserveInferResponse> {
    return this.run(name, undefined, body);
  }

  @Post('models/:name/versions/:version/infer')
  @HttpCode(200)
  @Scopes('predict')
  @Schema({
    body: KserveInferRequest,
    reply: KserveInferResponse,
    status: 200,
    summary: 'Inference on one version (KServe v2)',
    tags,
  })
  inferVersion(
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() body: unknown,
  ): Promise<KserveInferResponse> {
    return this.run(name, versionParam(version), body);
  }

  private async run(name: string, version: string | undefined, body: unknown): Promise<KserveInferResponse> {
    const request = parseInferRequest(body);
    const reply = await this.downstream.request(
      INFERENCE.predict,
      toPredictRequest(modelParam(name), version, request),
    );
    return toInferResponse(reply, request.id);
  }

  private async describe(name: string, version: string | undefined): Promise<KserveModelMetadata> {
    const models = await this.downstream.request(INFERENCE.models, {
      model: modelParam(name),
      ...(version !== undefined && { version }),
    });
    return toModelMetadata(models, version);
  }

  private async readiness(
    name: string,
    version: string | undefined,
    reply: FastifyReply,
  ): Promise<{ name: string; ready: boolean }> {
    const { models } = await this.downstream.request(INFERENCE.models, {
      model: modelParam(name),
      ...(version !== undefined && { version }),
    });
    const model = models[0]!;
    const wanted = version ?? model.default_version;
    const ready = model.versions.some((v) => v.version === wanted && v.ready);
    if (!ready) void reply.status(400);
    return { name: model.name, ready };
  }
}
