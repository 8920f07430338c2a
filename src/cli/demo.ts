/**
 * `idsync demo`: the main job on embedded defaults, start to finish, with nothing to install. Writes the
 * sample into a folder, runs a cycle (HR → metaverse → built-in directory), changes the HR feed as HR would
 * (a promotion, a leaver), runs again, and summarises what happened and where to look next.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { loadConfig } from '../config/load.js';
import { Engine } from '../engine/engine.js';
import { terminalProgress } from '../engine/progress.js';
import { ExitCode } from './exit-codes.js';
import { formatCycle } from './format.js';
import { writeSample } from './init.js';

interface Io {
  out(text: string): void;
  err(text: string): void;
}

export async function runDemo(dir: string, io: Io): Promise<number> {
  const shown = relative(process.cwd(), dir) || '.';
  if (!existsSync(join(dir, 'idsync.yaml'))) {
    await writeSample(dir);
    io.out(`Wrote a sample config and HR data into ${shown}/`);
  } else {
    io.out(`Using the demo already in ${shown}/`);
  }
  const config = loadConfig(join(dir, 'idsync.yaml'));
  const engine = await Engine.open(config, { progress: terminalProgress() });
  try {
    io.out('\n1. First cycle: HR feed → metaverse → built-in directory');
    const first = await engine.cycle({});
    io.out(formatCycle(first));

    io.out('\n2. HR changes: E100009 is promoted, E100010 leaves the company');
    const hrPath = join(dir, 'data', 'hr.csv');
    const hr = await readFile(hrPath, 'utf8');
    const changed = hr
      .split('\n')
      .filter((line) => !line.startsWith('E100010,'))
      .map((line) => (line.startsWith('E100009,') ? line.replace(/,(Analyst|Engineer|Specialist|Coordinator|Consultant|Associate),/, ',Team Lead,') : line))
      .join('\n');
    await writeFile(hrPath, changed);
    const second = await engine.cycle({});
    io.out(formatCycle(second));

    io.out('\n3. A cycle with no change exports nothing');
    const third = await engine.cycle({});
    io.out(formatCycle(third));

    const status = await engine.status();
    const users = status.connectors.find((c) => c.name === 'directory');
    io.out(`\nThe built-in directory now holds ${users?.objects ?? 0} objects (users and groups).`);
    io.out(`Look around (in a clone of the repository, \`idsync\` is \`node bin/idsync.js\`; \`npm link\` puts it on your PATH):
  cd ${shown}
  idsync status                      # counts, pending exports, errors
  idsync log --object E100009        # what happened to one person, attribute by attribute
  idsync explain hr E100009          # how the rules decide, step by step
  idsync plan                        # what the next run would change (edit data/hr.csv first)`);
    const worst = [first, second, third].find((r) => r.status !== 'ok');
    return worst ? ExitCode.failure : ExitCode.ok;
  } finally {
    await engine.close();
  }
}
