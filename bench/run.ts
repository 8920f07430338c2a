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
// `npm run bench agent:ldap:20000`: a benchmark's arguments follow its name, each after a colon
const words = process.argv.slice(2).length > 0 ? process.argv.slice(2) : available;
const wanted = words.map((word) => {
  const [name, ...args] = word.split(':');
  return { name: name!, args };
});

let text = existsSync(docs) ? readFileSync(docs, 'utf8') : '# Benchmarks\n\nRecorded by `npm run bench`; each section is replaced when its benchmark runs again.\n';
for (const { name, args } of wanted) {
  if (!available.includes(name)) {
    console.error(`no benchmark named ${name} (have: ${available.join(', ')})`);
    process.exitCode = 2;
    continue;
  }
  // a benchmark run with arguments has a section of its own per set of arguments
  const title = [name, ...args].join(' ');
  console.log(`\n## ${title}\n`);
  const out = execFileSync(process.execPath, ['--import', 'tsx', `${here}${name}.ts`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20 });
  console.log(out);
  const command = ['node --import tsx', `bench/${name}.ts`, ...args].join(' ');
  const section = `<!-- bench:${title} -->\n## ${title}\n\n_${new Date().toISOString().slice(0, 10)}, \`${command}\`_\n\n${out.trim()}\n<!-- /bench:${title} -->`;
  const re = new RegExp(`<!-- bench:${title} -->[\\s\\S]*?<!-- /bench:${title} -->`);
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
}
writeFileSync(docs, text);
