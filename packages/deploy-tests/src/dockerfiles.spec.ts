import { existsSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { checkEnvironment } from './environment.js';
import { parseYaml, readRepoFile, repoPath } from './repo.js';
import { APPS, extraVariables } from './testing/apps.js';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const space = l.search(/\s/);
      return { op: l.slice(0, space).toUpperCase(), args: l.slice(space + 1).trim() };
    });
}

/** The instructions of each stage, keyed by stage name (the final stage is last). */
function stages(all: Instruction[]): { name: string; from: string; body: Instruction[] }[] {
  const out: { name: string; from: string; body: Instruction[] }[] = [];
  for (const ins of all) {
    if (ins.op === 'FROM') {
      const [from = '', , name = `stage${out.length}`] = ins.args.split(/\s+/);
      out.push({ name, from, body: [] });
    } else out[out.length - 1]?.body.push(ins);
  }
  return out;
}

/** `KEY=value` pairs of ENV instructions. */
function envOf(body: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ins of body.filter((i) => i.op === 'ENV')) {
    for (const [, key, value] of ins.args.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[key!] = value!;
  }
  return env;
}

const rootPackage = JSON.parse(readRepoFile('package.json')) as { packageManager: string };
const catalog = parseYaml(readRepoFile('pnpm-workspace.yaml'), 'pnpm-workspace.yaml').catalog as Record<
  string,
  string
>;

describe.each(APPS.map((a) => [a.name, a] as const))('apps/%s/Dockerfile', (name, app) => {
  const all = instructions(readRepoFile(`apps/${name}/Dockerfile`));
  const stageList = stages(all);
  const final = stageList[stageList.length - 1]!;
  const args = Object.fromEntries(
    all.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string | undefined]),
  );
  const image = args.NODE_IMAGE ?? '';
  const run = (stage: string) =>
    stageList
      .find((s) => s.name === stage)
      ?.body.filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join('\n') ?? '';

  it('builds in stages on a Debian Node image: tools, prune, build, runtime', () => {
    expect(stageList.map((s) => s.name)).toEqual(['tools', 'prune', 'build', 'runtime']);
    expect(image).toMatch(/^node:(20|22)-bookworm-slim$/);
    expect(final.from).toBe('${NODE_IMAGE}');
  });

  it('uses the pnpm the repository pins and the catalog turbo', () => {
    expect(`pnpm@${args.PNPM_VERSION}`).toBe(rootPackage.packageManager);
    expect(args.TURBO_VERSION).toBe(catalog.turbo);
  });

  it(`prunes the workspace to @regatta/${name} and builds only that`, () => {
    expect(run('prune')).toContain(`turbo prune @regatta/${name} --docker`);
    expect(run('build')).toContain(`turbo run build --filter=@regatta/${name}`);
    expect(run('build')).toMatch(/pnpm install --frozen-lockfile/);
    expect(run('build')).toMatch(/pnpm install --frozen-lockfile --prod/);
    // turbo prune leaves out the shared compiler settings every tsconfig extends.
    const copies = stageList
      .find((s) => s.name === 'build')!
      .body.filter((i) => i.op === 'COPY')
      .map((i) => i.args);
    expect(copies).toContain('tsconfig.base.json ./');
  });

  it("skips onnxruntime-node's CUDA download and has compilers for native modules", () => {
    const build = stageList.find((s) => s.name === 'build')!;
    expect(envOf(build.body).ONNXRUNTIME_NODE_INSTALL).toBe('skip');
    expect(run('build')).toMatch(/apt-get install[^\n]*python3[^\n]*make[^\n]*g\+\+/);
    expect(run('runtime')).not.toMatch(/g\+\+|python3/);
  });

  it('runs as the node user from the compiled entry point', () => {
    const users = final.body.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users).toEqual(['node']);
    const cmd = JSON.parse(final.body.find((i) => i.op === 'CMD')?.args ?? '[]') as string[];
    expect(cmd).toEqual(['node', `apps/${name}/dist/main.js`]);
    const tsconfig = JSON.parse(readRepoFile(`apps/${name}/tsconfig.build.json`)) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(repoPath(`apps/${name}/src/main.ts`))).toBe(true);
  });

  it('sets only variables the app reads, with absolute paths and its health port', () => {
    const env = envOf(final.body);
    const check = checkEnvironment(app.spec, env, extraVariables(name));
    expect(check.ok ? [] : check.problems).toEqual([]);
    expect(check.unknown).toEqual([]);
    for (const [key, value] of Object.entries(env))
      if (value.includes('/')) expect([key, value]).toEqual([key, expect.stringMatching(/^\/app\//)]);
    const port = (check.ok ? (check.config as Record<string, unknown>) : {})[app.healthPortVariable];
    const exposed = final.body
      .filter((i) => i.op === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/).map(Number));
    expect(exposed).toContain(port);
  });

  it('healthchecks /ready on the configured port', () => {
    const health = final.body.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    expect(health).toContain('/ready');
    expect(health).toContain(`process.env.${app.healthPortVariable}`);
    const defaultPort = describeDefault(app.spec, app.healthPortVariable);
    expect(health).toContain(`'${defaultPort}'`);
  });
});

function describeDefault(spec: (typeof APPS)[number]['spec'], variable: string): string {
  const check = checkEnvironment(spec, {});
  return check.ok ? String((check.config as Record<string, unknown>)[variable]) : '';
}

describe('.dockerignore', () => {
  it('keeps installed modules, build output, git history and local secrets out of the build context', () => {
    const lines = readRepoFile('.dockerignore').split('\n');
    for (const pattern of ['**/node_modules', '**/dist', '.git', '.env', '.regatta'])
      expect(lines).toContain(pattern);
  });
});

describe('apps/features/Dockerfile', () => {
  it('lets the service write the directory of the SQLite online store its feature repository names', () => {
    const final = stages(instructions(readRepoFile('apps/features/Dockerfile'))).at(-1)!;
    const repoPath = envOf(final.body).FEAST_REPO_PATH ?? '';
    const store = (parseYaml(
      readRepoFile('apps/features/feature_repo/feature_store.yaml'),
      'feature_store.yaml',
    ).online_store ?? {}) as { type?: string; path?: string };
    expect(store.type).toBe('sqlite');
    const dir = `${repoPath}/${store.path ?? ''}`.replace(/\/[^/]+$/, '');
    const chowned = final.body
      .filter((i) => i.op === 'RUN')
      .flatMap((i) =>
        [...i.args.matchAll(/chown node:node ([^&;]+)/g)].flatMap((m) => m[1]!.trim().split(/\s+/)),
      );
    expect(chowned).toContain(dir);
  });
});
