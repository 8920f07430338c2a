/**
 * The engine benchmark: 100,000 people and 2,000 groups from HR CSV files into the built-in directory.
 * Reports the initial full cycle, a cycle with no change (the CSV re-read), a cycle with 1,000 changes,
 * and peak RSS of each. Reference in the same run: papaparse (the CSV connector's parser) reading the same
 * file and the directory taking the same users directly, the least work any engine must do.
 *
 *   node --import tsx bench/engine.ts [people]
 *
 * The cycles run from dist/ (built first); profile from the sources with
 *   node --cpu-prof --import tsx bench/engine-child.ts CONFIG delta
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Papa from 'papaparse';
import { writeSample } from '../src/cli/init.js';
import { Directory } from '../src/directory/index.js';
import { GROUPS_HEADER, groupRow, sampleGroups } from '../src/samples/people.js';
import { build, closing, cpu, cycle, phases, rss, seconds } from './engine-cycle.js';
import { machine } from './machine.js';

const PEOPLE = Number(process.argv[2] ?? 100_000);
const GROUPS = 2_000;
const GROUP_SIZE = 50;
async function reference(csvPath: string, dir: string): Promise<number> {
  const started = performance.now();
  const directory = new Directory(join(dir, 'reference.db'));
  const parser = createReadStream(csvPath, 'utf8').pipe(
    Papa.parse(Papa.NODE_STREAM_INPUT, { header: true, skipEmptyLines: true }),
  );
  let batch: Record<string, string>[] = [];
  const flush = () =>
    directory.transaction(() => {
      for (const r of batch) {
        directory.create('user', {
          userName: [r.email!],
          externalId: [r.employeeId!],
          givenName: [r.firstName!],
          familyName: [r.lastName!],
          displayName: [`${r.firstName} ${r.lastName}`],
          department: [r.department!],
        });
      }
      batch = [];
    });
  for await (const row of parser) {
    batch.push(row as Record<string, string>);
    if (batch.length === 1000) flush();
  }
  flush();
  directory.close();
  return performance.now() - started;
}

function objectsPerSecond(n: number, ms: number): string {
  return Math.round(n / (ms / 1000)).toLocaleString('en');
}

build();
const work = mkdtempSync(join(tmpdir(), 'idsync-bench-'));
try {
  await writeSample(work, PEOPLE);
  const groups = sampleGroups(PEOPLE, GROUPS - 8, GROUP_SIZE);
  writeFileSync(join(work, 'data', 'groups.csv'), `${[GROUPS_HEADER, ...groups.map(groupRow)].join('\n')}\n`);
  const config = join(work, 'idsync.yaml');
  const total = PEOPLE + groups.length;

  const refMs = await reference(join(work, 'data', 'hr.csv'), work);
  const initial = cycle(config);
  const noChange = cycle(config);

  // 1,000 changes: titles of 1,000 people
  const hrPath = join(work, 'data', 'hr.csv');
  const lines = readFileSync(hrPath, 'utf8').split('\n');
  for (let i = 1; i <= 1000; i++) {
    const idx = 1 + Math.floor((i * (lines.length - 2)) / 1000);
    lines[idx] = lines[idx]!.replace(/,(Analyst|Engineer|Specialist|Coordinator|Consultant|Associate|Head of Department),/, ',Benchmark Title,');
  }
  writeFileSync(hrPath, lines.join('\n'));
  const changed = cycle(config);
  const exported = changed.stats.find((s) => s.connector === 'directory' && s.phase === 'export');

  const rows = [
    `| initial full cycle (${total.toLocaleString('en')} objects) | ${seconds(initial.ms)} | ${closing(initial)} | ${cpu(initial)} | ${objectsPerSecond(total, initial.ms)} objects/s | ${rss(initial)} |`,
    `| reference: papaparse + directory creates (${PEOPLE.toLocaleString('en')} users) | ${seconds(refMs)} | | | ${objectsPerSecond(PEOPLE, refMs)} objects/s | |`,
    `| cycle with no change (CSV re-read) | ${seconds(noChange.ms, 2)} | ${closing(noChange)} | ${cpu(noChange)} | | ${rss(noChange)} |`,
    `| cycle with 1,000 changes (${exported?.updated ?? 0} updates exported) | ${seconds(changed.ms, 2)} | ${closing(changed)} | ${cpu(changed)} | | ${rss(changed)} |`,
  ];
  console.log(`Machine: ${machine()}\n`);
  console.log('| engine: CSV → built-in directory | time | then closing | CPU | rate | peak RSS |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  console.log(`\nInitial cycle by phase: ${phases(initial)}.`);
  // On a shared machine both figures stretch alike: the ratio is the engine's own cost.
  console.log(`Initial cycle per object: ${((initial.ms / total) / (refMs / PEOPLE)).toFixed(1)} × the reference's (same run, same load).`);
  console.log(
    'Targets: initial under 30 s on 2 cores (design.md, for the same load from LDAP; issue 2 first asked 15 s, see its closing note); ' +
      'no-change cycle under 0.5 s (design.md; issue 2: 2 s, the CSV re-read); 1,000 changes under 3 s; peak RSS under 300 MB (issue 2).',
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
