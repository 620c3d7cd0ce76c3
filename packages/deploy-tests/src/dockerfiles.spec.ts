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

const all = instructions(readRepoFile('Dockerfile'));
const stageList = stages(all);
const stage = (name: string) => stageList.find((s) => s.name === name);
const args = Object.fromEntries(
  all.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string | undefined]),
);
const run = (name: string) =>
  stage(name)
    ?.body.filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join('\n') ?? '';

describe('Dockerfile', () => {
  it('builds in stages on a Debian Node image: tools, prune, build, runtime, then one target per app', () => {
    expect(stageList.map((s) => s.name)).toEqual([
      'tools',
      'prune',
      'build',
      'runtime',
      ...APPS.map((a) => a.name),
    ]);
    // The Node.js .ci/run tests besides the machine's (20 is end-of-life).
    const ciNode = /^NODE24=(\d+)\./m.exec(readRepoFile('.ci/run'))?.[1];
    expect(args.NODE_IMAGE).toBe(`node:${ciNode}-bookworm-slim`);
    expect(stage('runtime')!.from).toBe('${NODE_IMAGE}');
    for (const app of APPS) expect(stage(app.name)!.from).toBe('runtime');
  });

  it('uses the pnpm the repository pins and the catalog turbo', () => {
    expect(`pnpm@${args.PNPM_VERSION}`).toBe(rootPackage.packageManager);
    expect(args.TURBO_VERSION).toBe(catalog.turbo);
  });

  it('prunes the workspace to the APP it is given, refuses any other, and builds only that', () => {
    expect(run('prune')).toContain('turbo prune @regatta/${APP} --docker');
    expect(run('prune')).toContain(`case "\${APP}" in ${APPS.map((a) => a.name).join('|')}) ;;`);
    expect(run('build')).toContain('turbo run build --filter=@regatta/${APP}');
    expect(run('build')).toMatch(/pnpm install --frozen-lockfile/);
    expect(run('build')).toMatch(/pnpm install --frozen-lockfile --prod/);
    // turbo prune leaves out the shared compiler settings every tsconfig extends.
    const copies = stage('build')!
      .body.filter((i) => i.op === 'COPY')
      .map((i) => i.args);
    expect(copies).toContain('tsconfig.base.json ./');
    expect(copies).toContain('tools/bundle.mjs ./tools/');
  });

  it("skips onnxruntime-node's CUDA download and keeps the compilers for native modules out of the runtime", () => {
    expect(envOf(stage('build')!.body).ONNXRUNTIME_NODE_INSTALL).toBe('skip');
    expect(run('build')).toMatch(/apt-get install[^\n]*python3[^\n]*make[^\n]*g\+\+/);
    for (const name of ['runtime', ...APPS.map((a) => a.name)])
      expect(run(name)).not.toMatch(/g\+\+|python3/);
  });
});

describe.each(APPS.map((a) => [a.name, a] as const))('Dockerfile target %s', (name, app) => {
  const target = stage(name)!;

  it("runs as the node user from the app's start entry, which the build must have made", () => {
    // The file the app's start script runs (`node <file>`): its compiled entry or its bundle.
    const manifest = JSON.parse(readRepoFile(`apps/${name}/package.json`)) as { scripts: { start: string } };
    const entry = /^node (dist\/\S+)$/.exec(manifest.scripts.start)?.[1];
    expect(entry).toBeDefined();
    expect(run(name)).toContain(`test -f apps/${name}/${entry}`);
    const users = target.body.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users).toEqual(['node']);
    const cmd = JSON.parse(target.body.find((i) => i.op === 'CMD')?.args ?? '[]') as string[];
    expect(cmd).toEqual(['node', `apps/${name}/${entry}`]);
    const tsconfig = JSON.parse(readRepoFile(`apps/${name}/tsconfig.build.json`)) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(repoPath(`apps/${name}/src/main.ts`))).toBe(true);
  });

  it('sets only variables the app reads, with absolute paths and its health port', () => {
    const env = { ...envOf(stage('runtime')!.body), ...envOf(target.body) };
    const check = checkEnvironment(app.spec, env, extraVariables(name));
    expect(check.ok ? [] : check.problems).toEqual([]);
    expect(check.unknown).toEqual([]);
    for (const [key, value] of Object.entries(env))
      if (value.includes('/')) expect([key, value]).toEqual([key, expect.stringMatching(/^\/app\//)]);
    const port = (check.ok ? (check.config as Record<string, unknown>) : {})[app.healthPortVariable];
    const exposed = target.body
      .filter((i) => i.op === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/).map(Number));
    expect(exposed).toContain(port);
  });

  it('healthchecks /ready on the configured port', () => {
    const health = target.body.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
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

describe('Dockerfile target features', () => {
  it('lets the service write the directory of the SQLite online store its feature repository names', () => {
    const target = stage('features')!;
    const repoPath = envOf(target.body).FEAST_REPO_PATH ?? '';
    const store = (parseYaml(
      readRepoFile('apps/features/feature_repo/feature_store.yaml'),
      'feature_store.yaml',
    ).online_store ?? {}) as { type?: string; path?: string };
    expect(store.type).toBe('sqlite');
    const dir = `${repoPath}/${store.path ?? ''}`.replace(/\/[^/]+$/, '');
    const chowned = target.body
      .filter((i) => i.op === 'RUN')
      .flatMap((i) =>
        [...i.args.matchAll(/chown node:node ([^&;]+)/g)].flatMap((m) => m[1]!.trim().split(/\s+/)),
      );
    expect(chowned).toContain(dir);
  });
});
