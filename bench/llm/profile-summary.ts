// Summarises V8 CPU profiles (.cpuprofile, as sut.ts or `node --cpu-prof` writes them): the share of busy
// samples spent in each area (a package, an app, Node internals, WASM, GC) and the functions with the
// most self time, and optionally the inclusive share of frames matching a pattern.
//   node bench/llm/dist/profile-summary.js <file.cpuprofile>... [--top 25] [--match regex]...
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package, a Regatta app or package, Node itself, WASM, or the VM. */
export function areaOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('wasm://')) return 'wasm (PGlite)';
  if (url.startsWith('node:'))
    return `node:${url
      .slice(5)
      .split('/')[0]!
      .replace(/^internal$/, 'internal')}`;
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pnpm) return pnpm[1]!;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1]!;
  const own = /\/(apps|packages)\/([^/]+)\//.exec(url);
  if (own) return own[1] === 'apps' ? `apps/${own[2]}` : `@regatta/${own[2]}`;
  return url;
}

function summarise(file: string, top: number, matches: RegExp[]): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let total = 0;
  let idle = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  const inclusive = matches.map(() => 0);
  // Each sample charged to the innermost Regatta function (apps/, packages/) on its stack.
  const owners = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${area}${url && !url.startsWith('wasm') ? `:${path.basename(url)}:${lineNumber + 1}` : ''}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    let owner = '(no Regatta frame)';
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      const a = areaOf(f.url, f.functionName);
      if (a.startsWith('apps/') || a.startsWith('@regatta/')) {
        owner = `${f.functionName || '(anonymous)'} ${a}:${path.basename(f.url)}:${f.lineNumber + 1}`;
        break;
      }
    }
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    if (matches.length > 0) {
      const stack: string[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const f = byId.get(at)!.callFrame;
        stack.push(`${f.functionName} ${f.url}`);
      }
      matches.forEach((re, i) => {
        if (stack.some((frame) => re.test(frame))) inclusive[i]! += us;
      });
    }
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const wall = total + idle;
  process.stdout.write(
    `\n${path.basename(file)}: ${(wall / 1e6).toFixed(1)} s sampled, busy ${((100 * total) / wall).toFixed(0)}%\n  areas (share of busy time):\n`,
  );
  for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 18))
    process.stdout.write(`    ${pct(us)}  ${area}\n`);
  process.stdout.write(`  functions by self time:\n`);
  for (const [fn, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`    ${pct(us)}  ${fn}\n`);
  process.stdout.write(
    `  by innermost Regatta function on the stack (self + what it called outside Regatta):\n`,
  );
  for (const [fn, us] of [...owners].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`    ${pct(us)}  ${fn}\n`);
  if (matches.length > 0) {
    process.stdout.write(`  inclusive (a matching frame anywhere on the stack):\n`);
    matches.forEach((re, i) => process.stdout.write(`    ${pct(inclusive[i]!)}  ${re.source}\n`));
  }
}

const args = process.argv.slice(2);
let top = 25;
const matches: RegExp[] = [];
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else if (args[i] === '--match') matches.push(new RegExp(args[++i]!));
  else files.push(args[i]!);
}
for (const file of files) summarise(file, top, matches);
