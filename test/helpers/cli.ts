import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./idsync-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const COMPILED = fileURLToPath(new URL('../../bin/idsync.js', import.meta.url));

/**
 * Starts the idsync CLI as a separate process: from the TypeScript sources through tsx, or `compiled` from
 * dist/ (scripts/test.sh builds it first). Tests that SIGKILL the process use the compiled one: a kill can
 * truncate a file of tsx's compile cache and break the next start, which would test tsx, not idsync.
 */
export function startCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; compiled?: boolean; input?: string } = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const argv = options.compiled ? [COMPILED, ...args] : ['--import', 'tsx', CHILD, ...args];
  const child = spawn(process.execPath, argv, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, TSX_DISABLE_CACHE: '1', ...options.env },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  return startCli(args, options).done;
}
