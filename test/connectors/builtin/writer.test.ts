import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinConnectorFactory } from '../../../src/connectors/builtin/index.js';
import { DirectoryWriter } from '../../../src/connectors/builtin/writer.js';
import type { Connector, ExportChange, ExportResult } from '../../../src/connectors/contract.js';
import { openSharedDirectory, type SharedDirectory } from '../../../src/directory/index.js';

const log = { debug() {}, info() {}, warn() {} };
let stateDir: string;
let connector: Connector;
let shared: SharedDirectory;

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'idsync-writer-'));
  connector = builtinConnectorFactory.create('directory', {}, { configDir: stateDir, stateDir, log });
  shared = openSharedDirectory(join(stateDir, 'directory.db'));
});

afterEach(async () => {
  shared.release();
  await connector.close();
  rmSync(stateDir, { recursive: true, force: true });
});

function creates(n: number, prefix = 'u'): ExportChange[] {
  return Array.from({ length: n }, (_, i) => ({
    op: 'create',
    id: `${prefix}${i}`,
    objectType: 'user',
    attributes: { userName: [`${prefix}${i}@example.org`], displayName: [`User ${i}`] },
  }));
}

async function exportAll(changes: ExportChange[]): Promise<ExportResult[]> {
  const out: ExportResult[] = [];
  for await (const r of connector.export!(changes)) out.push(r);
  return out;
}

describe('builtin connector: large batches through the writer thread', () => {
  it('writes the batch in one commit, answers each change with the stored object, and tells this process', async () => {
    const heard: number[] = [];
    const off = shared.directory.onChange((seq) => heard.push(seq));
    // 300 creates, one of them a userName taken by another of the batch: that one fails alone
    const batch = creates(300);
    batch[299] = { ...batch[299]!, attributes: { userName: ['U0@example.org'] } } as ExportChange;
    const results = await exportAll(batch);
    off();

    expect(results).toHaveLength(300);
    expect(results.filter((r) => r.ok)).toHaveLength(299);
    expect(results[299]).toMatchObject({ id: 'u299', ok: false, error: { code: 'DIRECTORY_UNIQUENESS', retryable: false } });
    const first = results[0]!;
    expect(first.ok && first.object?.attributes.userName).toEqual(['u0@example.org']);
    // visible through this process's own connection, announced once, provably the batch's own span
    expect(shared.directory.counts()).toMatchObject({ users: 299 });
    const span = connector.exportSpan!();
    expect(span?.from).toBe('0');
    expect(heard).toEqual([Number(span?.to)]);
  });

  it('keeps small batches in the engine thread with the same answers', async () => {
    const results = await exportAll(creates(3, 's'));
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(shared.directory.counts()).toMatchObject({ users: 3 });
    expect(connector.exportSpan!()).toEqual({ from: '0', to: '3' });
  });
});

describe('builtin connector: a failed writer thread', () => {
  it('fails that batch as a whole and starts a new thread for the next', async () => {
    const failing = builtinConnectorFactory.create('d', {}, { configDir: stateDir, stateDir, log });
    const original = DirectoryWriter.prototype.write;
    let first = true;
    // the first thread dies before it answers (what a crash of the thread looks like from here)
    DirectoryWriter.prototype.write = function (this: DirectoryWriter, changes: ExportChange[]) {
      if (!first) return original.call(this, changes);
      first = false;
      void this.close();
      return original.call(this, changes);
    };
    try {
      const batch = async (prefix: string) => {
        const out: ExportResult[] = [];
        for await (const r of failing.export!(creates(150, prefix))) out.push(r);
        return out;
      };
      await expect(batch('a')).rejects.toThrow(/closed|stopped/);
      const second = await batch('b');
      expect(second.every((r) => r.ok)).toBe(true);
      expect(shared.directory.counts()).toMatchObject({ users: 150 });
    } finally {
      DirectoryWriter.prototype.write = original;
      await failing.close();
    }
  });
});

describe('DirectoryWriter', () => {
  it('rejects every write once closed', async () => {
    const writer = new DirectoryWriter(join(stateDir, 'directory.db'), 1024);
    const outcome = await writer.write(creates(2));
    expect(outcome.results.map((r) => r.ok)).toEqual([true, true]);
    await writer.close();
    await expect(writer.write(creates(1, 'late'))).rejects.toThrow(/closed/);
  });

  it('rejects the writes of a thread that cannot open its file', async () => {
    // a folder that cannot exist: its parent is a file
    writeFileSync(join(stateDir, 'plain-file'), '');
    const writer = new DirectoryWriter(join(stateDir, 'plain-file', 'directory.db'), 1024);
    await expect(writer.write(creates(1))).rejects.toThrow(/^the directory writer thread failed: E(EXIST|NOTDIR)/);
    await writer.close();
  });
});
