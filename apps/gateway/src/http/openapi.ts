import { HttpErrorBody, toJsonSchema } from '@regatta/contracts';
import { type FastifyInstance, type FastifySchema } from 'fastify';
import { type RouteEdge } from '../edge/route-meta.js';
import { TIMEOUT_HEADER } from './edge.js';

/** One documented operation. */
export interface CatalogRoute {
  method: string;
  url: string;
  schema: FastifySchema | undefined;
  edge: RouteEdge;
}

type Json = Record<string, unknown>;

const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

/** A JSON Schema without its `$schema` marker, as OpenAPI 3.1 embeds it. */
function embedded(schema: unknown): Json {
  const { $schema: _drop, ...rest } = (schema ?? {}) as Json;
  return rest;
}

function parametersOf(schema: unknown, where: 'path' | 'query'): Json[] {
  const s = embedded(schema);
  const props = (s.properties ?? {}) as Record<string, Json>;
  const required = new Set((s.required ?? []) as string[]);
  return Object.entries(props).map(([name, p]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: p,
    ...(typeof p.description === 'string' && { description: p.description }),
  }));
}

/**
 * Every route of the gateway as it is registered, with its schemas and edge settings: the source
 * of /openapi.json and /docs. It also refuses, at start-up, a route that takes a body without a
 * schema for it, so no body reaches a handler unvalidated.
 */
export class RouteCatalog {
  readonly routes: CatalogRoute[] = [];

  /** Watches `fastify` for routes; call before any route is added. */
  attach(fastify: FastifyInstance): void {
    fastify.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const edge = route.config?.regatta ?? {};
      for (const method of methods) {
        // HEAD mirrors GET; OPTIONS is the CORS preflight route.
        if (method === 'HEAD' || method === 'OPTIONS') continue;
        const schema = route.schema;
        if (BODY_METHODS.has(method) && !edge.system && schema?.body === undefined) {
          throw new Error(
            `route ${method} ${route.url} takes a body without a schema: add @Schema({ body: <contract schema> })`,
          );
        }
        this.routes.push({ method, url: route.url, schema, edge });
      }
    });
  }

  /** The OpenAPI 3.1 document of the routes. */
  document(info: { title: string; version: string; description?: string }): Json {
    const paths: Record<string, Record<string, Json>> = {};
    for (const r of [...this.routes].sort((a, b) => a.url.localeCompare(b.url))) {
      const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      paths[path] ??= {};
      paths[path][r.method.toLowerCase()] = this.operation(r, path);
    }
    return {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        schemas: { Error: embedded(toJsonSchema(HttpErrorBody, 'output')) },
        responses: {
          Error: {
            description: 'Uniform error body; `code` is one of the Regatta error codes',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        },
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key (`rg_…`) as a Bearer token, or in the `X-Api-Key` header',
          },
        },
      },
    };
  }

  private operation(r: CatalogRoute, path: string): Json {
    const { edge, schema } = r;
    const open = edge.public === true || edge.system === true;
    const parameters = [
      ...parametersOf(schema?.params, 'path'),
      ...parametersOf(schema?.querystring, 'query'),
    ];
    // Path parameters without a schema are still parameters.
    for (const m of path.matchAll(/\{([A-Za-z0-9_]+)\}/g)) {
      if (!parameters.some((p) => p.name === m[1] && p.in === 'path'))
        parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    }
    if (!edge.system) {
      parameters.push({
        name: TIMEOUT_HEADER,
        in: 'header',
        required: false,
        description: 'lowers the route budget (ms); it can never raise it',
        schema: { type: 'integer', minimum: 1 },
      });
    }
    const status = String(edge.status ?? (r.method === 'POST' ? 201 : 200));
    const content = edge.stream
      ? { 'text/event-stream': { schema: { type: 'string' } } }
      : edge.reply
        ? { 'application/json': { schema: embedded(edge.reply) } }
        : undefined;
    const errors = ['400', ...(open ? [] : ['401', '403', '429']), ...(schema?.body ? ['413', '415'] : [])];
    if (!edge.system) errors.push('503', '504');
    const responses: Json = { [status]: { description: 'success', ...(content && { content }) } };
    for (const e of errors) responses[e] = { $ref: '#/components/responses/Error' };
    return {
      operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(edge.summary && { summary: edge.summary }),
      ...(edge.tags && { tags: edge.tags }),
      security: open ? [] : [{ apiKey: edge.scopes ?? [] }],
      ...(parameters.length > 0 && { parameters }),
      ...(schema?.body !== undefined && {
        requestBody: { required: true, content: { 'application/json': { schema: embedded(schema.body) } } },
      }),
      responses,
    };
  }
}

const escape = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A self-contained HTML page listing the operations of an OpenAPI document (no scripts, no CDN). */
export function renderDocsPage(doc: Json): string {
  const info = doc.info as { title: string; version: string; description?: string };
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const security = op.security as Record<string, string[]>[];
      const auth =
        security.length === 0
          ? 'public'
          : `API key${security[0]!.apiKey!.length ? `, scope ${security[0]!.apiKey!.join(' + ')}` : ''}`;
      const body = (op.requestBody as { content: Record<string, { schema: unknown }> } | undefined)?.content[
        'application/json'
      ]?.schema;
      const params = (op.parameters as Json[] | undefined) ?? [];
      rows.push(`<section>
  <h2><span class="m ${escape(method)}">${escape(method.toUpperCase())}</span> <code>${escape(path)}</code></h2>
  ${typeof op.summary === 'string' ? `<p>${escape(op.summary)}</p>` : ''}
  <p class="auth">${escape(auth)}</p>
  ${params.length ? `<p>Parameters: ${params.map((p) => `<code>${escape(String(p.name))}</code> (${escape(String(p.in))})`).join(', ')}</p>` : ''}
  ${body ? `<details><summary>Request body</summary><pre>${escape(JSON.stringify(body, null, 2))}</pre></details>` : ''}
  <p>Responses: ${Object.keys(op.responses as Json)
    .map(escape)
    .join(', ')}</p>
</section>`);
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(info.title)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
section{border-top:1px solid #ddd;padding:.5rem 0}h2{font-size:1.05rem;margin:.3rem 0}
.m{display:inline-block;min-width:4.5rem;font-weight:600}.get{color:#1565c0}.post{color:#2e7d32}
.delete{color:#c62828}.auth{color:#555;font-size:.9rem}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
</style></head><body>
<h1>${escape(info.title)} <small>${escape(info.version)}</small></h1>
<p>${escape(info.description ?? '')} Machine-readable: <a href="/openapi.json">/openapi.json</a>.
Errors are always <code>{"error": {"code", "message", "request_id"}}</code>.</p>
${rows.join('\n')}
</body></html>`;
}
