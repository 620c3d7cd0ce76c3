import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { repoPath } from './repo.js';

const asRoot = process.getuid?.() === 0;

/** Runs a server binary as an unprivileged user (Postgres refuses root), returning its output. */
function run(
  user: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): SpawnSyncReturns<string> {
  const [bin, argv] = asRoot ? ['runuser', ['-u', user, '--', command, ...args]] : [command, args];
  // From `/`: the checkout may sit in a directory the other user cannot enter (mktemp -d makes it 0700).
  return spawnSync(bin, argv, {
    encoding: 'utf8',
    timeout: 20_000,
    cwd: '/',
    env: { ...process.env, ...env },
  });
}

function postgresBin(name: string): string {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort() : [];
  const version = versions[versions.length - 1];
  if (!version)
    throw new Error('PostgreSQL server binaries are not installed (apt-get install -y postgresql)');
  return `/usr/lib/postgresql/${version}/bin/${name}`;
}

describe('server configuration files, loaded by the real servers', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'regatta-conf-'));
    chmodSync(dir, 0o777);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('postgresql.conf is accepted by Postgres and sets the connection limit PgBouncer is sized for', () => {
    const conf = path.join(dir, 'postgresql.conf');
    copyFileSync(repoPath('infrastructure/postgres/postgresql.conf'), conf);
    chmodSync(conf, 0o644);
    const init = run('postgres', postgresBin('initdb'), [
      '-D',
      path.join(dir, 'data'),
      '-A',
      'trust',
      '-U',
      'postgres',
    ]);
    expect(init.status).toBe(0);
    const check = run('postgres', postgresBin('postgres'), [
      '-D',
      path.join(dir, 'data'),
      '-c',
      `config_file=${conf}`,
      '-C',
      'max_connections',
    ]);
    expect(check.stderr).toBe('');
    expect(check.stdout.trim()).toBe('100');
  });

  it('a misspelt postgresql.conf setting is rejected (the check can fail)', () => {
    const conf = path.join(dir, 'broken.conf');
    copyFileSync(repoPath('infrastructure/postgres/postgresql.conf'), conf);
    spawnSync('sh', ['-c', `echo "max_conections = 10" >> ${conf}`], { timeout: 5_000 });
    chmodSync(conf, 0o644);
    const check = run('postgres', postgresBin('postgres'), [
      '-D',
      path.join(dir, 'data'),
      '-c',
      `config_file=${conf}`,
      '-C',
      'port',
    ]);
    expect(check.status).not.toBe(0);
    expect(check.stderr).toMatch(/max_conections/);
  });

  it('redis.conf starts Redis (on a private socket, no TCP port)', () => {
    const socket = path.join(dir, 'redis.sock');
    // --port 0 closes TCP; the server loads the file, starts, and is shut down by the timeout.
    const result = spawnSync(
      'redis-server',
      [
        repoPath('infrastructure/redis/redis.conf'),
        '--port',
        '0',
        '--unixsocket',
        socket,
        '--daemonize',
        'no',
      ],
      { encoding: 'utf8', timeout: 1500, killSignal: 'SIGTERM' },
    );
    const log = `${result.stdout}${result.stderr}`;
    expect(log).toMatch(/ready to accept connections/i);
    expect(log).not.toMatch(/Bad directive|FATAL CONFIG/);
  });

  it.each([
    ['one box', 'infrastructure/nats/nats.conf'],
    ['3-node cluster', 'infrastructure/k8s/base/nats/nats.conf'],
  ])('the %s nats.conf is valid for nats-server', (_what, file) => {
    const result = spawnSync('nats-server', ['-c', repoPath(file), '-t'], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, SERVER_NAME: 'nats-0' },
    });
    expect(`${result.stdout}${result.stderr}`).toMatch(/is valid/);
    expect(result.status).toBe(0);
  });
});
