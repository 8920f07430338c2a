/**
 * The connector contract's values as the wire carries them and back (values.ts does single values): import
 * pages, export changes and results, objects. Both sides use it; no I/O.
 */
import type { z } from 'zod';
import type {
  AttributeChange,
  ConnectorObject,
  ExportChange,
  ExportResult,
  ImportChange,
  ImportPage,
} from '../../connectors/contract.js';
import type { wireExportChange, wireExportResult, wireImportChange, wireImportPage, wireObject } from './methods.js';
import { fromWireAttributes, fromWireValue, toWireAttributes, toWireValue, type WireValue } from './values.js';

type WireObject = z.infer<typeof wireObject>;
type WireImportChange = z.infer<typeof wireImportChange>;
export type WireImportPage = z.infer<typeof wireImportPage>;
export type WireExportChange = z.infer<typeof wireExportChange>;
export type WireExportResult = z.infer<typeof wireExportResult>;
type WireAttributeChange = { replace?: WireValue[]; add?: WireValue[]; remove?: WireValue[] };

export function toWireObject(o: ConnectorObject): WireObject {
  return { anchor: o.anchor, objectType: o.objectType, ...(o.name !== undefined && { name: o.name }), attributes: toWireAttributes(o.attributes) };
}

export function fromWireObject(o: WireObject): ConnectorObject {
  return { anchor: o.anchor, objectType: o.objectType, ...(o.name !== undefined && { name: o.name }), attributes: fromWireAttributes(o.attributes) };
}

function toWireChanges(changes: Record<string, AttributeChange>): Record<string, WireAttributeChange> {
  const out: Record<string, WireAttributeChange> = {};
  for (const [name, c] of Object.entries(changes)) {
    out[name] = {
      ...(c.replace && { replace: c.replace.map(toWireValue) }),
      ...(c.add && { add: c.add.map(toWireValue) }),
      ...(c.remove && { remove: c.remove.map(toWireValue) }),
    };
  }
  return out;
}

function fromWireChanges(changes: Record<string, WireAttributeChange>): Record<string, AttributeChange> {
  const out: Record<string, AttributeChange> = {};
  for (const [name, c] of Object.entries(changes)) {
    out[name] = {
      ...(c.replace && { replace: c.replace.map(fromWireValue) }),
      ...(c.add && { add: c.add.map(fromWireValue) }),
      ...(c.remove && { remove: c.remove.map(fromWireValue) }),
    };
  }
  return out;
}

function toWireImportChange(c: ImportChange): WireImportChange {
  switch (c.kind) {
    case 'upsert':
      return { kind: 'upsert', object: toWireObject(c.object) };
    case 'modify':
      return { ...c, changes: toWireChanges(c.changes) };
    default:
      return c;
  }
}

function fromWireImportChange(c: WireImportChange): ImportChange {
  switch (c.kind) {
    case 'upsert':
      return { kind: 'upsert', object: fromWireObject(c.object) };
    case 'modify':
      return { ...c, changes: fromWireChanges(c.changes) };
    default:
      return c as ImportChange;
  }
}

export function toWirePage(page: ImportPage): WireImportPage {
  return {
    changes: page.changes.map(toWireImportChange),
    ...(page.watermark !== undefined && { watermark: page.watermark }),
    ...(page.unchanged !== undefined && { unchanged: page.unchanged }),
    ...(page.resume !== undefined && { resume: page.resume }),
  };
}

export function fromWirePage(page: WireImportPage): ImportPage {
  return {
    changes: page.changes.map(fromWireImportChange),
    ...(page.watermark !== undefined && { watermark: page.watermark }),
    ...(page.unchanged !== undefined && { unchanged: page.unchanged }),
    ...(page.resume !== undefined && { resume: page.resume }),
  };
}

export function toWireExportChange(c: ExportChange): WireExportChange {
  if (c.op === 'create') return { ...c, attributes: toWireAttributes(c.attributes) };
  if (c.op === 'update') return { ...c, changes: toWireChanges(c.changes) };
  return c;
}

export function fromWireExportChange(c: WireExportChange): ExportChange {
  if (c.op === 'create') return { ...c, attributes: fromWireAttributes(c.attributes) };
  if (c.op === 'update') return { ...c, changes: fromWireChanges(c.changes) };
  return c;
}

export function toWireExportResult(r: ExportResult): WireExportResult {
  if (!r.ok) return r;
  const { object, ...rest } = r;
  return { ...rest, ...(object && { object: toWireObject(object) }) };
}

export function fromWireExportResult(r: WireExportResult): ExportResult {
  if (!r.ok) return r;
  const { object, ...rest } = r;
  return { ...rest, ...(object && { object: fromWireObject(object) }) };
}
