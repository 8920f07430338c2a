/**
 * The docs and the CLI agree. Every command README.md and docs/cli.md show is run, in the order they show it,
 * on a workspace made by `idsync init`, and must succeed; every `idsync …` a doc mentions must name a real
 * command; every YAML example in docs/ must pass `idsync validate`. The commands are read from the docs, so a
 * new command or flag needs only documenting (and, for a new placeholder, a value in PLACEHOLDERS below).
 *
 * The CLI runs in-process (main(), the command minus its two-line launcher): one process start per command
 * costs seconds on a loaded machine. Commands that run until stopped (`run`, `serve`) get SIGTERM after
 * their first cycle report, as Ctrl-C would, and must then exit 0. The process keeps its working directory
 * (the built-in directory's writer thread loads tsx from it): a `cd` of the docs becomes `--config` and
 * folders resolved against the folder it names.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main } from '../../src/cli/main.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

// ---- what the docs show -----------------------------------------------------------------------------------

interface Shown {
  /** where: file:line */
  at: string;
  text: string;
}

/** Fenced blocks of these languages: where each starts, and its lines with their places. */
function fenced(file: string, languages: string[]): { at: string; lines: Shown[] }[] {
  const blocks: { at: string; lines: Shown[] }[] = [];
  let current: { at: string; lines: Shown[] } | null = null;
  let inBlock = false;
  read(file)
    .split('\n')
    .forEach((line, i) => {
      const fence = /^```(\w*)/.exec(line);
      if (fence) {
        if (inBlock && current) blocks.push(current);
        current = !inBlock && languages.includes(fence[1]!) ? { at: `${file}:${i + 1}`, lines: [] } : null;
        inBlock = !inBlock;
      } else if (current) current.lines.push({ at: `${file}:${i + 1}`, text: line });
    });
  return blocks;
}

/** Commands of the sh blocks: `idsync …` lines (comments dropped, `a && b` split; `cd DIR` kept). */
function shCommands(file: string): Shown[] {
  const out: Shown[] = [];
  for (const block of fenced(file, ['sh', 'bash', 'shell'])) {
    for (const line of block.lines) {
      const code = line.text.replace(/\s#.*$/, '').trim();
      for (const part of code.split('&&').map((p) => p.trim())) {
        if (/^(idsync|cd)\s/.test(part)) out.push({ at: line.at, text: part });
      }
    }
  }
  return out;
}

/** The command table of docs/cli.md: each row's `idsync …` forms, in table order. */
function tableForms(): Shown[] {
  const out: Shown[] = [];
  read('docs/cli.md')
    .split('\n')
    .forEach((line, i) => {
      if (!line.startsWith('| `idsync')) return;
      const cell = line.split(' | ')[0]!;
      for (const m of cell.matchAll(/`(idsync [^`]+)`/g)) out.push({ at: `docs/cli.md:${i + 1}`, text: m[1]! });
    });
  return out;
}

/** Every markdown file of the docs, README.md included. */
function docFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
    );
  return ['README.md', ...walk('docs')];
}

// ---- from a documented form to commands to run -------------------------------------------------------------

/**
 * What each placeholder of a documented form stands for: [command words, placeholder, value]. The first row
 * whose words begin the command wins; '' matches any command. A function gets a counter, for names that must
 * be new each time (a token name).
 */
let serial = 0;
const PLACEHOLDERS: [string, string, string | (() => string)][] = [
  ['init', 'DIR', () => join(cwd, `another-${++serial}`)],
  ['demo', 'DIR', () => join(cwd, `demo-${++serial}`)],
  ['init', 'NAME', 'ad-to-entra'],
  ['token create', 'NAME', () => `docs-${++serial}`],
  ['token revoke', 'NAME', () => `docs-${serial}`], // the one BEFORE made
  ['admin create', 'NAME', () => `docs-admin-${++serial}`],
  ['admin password', 'NAME', () => `docs-admin-${serial}`], // the one made just before
  ['admin delete', 'NAME', () => `docs-admin-${serial}`], // the one BEFORE made
  ['', 'ROLE', 'admin'],
  ['serve', 'N', '0'],
  ['agents token', 'GROUP', 'onprem'],
  ['', 'N', '3'],
  ['', 'OBJECT', 'elena.bianchi.9@example.com'],
  ['', 'NAME', 'hr'],
  ['', 'CONNECTOR', 'hr'],
  ['', 'ID', 'E100009'],
  ['', 'TIME', '1h'],
  ['', 'ACTION', 'create'],
  ['', 'STATUS', 'success'],
  ['', 'PATH', '/scim/v2'],
  ['', 'TEXT', 'E100009'],
  ['', 'TYPE', 'person'],
];

/** What a command needs done first: apply needs a plan, revoke a token. */
const BEFORE: [string, string[]][] = [
  ['apply', ['plan']],
  ['token revoke', ['token', 'create', 'NAME']],
  ['admin delete', ['admin', 'create', 'NAME', '--role', 'ROLE']],
];

function commandWords(args: string[]): string {
  return args.filter((a) => /^[a-z]+$/.test(a)).slice(0, 2).join(' ');
}

function fill(args: string[], words: string, at: string): string[] {
  return args.map((token) => {
    const name = /^([A-Z][A-Z_]*)(\.\.\.)?$/.exec(token)?.[1];
    if (!name) return token;
    const row = PLACEHOLDERS.find(([cmd, p]) => p === name && words.startsWith(cmd));
    if (!row) throw new Error(`${at}: no value for placeholder ${name} of \`idsync ${words}\`: add one to PLACEHOLDERS in this test`);
    return typeof row[2] === 'function' ? row[2]() : row[2];
  });
}

/**
 * A documented form, `idsync log [--object ID] [--since TIME] [--json]`, as the invocations that cover it: the
 * required words and optional positionals, then that plus each optional flag group in turn.
 */
function expand(form: string): string[][] {
  const required: string[] = [];
  const optional: string[][] = [];
  for (const m of form.replace(/^idsync\s+/, '').matchAll(/\[([^\]]+)\]|(\S+)/g)) {
    if (m[2]) required.push(m[2]);
    else if (m[1]!.startsWith('-')) optional.push(m[1]!.split(/\s+/));
    else required.push(...m[1]!.split(/\s+/));
  }
  return [required, ...optional.map((group) => [...required, ...group])];
}

// ---- running the CLI ---------------------------------------------------------------------------------------

interface Result {
  code: number;
  out: string;
  err: string;
  /** it ran until stopped (SIGTERM after its first report) */
  stopped: boolean;
}

async function idsync(args: string[]): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  let lastOutput = 0;
  let finished = false;
  const running = main(args, {
    out: (t) => {
      out.push(t);
      lastOutput = Date.now();
    },
    err: (t) => err.push(t),
  }).finally(() => {
    finished = true;
  });
  let stopped = false;
  const started = Date.now();
  while (!finished) {
    await new Promise((r) => setTimeout(r, 100));
    // Still running a second after its first report: it runs until stopped. Stop it as Ctrl-C would.
    if (!finished && !stopped && lastOutput > 0 && Date.now() - lastOutput > 1000) {
      stopped = true;
      process.emit('SIGTERM', 'SIGTERM');
    }
    if (Date.now() - started > 50_000) throw new Error(`idsync ${args.join(' ')}: no report within 50 s`);
  }
  return { code: await running, out: out.join('\n'), err: err.join('\n'), stopped };
}

let home: string;
/** the folder the docs' commands run in (their `cd`) */
let cwd: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'idsync-docs-'));
  cwd = home;
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

/** The command as if run in `cwd`: the config found there, `init`'s folder made there. */
function inCwd(args: string[]): string[] {
  if (args[0] === 'init') return args.map((a, i) => (i === 1 ? resolve(cwd, a) : a));
  return [...args, '--config', join(cwd, 'idsync.yaml')];
}

async function runShown(shown: Shown, args: string[]): Promise<void> {
  const words = commandWords(args);
  for (const [cmd, first] of BEFORE) {
    if (words === cmd) {
      const r = await idsync(inCwd(fill(first, commandWords(first), shown.at)));
      expect(r.code, `${shown.at}: before \`${shown.text}\`: idsync ${first.join(' ')}\n${r.err}`).toBe(0);
    }
  }
  const filled = fill(args, words, shown.at);
  const r = await idsync(inCwd(filled));
  const what = `${shown.at}: \`${shown.text}\` ran as \`idsync ${filled.join(' ')}\` in ${relative(home, cwd) || '.'}`;
  expect(r.code, `${what}: exit ${r.code}\n${r.err}\n${r.out.slice(0, 2000)}`).toBe(0);
  if (filled.includes('--json') && !r.stopped) expect(() => JSON.parse(r.out.split('\n')[0]!), `${what}: --json output is not JSON`).not.toThrow();
}

describe('the commands README.md and docs/cli.md show', () => {
  it('README.md: each works in order, as a new administrator would type it', async () => {
    const commands = shCommands('README.md');
    expect(commands.map((c) => c.text)).toContain('idsync init my-sync');
    for (const shown of commands) {
      if (shown.text.startsWith('cd ')) {
        cwd = resolve(cwd, shown.text.slice(3).trim());
        // `idsync serve` listens on serve.port (7643): an ephemeral one here, so tests can run side by side.
        writeFileSync(join(cwd, 'idsync.yaml'), `${readFileSync(join(cwd, 'idsync.yaml'), 'utf8')}\nserve:\n  port: 0\n`);
        continue;
      }
      await runShown(shown, shown.text.split(/\s+/).slice(1));
    }
  });

  it('docs/cli.md: every form in the command table, and every sh example, works', async () => {
    expect(cwd).not.toBe(home); // in the workspace README's quick start made
    const forms = tableForms();
    expect(forms.length).toBeGreaterThan(10);
    for (const shown of forms) for (const args of expand(shown.text)) await runShown(shown, args);
    for (const shown of shCommands('docs/cli.md')) await runShown(shown, shown.text.split(/\s+/).slice(1));
  });

  it('every `idsync COMMAND` any doc mentions is a command', async () => {
    const mentioned = new Map<string, string>();
    for (const file of docFiles()) {
      read(file)
        .split('\n')
        .forEach((line, i) => {
          for (const m of line.matchAll(/`idsync ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g)) {
            const words = m[2] ? `${m[1]} ${m[2]}` : m[1]!;
            if (!mentioned.has(words)) mentioned.set(words, `${file}:${i + 1}`);
          }
        });
    }
    expect(mentioned.size).toBeGreaterThan(10);
    const commandsOf = async (words: string[]) => {
      const help = await idsync([...words, '--help']);
      const list = help.out.split(/^Commands:$/m)[1] ?? '';
      return new Set([...list.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!));
    };
    const top = await commandsOf([]);
    for (const [words, at] of mentioned) {
      const [first, second] = words.split(' ');
      expect(top.has(first!), `${at}: \`idsync ${first}\` is not a command (idsync --help lists ${[...top].join(', ')})`).toBe(true);
      // a command with subcommands (token, sql): the second word must be one
      const subcommands = await commandsOf([first!]);
      if (subcommands.size > 0 && second) expect(subcommands.has(second), `${at}: \`idsync ${words}\` is not a command`).toBe(true);
    }
  });
});

// ---- the YAML examples ------------------------------------------------------------------------------------------

/**
 * A YAML example as a whole config: one with `version:` is whole already; any other is a part of one, laid
 * over the sample config of `idsync init` (its connectors added or replaced by name, its rules added or
 * replaced by name, other top-level settings replaced).
 */
function asConfig(example: Record<string, unknown>, sample: Record<string, unknown>): Record<string, unknown> {
  if ('version' in example) return example;
  const merged: Record<string, unknown> = { ...sample, ...example };
  merged.connectors = { ...(sample.connectors as object), ...((example.connectors as object) ?? {}) };
  const rules = (example.rules as { name: string }[] | undefined) ?? [];
  merged.rules = [...(sample.rules as { name: string }[]).filter((r) => !rules.some((x) => x.name === r.name)), ...rules];
  return merged;
}

describe('the YAML examples in docs/', () => {
  const examples = docFiles().flatMap((file) => fenced(file, ['yaml', 'yml']).map((b) => ({ at: b.at, text: b.lines.map((l) => l.text).join('\n') })));

  it('are found', () => {
    expect(examples.length).toBeGreaterThan(5);
  });

  it.each(examples.map((e) => [e.at, e] as const))('%s validates', async (_at, example) => {
    const dir = mkdtempSync(join(tmpdir(), 'idsync-docs-yaml-'));
    try {
      expect((await idsync(['init', dir])).code).toBe(0);
      const sample = parse(readFileSync(join(dir, 'idsync.yaml'), 'utf8'));
      const parsed = parse(example.text);
      expect(parsed, `${example.at}: not a YAML mapping`).toBeTypeOf('object');
      const file = join(dir, 'example.yaml');
      writeFileSync(file, stringify(asConfig(parsed, sample)));
      // Secrets the example reads: ${env:NAME} set, ${file:PATH} written, as an administrator would.
      const env: Record<string, string | undefined> = {};
      for (const m of example.text.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
        env[m[1]!] = process.env[m[1]!];
        process.env[m[1]!] = 'example-secret';
      }
      for (const m of example.text.matchAll(/\$\{file:([^}]+)\}/g)) {
        mkdirSync(dirname(join(dir, m[1]!)), { recursive: true });
        writeFileSync(join(dir, m[1]!), 'example-secret');
      }
      try {
        // --offline: an example's servers (ldap.example.com) are not there; what is known locally is checked
        const r = await idsync(['validate', '--offline', '--config', file]);
        expect(r.code, `${example.at}: idsync validate refuses it:\n${r.err}\n${r.out}`).toBe(0);
      } finally {
        for (const [k, v] of Object.entries(env)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
