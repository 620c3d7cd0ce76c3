import { spawnSync } from 'node:child_process';

// The Debian packages the monitoring checks need (promtool from `prometheus`, amtool from
// `prometheus-alertmanager`). A machine without them installs them, or the check fails saying why.

/** Result of running a command. */
export interface RunResult {
  status: number | null;
  stdout: string;
  /** stdout and stderr together. */
  output: string;
}

/** Runs a command to completion (at most `timeoutMs`: a hung tool fails the check), stdout and stderr together. */
export function run(
  command: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 120_000,
): RunResult {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    input,
    timeout: timeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) return { status: null, stdout: '', output: result.error.message };
  return { status: result.status, stdout: result.stdout, output: `${result.stdout}${result.stderr}` };
}

function onPath(binary: string): boolean {
  return run('sh', ['-c', `command -v ${binary}`]).status === 0;
}

/** Makes sure `binary` exists, installing Debian package `pkg` with apt-get when it does not; throws if it cannot. */
export function ensureDebianTool(binary: string, pkg: string): void {
  if (onPath(binary)) return;
  const hint = `${binary} is missing: install it with \`apt-get update && apt-get install -y ${pkg}\``;
  if (process.getuid?.() !== 0) throw new Error(`${hint} (as root; this process is not)`);
  // apt waits at most a minute for another install's lock instead of failing at once or waiting forever.
  const lockWait = ['-o', 'DPkg::Lock::Timeout=60'];
  const update = run('apt-get', [...lockWait, 'update'], undefined, 300_000);
  if (update.status !== 0) throw new Error(`${hint}; apt-get update failed:\n${update.output}`);
  const install = run('apt-get', [...lockWait, 'install', '-y', pkg], undefined, 600_000);
  if (install.status !== 0 || !onPath(binary))
    throw new Error(`${hint}; apt-get install failed:\n${install.output}`);
}
