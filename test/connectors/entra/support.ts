/** Helpers for the entra connector tests: a connector over the Graph emulator (or a real tenant), and draining results. */
import type { ExportChange, ExportResult, ImportChange, ImportPage } from '../../../src/connectors/contract.js';
import type { EntraConnector } from '../../../src/connectors/entra/connector.js';
import { entraConnectorFactory } from '../../../src/connectors/entra/index.js';
import { entraSettingsSchema } from '../../../src/connectors/entra/settings.js';
import type { GraphEmulator } from './emulator/graph.js';

export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

export function capturingLog(lines: LogLine[]) {
  return {
    debug: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'debug', msg, ...(fields ? { fields } : {}) }),
    info: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'info', msg, ...(fields ? { fields } : {}) }),
    warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'warn', msg, ...(fields ? { fields } : {}) }),
  };
}

/** Settings that point a connector at the emulator (authority and Graph host on loopback). */
export function emulatorSettings(emu: GraphEmulator, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tenantId: emu.options.tenantId,
    clientId: 'app-1',
    clientSecret: 'emulator-secret-value',
    authority: emu.url,
    graphUrl: emu.url,
    consistencyWait: 5,
    rateLimit: 0,
    ...extra,
  };
}

export function entraConnector(settings: Record<string, unknown>, log: LogLine[] = [], configDir = '.'): EntraConnector {
  const parsed = entraSettingsSchema.parse(settings);
  return entraConnectorFactory.create('entra', parsed, { configDir, stateDir: '.', log: capturingLog(log) }) as EntraConnector;
}

export async function exportAll(connector: EntraConnector, changes: ExportChange[]): Promise<Map<string, ExportResult>> {
  const out = new Map<string, ExportResult>();
  for await (const r of connector.export(changes)) out.set(r.id, r);
  return out;
}

export async function exportOne(connector: EntraConnector, change: ExportChange): Promise<ExportResult> {
  return (await exportAll(connector, [change])).get(change.id)!;
}

export async function importAll(connector: EntraConnector, mode: 'full' | 'delta', watermark: string | null, pageSize = 100): Promise<{ pages: ImportPage[]; changes: ImportChange[]; watermark: string | null }> {
  const pages: ImportPage[] = [];
  let last: string | null = watermark;
  for await (const p of connector.import({ mode, watermark, pageSize })) {
    pages.push(p);
    if (p.watermark !== undefined) last = p.watermark;
  }
  return { pages, changes: pages.flatMap((p) => p.changes), watermark: last };
}

export function anchorOf(result: ExportResult | undefined): string {
  if (!result?.ok || !result.anchor) throw new Error(`export failed: ${JSON.stringify(result)}`);
  return result.anchor;
}

export function upserts(changes: ImportChange[]) {
  return changes.filter((c): c is Extract<ImportChange, { kind: 'upsert' }> => c.kind === 'upsert').map((c) => c.object);
}
