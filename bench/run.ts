/**
 * `npm run bench [name...]`: runs the benchmarks (all, or those named), prints their figures and records
 * them in docs/benchmarks.md, each in its own section, with the date and the machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const docs = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
// helpers, not benchmarks
const SKIP = new Set(['run', 'machine', 'engine-child', 'engine-cycle', 'ldap-tools']);
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !SKIP.has(f.replace(/\.ts$/, '')) && !f.endsWith('-child.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : available;

let text = existsSync(docs) ? readFileSync(docs, 'utf8') : '# Benchmarks\n\nRecorded by `npm run bench`; each section is replaced when its benchmark runs again.\n';
for (const name of wanted) {
  if (!available.includes(name)) {
    console.error(`no benchmark named ${name} (have: ${available.join(', ')})`);
    process.exitCode = 2;
    continue;
  }
  console.log(`\n## ${name}\n`);
  const out = execFileSync(process.execPath, ['--import', 'tsx', `${here}${name}.ts`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20 });
  console.log(out);
  const section = `<!-- bench:${name} -->\n## ${name}\n\n_${new Date().toISOString().slice(0, 10)}, \`node --import tsx bench/${name}.ts\`_\n\n${out.trim()}\n<!-- /bench:${name} -->`;
  const re = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
}
writeFileSync(docs, text);
