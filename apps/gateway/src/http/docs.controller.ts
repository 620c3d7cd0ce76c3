import { Controller, Get, Inject, Res } from '@nestjs/common';
import { type FastifyReply } from 'fastify';
import { SystemRoute } from '../edge/route-meta.js';
import { RouteCatalog, renderDocsPage } from './openapi.js';

const INFO = {
  title: 'Regatta API',
  version: process.env.REGATTA_VERSION ?? '0.1.0',
  description: 'Real-time ML decisions: decisions, predictions, features and chat behind one gateway.',
};

/** The OpenAPI document of the gateway's routes and a readable page of it. */
@Controller()
@SystemRoute()
export class DocsController {
  private doc: Record<string, unknown> | undefined;
  private page: string | undefined;

  constructor(@Inject(RouteCatalog) private readonly catalog: RouteCatalog) {}

  @Get('openapi.json')
  openapi(): Record<string, unknown> {
    // Routes are all registered before the first request, so the document is built once.
    this.doc ??= this.catalog.document(INFO);
    return this.doc;
  }

  @Get('docs')
  docs(@Res({ passthrough: true }) reply: FastifyReply): string {
    this.page ??= renderDocsPage(this.openapi());
    void reply.type('text/html; charset=utf-8');
    return this.page;
  }
}
