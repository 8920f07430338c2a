/** Helpers for the SCIM connector tests: a connector over a test server, and draining export results. */
import type { ExportChange, ExportResult, ImportPage } from '../../../src/connectors/contract.js';
import type { ScimConnector } from '../../../src/connectors/scim/connector.js';
import { scimConnectorFactory } from '../../../src/connectors/scim/index.js';
import { scimSettingsSchema } from '../../../src/connectors/scim/settings.js';

export function scimConnector(url: string, settings: Record<string, unknown> = {}): ScimConnector {
  const parsed = scimSettingsSchema.parse({ url, ...settings });
  return scimConnectorFactory.create('cloud', parsed, { configDir: '.', stateDir: '.', log: { debug() {}, info() {}, warn() {} } }) as ScimConnector;
}

export async function exportAll(connector: ScimConnector, changes: ExportChange[]): Promise<Map<string, ExportResult>> {
  const out = new Map<string, ExportResult>();
  for await (const r of connector.export(changes)) out.set(r.id, r);
  return out;
}

export async function exportOne(connector: ScimConnector, change: ExportChange): Promise<ExportResult> {
  const results = await exportAll(connector, [change]);
  return results.get(change.id)!;
}

export async function importAll(connector: ScimConnector, mode: 'full' | 'delta', watermark: string | null, pageSize = 100): Promise<ImportPage[]> {
  const pages: ImportPage[] = [];
  for await (const p of connector.import({ mode, watermark, pageSize })) pages.push(p);
  return pages;
}

export function anchorOf(result: ExportResult | undefined): string {
  if (!result?.ok || !result.anchor) throw new Error(`export failed: ${JSON.stringify(result)}`);
  return result.anchor;
}
