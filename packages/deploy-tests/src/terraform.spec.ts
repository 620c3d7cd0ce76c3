import { readdirSync } from 'node:fs';
import { parse } from '@cdktf/hcl2json';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { terraformLayoutProblems } from './hcl-layout.js';
import { isMap, readRepoFile, repoPath } from './repo.js';

const DIR = 'infrastructure/terraform/cloudfront';
const files = readdirSync(repoPath(DIR)).filter((f) => f.endsWith('.tf'));

type Body = Record<string, unknown>;
/** hcl2json's shape: block type -> label -> (label ->) list of bodies. */
type Model = Record<string, Body>;

const only = (value: unknown): Body => {
  const first: unknown = Array.isArray(value) ? value[0] : value;
  return isMap(first) ? first : {};
};

/** The one block `type "a" "b"`; a missing block fails the test naming it. */
function block(model: Model, type: string, ...labels: string[]): Body {
  let node: unknown = model[type];
  for (const label of labels) node = isMap(node) ? node[label] : undefined;
  if (!Array.isArray(node) || !isMap(node[0])) throw new Error(`${type} "${labels.join('" "')}" is missing`);
  return node[0];
}

/** Every `type "name"` block (variables, outputs) with its body. */
const blocks = (model: Model, type: string): [string, Body][] =>
  Object.entries(model[type] ?? {}).map(([name, value]) => [name, only(value)]);

describe('infrastructure/terraform/cloudfront', () => {
  const model: Model = {};

  beforeAll(async () => {
    // HashiCorp's own HCL parser (compiled to WebAssembly): a syntax error fails here.
    for (const file of files) {
      const parsed = (await parse(file, readRepoFile(`${DIR}/${file}`))) as Model;
      for (const [type, blocks] of Object.entries(parsed)) model[type] = { ...model[type], ...blocks };
    }
  });

  it('is laid out as terraform fmt writes it', () => {
    expect(files.sort()).toEqual(['main.tf', 'outputs.tf', 'variables.tf', 'versions.tf']);
    expect(files.flatMap((f) => terraformLayoutProblems(readRepoFile(`${DIR}/${f}`), f))).toEqual([]);
  });

  it('rejects HCL that does not parse', async () => {
    await expect(parse('bad.tf', 'resource "a" "b" {\n  x = 1\n')).rejects.toThrow(
      /Unclosed configuration block/,
    );
  });

  it('documents and types every variable, and describes every output', () => {
    for (const [name, variable] of blocks(model, 'variable')) {
      expect([name, typeof variable.description, typeof variable.type]).toEqual([name, 'string', 'string']);
    }
    expect(Object.keys(model.variable ?? {})).toContain('gateway_origin_domain');
    for (const [name, output] of blocks(model, 'output')) {
      expect([name, typeof output.description, output.value !== undefined]).toEqual([name, 'string', true]);
    }
    expect(Object.keys(model.output ?? {})).toEqual(
      expect.arrayContaining(['distribution_id', 'domain_name']),
    );
  });

  it('caches GET responses by the origin Cache-Control, keyed on the query string, never on Authorization', () => {
    const policy = block(model, 'resource', 'aws_cloudfront_cache_policy', 'api_get');
    expect(policy.min_ttl).toBe(0);
    expect(policy.default_ttl).toBe('${var.default_ttl_seconds}');
    expect(block(model, 'variable', 'default_ttl_seconds').default).toBe(0);
    const key = only(policy.parameters_in_cache_key_and_forwarded_to_origin);
    expect(only(key.query_strings_config).query_string_behavior).toBe('all');
    expect(only(key.headers_config).header_behavior).toBe('none');
    expect(only(key.cookies_config).cookie_behavior).toBe('none');
  });

  it('forwards what the gateway needs on cached paths, and refuses to forward Authorization', () => {
    const forwarded = block(model, 'variable', 'forwarded_headers');
    const headers = forwarded.default as string[];
    expect(headers).toContain('X-Api-Key');
    expect(headers.map((h) => h.toLowerCase())).not.toContain('authorization');
    expect(JSON.stringify(forwarded.validation)).toMatch(/authorization/);
  });

  it('uses the cache policy only on the cacheable paths; everything else is never cached', () => {
    const distribution = block(model, 'resource', 'aws_cloudfront_distribution', 'api');
    const fallback = only(distribution.default_cache_behavior);
    expect(fallback.cache_policy_id).toBe('${data.aws_cloudfront_cache_policy.caching_disabled.id}');
    expect(block(model, 'data', 'aws_cloudfront_cache_policy', 'caching_disabled').name).toBe(
      'Managed-CachingDisabled',
    );
    const dynamic = only(distribution.dynamic);
    const ordered = only(only(dynamic.ordered_cache_behavior).content);
    expect(ordered.cache_policy_id).toBe('${aws_cloudfront_cache_policy.api_get.id}');
    expect(ordered.cached_methods).toEqual(['GET', 'HEAD']);
    expect(ordered.viewer_protocol_policy).toBe('redirect-to-https');
    const errors = only(only(dynamic.custom_error_response).content);
    expect(errors.error_caching_min_ttl).toBe(0);
  });
});

describe(terraformLayoutProblems.name, () => {
  it('accepts aligned, two-space indented HCL', () => {
    const text = 'resource "a" "b" {\n  name  = "x"\n  count = 1\n\n  tags = {\n    k = "${var.v}"\n  }\n}\n';
    expect(terraformLayoutProblems(text, 'ok.tf')).toEqual([]);
  });

  it('reports unaligned "=", wrong indentation, tabs, trailing spaces and unbalanced braces', () => {
    const text = 'resource "a" "b" {\n  name = "x"\n  count = 1\n\n   other = 2 \n\tx = "}"\n';
    expect(terraformLayoutProblems(text, 'bad.tf')).toEqual(
      expect.arrayContaining([
        'bad.tf:2: "=" at column 8, aligned column is 9',
        'bad.tf:5: indented 3 spaces, expected 2',
        'bad.tf:5: trailing whitespace',
        'bad.tf:6: tab character',
        'bad.tf: brackets do not balance (depth 1 at the end)',
      ]),
    );
  });
});
