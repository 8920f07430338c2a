/**
 * Where the record stores' suites run (tokens, agents, accounts: src/store/records/): a state folder of SQLite
 * files, and a PostgreSQL database of the test's own. Each suite runs once per location, written once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordLocation } from '../../../src/store/records/open.js';
import { createDatabase } from '../../helpers/postgres.js';

export interface RecordHarness {
  name: 'SQLite' | 'PostgreSQL';
  /** a new, empty state; `location.stateDir` is a folder of its own in both */
  create(): Promise<{
    location: RecordLocation;
    exec(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
    cleanup(): Promise<void>;
  }>;
}

export const RECORD_HARNESSES: RecordHarness[] = [
  {
    name: 'SQLite',
    create: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'idsync-records-'));
      const stateDir = join(dir, 'state');
      return {
        location: { stateDir },
        exec: async () => {
          throw new Error('SQL on the SQLite files is not offered: open the file');
        },
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'PostgreSQL',
    create: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'idsync-records-'));
      const db = await createDatabase('records');
      return {
        location: { stateDir: join(dir, 'state'), stateUrl: db.url },
        exec: db.exec,
        cleanup: async () => {
          await db.drop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];
