/**
 * The CSV connector reading a 100,000-row HR feed in full, then finding it unchanged from its watermark
 * (what a cycle with no change does: hash the files, parse nothing).
 *
 * References, measured in the same run on the same file: reading the file and splitting lines and commas
 * by hand (the floor: no quoting at all), and papaparse alone through its Node stream with default options
 * (the library's own cost, no conversion to attributes), and papaparse on the whole file read into one string
 * (the parser's speed without streaming: not an option for the connector, which must not hold the file).
 *
 *   node --import tsx bench/csv.ts [rows=100000]
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import Papa from 'papaparse';
import { csvConnectorFactory } from '../src/connectors/csv/index.js';

const ROWS = Number(process.argv[2] ?? 100_000);

function machine(): string {
  const cpu = cpus();
  return [
    `cores: ${cpu.length}`,
    `cpu: ${cpu[0]?.model ?? 'unknown'}`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} free)`,
    `node: ${process.version}`,
  ].join(', ');
}

function line(label: string, count: number, ms: number): void {
  const rate = Math.round((count / ms) * 1000).toLocaleString('en');
  console.log(
    `${label.padEnd(46)} ${String(count).padStart(7)} rows in ${ms.toFixed(0).padStart(6)} ms  ${rate.padStart(9)}/s`,
  );
}

function feed(): string {
  const rows = ['employeeId,givenName,familyName,email,department,title,manager,startDate,active,groups'];
  for (let i = 0; i < ROWS; i++) {
    const name = i % 10 === 0 ? `"Family, ${i}"` : `Family${i}`;
    rows.push(
      `E${i},Given${i},${name},user${i}@example.com,Dept ${i % 50},Title ${i % 20},E${i >> 1},` +
        `2020-01-${String((i % 28) + 1).padStart(2, '0')},${i % 3 === 0 ? 'no' : 'yes'},staff;dept-${i % 50}`,
    );
  }
  return `${rows.join('\n')}\n`;
}

async function main(): Promise<void> {
  console.log(`machine: ${machine()}`);
  const dir = mkdtempSync(join(tmpdir(), 'idsync-bench-csv-'));
  try {
    const path = join(dir, 'hr.csv');
    writeFileSync(path, feed());

    let start = performance.now();
    let fields = 0;
    for (const row of readFileSync(path, 'utf8').split('\n')) fields += row.split(',').length;
    line('reference: read + split (no quoting)', ROWS, performance.now() - start);

    start = performance.now();
    let records = 0;
    const papa = createReadStream(path, 'utf8').pipe(Papa.parse(Papa.NODE_STREAM_INPUT, {}));
    for await (const _ of papa) records++;
    line('reference: papaparse Node stream, defaults', records - 1, performance.now() - start);

    start = performance.now();
    const whole = Papa.parse<string[]>(readFileSync(path, 'utf8'));
    if (whole.errors.length > 0) throw new Error(whole.errors[0]!.message);
    line('reference: papaparse, whole file as one string', whole.data.length - 2, performance.now() - start);

    const connector = csvConnectorFactory.create(
      'hr',
      csvConnectorFactory.settings.parse({
        path,
        anchor: 'employeeId',
        types: { startDate: 'date', active: 'boolean' },
        references: { manager: true },
        multiValued: { groups: true },
      }),
      { configDir: dir, stateDir: dir, log: { debug() {}, info() {}, warn() {} } },
    );
    let watermark: string | null = null;
    for (let round = 1; round <= 2; round++) {
      start = performance.now();
      let objects = 0;
      let errors = 0;
      for await (const page of connector.import({ mode: 'full', watermark: null, pageSize: 1000 })) {
        for (const change of page.changes) change.kind === 'error' ? errors++ : objects++;
        if (page.watermark) watermark = page.watermark;
      }
      if (errors > 0) throw new Error(`${errors} rows failed`);
      line(`csv connector: full import (run ${round})`, objects, performance.now() - start);
    }

    // the next cycle hands the watermark back: the feed is only hashed
    start = performance.now();
    const pages = [];
    for await (const page of connector.import({ mode: 'full', watermark, pageSize: 1000 })) pages.push(page);
    if (pages.length !== 1 || !pages[0]!.unchanged) throw new Error('the unchanged feed was parsed');
    line('csv connector: unchanged feed (hash only)', ROWS, performance.now() - start);
    if (fields === 0) throw new Error('empty feed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
