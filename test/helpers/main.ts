/** The CLI in this process: main() with its output collected, lines joined by newlines. No process to start. */
import { main } from '../../src/cli/main.js';

export async function runMain(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
