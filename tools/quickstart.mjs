#!/usr/bin/env node
// The README's two commands: `npm start` (embedded fleet) and `npm test` (every check).
// Each installs what it needs on a fresh machine that has only Node.js.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const pnpmVersion = pkg.packageManager.replace(/^pnpm@/, '');
const say = (msg) => process.stdout.write(`\x1b[1m[regatta]\x1b[0m ${msg}\n`);

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    say(`Node.js >= 20.19 is required (this is ${process.version})`);
    process.exit(1);
  }
}

/** The pinned pnpm: the one on PATH when it is that version, else a local install of it. */
function pnpmCommand() {
  const onPath = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim() === pnpmVersion) return ['pnpm'];
  const prefix = path.join(root, '.regatta/tools');
  const bin = path.join(prefix, 'node_modules/pnpm/bin/pnpm.mjs');
  if (!existsSync(bin)) {
    say(`installing pnpm ${pnpmVersion} into .regatta/tools`);
    mkdirSync(prefix, { recursive: true });
    execFileSync('npm', ['install', '--no-save', '--prefix', prefix, `pnpm@${pnpmVersion}`], {
      stdio: 'inherit',
    });
  }
  return [process.execPath, bin];
}

function run(cmd, args, env = {}) {
  const result = spawnSync(cmd[0], [...cmd.slice(1), ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  return result.status ?? 1;
}

/**
 * Runs one test step in its own process group and gives it `limitMin` minutes. A step that outlives
 * its limit (a hung test, a server that never exits) is stopped with everything it started, and the
 * test files still running are named, instead of the whole run waiting until CI gives up. Whatever a
 * finished step left behind in its group (a stray server child) is stopped too.
 */
function runStep(cmd, args, env, limitMin, progressFile) {
  return new Promise((resolve) => {
    const child = spawn(cmd[0], [...cmd.slice(1), ...args], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...env },
      detached: true,
    });
    const killGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is gone
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      say(`step ran past its ${limitMin}-minute limit; stopping it`);
      for (const file of unfinishedTestFiles(progressFile)) say(`  still running: ${file}`);
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 10_000).unref();
    }, limitMin * 60_000);
    const stopParent = (signal) => killGroup(signal);
    process.on('SIGINT', stopParent).on('SIGTERM', stopParent);
    child.on('exit', (code) => {
      clearTimeout(timer);
      process.off('SIGINT', stopParent).off('SIGTERM', stopParent);
      killGroup('SIGKILL');
      resolve(timedOut ? 1 : (code ?? 1));
    });
  });
}

/** Test files that started and have not ended, from the reporter's progress records. */
function unfinishedTestFiles(progressFile) {
  if (!existsSync(progressFile)) return [];
  const running = new Set();
  for (const line of readFileSync(progressFile, 'utf8').split('\n').filter(Boolean)) {
    const { event, package: pkg, file } = JSON.parse(line);
    const key = `${pkg}: ${file}`;
    if (event === 'start') running.add(key);
    else running.delete(key);
  }
  return [...running];
}

/** The version in a node_version.h, as `major.minor.patch`. */
function headerVersion(file) {
  const text = readFileSync(file, 'utf8');
  const part = (name) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text)?.[1];
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

/** The Node.js version whose headers are under `prefix`/include/node, if it holds any. */
function headersAt(prefix) {
  const versionFile = path.join(prefix, 'include/node/node_version.h');
  return existsSync(versionFile) ? headerVersion(versionFile) : undefined;
}

/**
 * Where native addons find Node's headers. Machines without internet access to Node's header tarball
 * build against local headers: those of the Node.js that runs this script (official builds ship
 * include/node beside bin/), or the distribution's when they are of the same version. A configured
 * nodedir (npm passes its config on as npm_config_nodedir) holding another version's headers would
 * build addons for the wrong ABI, so it is replaced, or dropped to let node-gyp fetch the right ones.
 */
function nodeHeadersEnv() {
  const running = process.versions.node;
  const configured = process.env.npm_config_nodedir;
  const configuredVersion = configured ? headersAt(configured) : undefined;
  if (configured && (configuredVersion === undefined || configuredVersion === running)) return {};
  const local = [path.resolve(path.dirname(process.execPath), '..'), '/usr'].find(
    (prefix) => headersAt(prefix) === running,
  );
  if (!configured) return local ? { npm_config_nodedir: local } : {};
  say(
    `nodedir ${configured} holds the headers of Node.js ${configuredVersion}, not ${running}: ` +
      (local ? `building native addons against ${local}` : 'node-gyp fetches the right ones'),
  );
  return { npm_config_nodedir: local ?? '' };
}

function installEnv() {
  return { ONNXRUNTIME_NODE_INSTALL: 'skip', ...nodeHeadersEnv() };
}

/**
 * The better-sqlite3 the features store uses on this Node.js (packages/feast/src/stores/sqlite-driver.ts):
 * 13, built on Node-API, on Node.js 22 and newer; 12, the one native addon built for one Node.js ABI, on 20.
 */
const SQLITE_PACKAGE =
  Number(process.versions.node.split('.')[0]) >= 22 ? 'better-sqlite3-13' : 'better-sqlite3';

/** Loads that better-sqlite3 with this Node.js in a child process; the error text when it cannot. */
function sqliteAddonError() {
  const probe = spawnSync(
    process.execPath,
    ['-e', `const D = require('${SQLITE_PACKAGE}'); new D(':memory:').close();`],
    { cwd: path.join(root, 'packages/feast'), encoding: 'utf8', timeout: 60_000 },
  );
  return probe.status === 0 ? undefined : `${probe.stderr || probe.error?.message || 'exit ' + probe.status}`;
}

function install(pnpm) {
  const marker = path.join(root, 'node_modules/.modules.yaml');
  const lock = path.join(root, 'pnpm-lock.yaml');
  const current = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs && !process.env.CI;
  if (!current) {
    say('installing dependencies (frozen lockfile)');
    if (run(pnpm, ['install', '--frozen-lockfile'], installEnv()) !== 0) {
      say('dependency install failed');
      process.exit(1);
    }
  }
  // An addon built for another Node.js (installed before Node.js was switched, or taken from pnpm's cache of
  // builds) fails only when a service opens SQLite; it is found here and rebuilt for this one.
  const error = sqliteAddonError();
  if (error === undefined) return;
  if (!/NODE_MODULE_VERSION|compiled against a different Node/.test(error)) {
    say(`better-sqlite3 does not load:\n${error.trim().split('\n').slice(0, 5).join('\n')}`);
    process.exit(1);
  }
  say(`better-sqlite3 was built for another Node.js; rebuilding it for Node.js ${process.versions.node}`);
  const rebuilt =
    run(pnpm, ['rebuild', 'better-sqlite3', '--config.side-effects-cache=false'], installEnv()) === 0 &&
    sqliteAddonError() === undefined;
  if (!rebuilt) {
    say('could not rebuild better-sqlite3 for this Node.js (it needs python3, make and a C++ compiler)');
    process.exit(1);
  }
}

function reachable(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 1_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function checkServices() {
  const needed = [
    ['NATS', 4222, 'apt-get install -y nats-server && nats-server -a 127.0.0.1 -p 4222 -js &'],
    ['Redis', 6379, 'apt-get install -y redis-server && redis-server --daemonize yes'],
    ['PostgreSQL', 5432, 'apt-get install -y postgresql (trust auth for 127.0.0.1, database "test")'],
  ];
  const missing = [];
  for (const [name, port, hint] of needed)
    if (!(await reachable(port))) missing.push(`  ${name} on 127.0.0.1:${port} — ${hint}`);
  if (missing.length > 0) {
    say(
      `the integration tests need real servers; not reachable:\n${missing.join('\n')}\n(.ci/run starts them on a CI machine)`,
    );
    process.exit(1);
  }
}

async function main() {
  checkNode();
  const mode = process.argv[2];
  const pnpm = pnpmCommand();
  install(pnpm);
  if (mode === 'start') {
    if (
      run(pnpm, [
        'exec',
        'turbo',
        'run',
        'build',
        '--filter=@regatta/fleet...',
        '--output-logs=errors-only',
      ]) !== 0
    )
      process.exit(1);
    const child = spawn(process.execPath, [path.join(root, 'apps/fleet/dist/embedded.js')], {
      cwd: root,
      stdio: 'inherit',
    });
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
    child.on('exit', (code) => process.exit(code ?? 0));
    return;
  }
  if (mode === 'test') {
    await checkServices();
    const tally = path.join(root, '.regatta/test-tally.jsonl');
    const progressFile = path.join(root, '.regatta/test-progress.jsonl');
    mkdirSync(path.dirname(tally), { recursive: true });
    rmSync(tally, { force: true });
    rmSync(progressFile, { force: true });
    const env = { REGATTA_TEST_TALLY: tally };
    // [name, pnpm arguments, minutes allowed]. The whole run takes 6-15 minutes on a 2-core machine;
    // the limits only stop a hang, and together stay well inside CI's 90 minutes.
    const steps = [
      ['format', ['exec', 'prettier', '--check', '.', '--log-level', 'warn'], 5],
      [
        'lint, type-check, build',
        ['exec', 'turbo', 'run', 'lint', 'check-types', 'build', '--output-logs=errors-only', '--continue'],
        20,
      ],
      ['generated monitoring files are current', ['--filter', '@regatta/slo', 'run', 'generate:check'], 5],
      // Test tasks are never cached (turbo.json): a replayed result would print no totals.
      ['unit tests', ['exec', 'turbo', 'run', 'test', '--output-logs=errors-only', '--continue'], 15],
      [
        'integration tests',
        ['exec', 'turbo', 'run', 'test:int', '--concurrency=1', '--output-logs=new-only', '--continue'],
        25,
      ],
    ];
    let failedSteps = 0;
    for (const [name, args, limitMin] of steps) {
      const started = Date.now();
      say(name);
      const status = await runStep(pnpm, args, env, limitMin, progressFile);
      const took = `${Math.round((Date.now() - started) / 1000)} s`;
      if (status !== 0) {
        failedSteps++;
        say(`FAILED: ${name} (${took})`);
      } else say(`${name}: done in ${took}`);
    }
    const totals = { passed: 0, failed: 0, skipped: 0 };
    const failures = [];
    if (existsSync(tally)) {
      for (const line of readFileSync(tally, 'utf8').trim().split('\n').filter(Boolean)) {
        const t = JSON.parse(line);
        for (const k of Object.keys(totals)) totals[k] += t[k];
        for (const f of t.failures ?? []) failures.push({ ...f, package: t.package });
      }
    }
    for (const f of failures) {
      say(`failed in ${f.package}: ${f.test}`);
      process.stdout.write(`${f.message.replace(/^/gm, '    ')}\n`);
    }
    say(failedSteps ? `${failedSteps} step(s) failed` : 'all steps passed');
    // A failed step with no failed test (lint, build, stale files) still counts as a failure.
    const failed = totals.failed || failedSteps;
    process.stdout.write(
      `${totals.passed} passed, ${failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}\n`,
    );
    process.exit(failedSteps ? 1 : 0);
  }
  say('usage: node tools/quickstart.mjs start|test');
  process.exit(2);
}

await main();
