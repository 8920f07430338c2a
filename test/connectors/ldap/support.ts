/** Shared by the LDAP connector tests: building a connector and draining its iterables. */
import type {
  Connector,
  ExportChange,
  ExportResult,
  ImportChange,
  ImportPage,
  ImportRequest,
} from '../../../src/connectors/contract.js';
import { ldapConnectorFactory } from '../../../src/connectors/ldap/index.js';

export const silentLog = { debug() {}, info() {}, warn() {} };

export function ldapConnector(name: string, settings: Record<string, unknown>): Connector {
  const parsed = ldapConnectorFactory.settings.parse(settings);
  return ldapConnectorFactory.create(name, parsed, {
    configDir: process.cwd(),
    stateDir: process.cwd(),
    log: silentLog,
  });
}

export interface Imported {
  pages: ImportPage[];
  changes: ImportChange[];
  watermark: string | null | undefined;
}

export async function importAll(
  connector: Connector,
  request: Partial<ImportRequest> = {},
): Promise<Imported> {
  const pages: ImportPage[] = [];
  let watermark: string | null | undefined;
  for await (const page of connector.import({ mode: 'full', watermark: null, pageSize: 500, ...request })) {
    pages.push(page);
    if (page.watermark !== undefined) watermark = page.watermark;
  }
  return { pages, changes: pages.flatMap((p) => p.changes), watermark };
}

export async function exportAll(
  connector: Connector,
  changes: ExportChange[],
): Promise<Map<string, ExportResult>> {
  const results = new Map<string, ExportResult>();
  for await (const result of connector.export!(changes)) results.set(result.id, result);
  return results;
}

export function upserts(changes: ImportChange[]) {
  return changes.flatMap((c) => (c.kind === 'upsert' ? [c.object] : []));
}

export function byName(changes: ImportChange[], name: string) {
  return upserts(changes).find((o) => o.name === name);
}
