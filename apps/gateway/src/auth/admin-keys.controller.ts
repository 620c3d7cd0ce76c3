import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { Caller } from '../edge/caller.js';
import { Schema, Scopes } from '../edge/route-meta.js';
import {
  type ApiKeyView,
  CreateKeyRequest,
  CreatedKey,
  KeyIdParams,
  KeyList,
  ListKeysQuery,
  ApiKeyView as ApiKeyViewSchema,
} from './admin-keys.schemas.js';
import { ApiKeyAdmin } from './admin-keys.service.js';

const tags = ['admin'];

/** API key management: create (the key is shown once), list, show and revoke. */
@Controller('v1/admin/keys')
@Scopes('admin')
export class AdminKeysController {
  constructor(@Inject(ApiKeyAdmin) private readonly keys: ApiKeyAdmin) {}

  @Post()
  @HttpCode(201)
  @Schema({
    body: CreateKeyRequest,
    reply: CreatedKey,
    status: 201,
    tags,
    summary: 'Create an API key (shown once)',
  })
  create(@Caller() caller: Caller, @Body() body: CreateKeyRequest): Promise<CreatedKey> {
    return this.keys.create(caller.principal, body);
  }

  @Get()
  @Schema({ query: ListKeysQuery, reply: KeyList, tags, summary: "List API keys (the caller's tenant)" })
  async list(@Caller() caller: Caller, @Query() query: ListKeysQuery): Promise<KeyList> {
    const keys = await this.keys.list(caller.principal, {
      tenant: query.tenant,
      includeRevoked: query.include_revoked,
    });
    return { keys };
  }

  @Get(':id')
  @Schema({ params: KeyIdParams, reply: ApiKeyViewSchema, tags, summary: 'Show one API key' })
  get(@Caller() caller: Caller, @Param('id') id: string): Promise<ApiKeyView> {
    return this.keys.get(caller.principal, id);
  }

  @Delete(':id')
  @Schema({ params: KeyIdParams, reply: ApiKeyViewSchema, tags, summary: 'Revoke an API key' })
  revoke(@Caller() caller: Caller, @Param('id') id: string): Promise<ApiKeyView> {
    return this.keys.revoke(caller.principal, id);
  }
}
