/**
 * Connector type `builtin`: idsync's own directory (src/directory) as a source or target.
 */
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { DIRECTORY_SCHEMA, openSharedDirectory } from '../../directory/index.js';
import type { ConnectorFactory } from '../contract.js';
import { BuiltinConnector } from './connector.js';

const settings = z
  .object({
    /** the SQLite file; relative to the config file's folder; ':memory:' for a throwaway directory */
    path: z.string().min(1).optional(),
  })
  .strict();

export type BuiltinSettings = z.infer<typeof settings>;

export const builtinConnectorFactory: ConnectorFactory<BuiltinSettings> = {
  type: 'builtin',
  description: "idsync's built-in directory of users and groups (served over SCIM 2.0)",
  settings,
  create(name, config, context) {
    const path = directoryPath(config.path, context.configDir, context.stateDir);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    // The engine exports in pages of 500 objects, each committed: a 16 MB page cache holds one page's writes
    // (the default 64 MB is for bulk loads in one transaction), and keeps a 100,000-object sync under 300 MB.
    const { directory, release } = openSharedDirectory(path, { cacheKb: 16_384 });
    return new BuiltinConnector(name, directory, release);
  },
  // fixed, and open: the directory keeps attributes it does not name as they come
  offlineSchema: async () => ({
    objectTypes: Object.fromEntries(Object.entries(DIRECTORY_SCHEMA).map(([type, schema]) => [type, { ...structuredClone(schema), extensible: true }])),
  }),
};

function directoryPath(setting: string | undefined, configDir: string, stateDir: string): string {
  if (setting === undefined) return join(stateDir, 'directory.db');
  if (setting === ':memory:' || isAbsolute(setting)) return setting;
  return resolve(configDir, setting);
}
