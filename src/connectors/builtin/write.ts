/**
 * Export changes applied to a Directory, in one transaction: the same code runs in the engine's thread (small
 * batches) and in the writer thread (writer.ts, large ones).
 */
import { type Directory, DirectoryError, type DirectoryObject, type ObjectType } from '../../directory/index.js';
import type { ConnectorObject, ExportChange, ExportError, ExportResult } from '../contract.js';

export interface BatchOutcome {
  results: ExportResult[];
  /** the change sequence before and after the batch, when nothing else can have written in between */
  span?: { from: string; to: string };
  /** the sequence after the batch, when it changed the directory */
  changedTo?: number;
}

export function writeBatch(directory: Directory, changes: ExportChange[]): BatchOutcome {
  try {
    // one commit for the batch; each change is its own savepoint, so a failed one leaves no trace
    const results = directory.transaction(() => changes.map((change) => writeOne(directory, change)));
    const written = directory.lastWriteSpan();
    const changed = written !== undefined && written.to !== written.from;
    // A delete also removes the object from the groups it was in: changes the engine did not send.
    const provable = written !== undefined && !changes.some((c) => c.op === 'delete');
    return {
      results,
      ...(provable && { span: { from: String(written.from), to: String(written.to) } }),
      ...(changed && { changedTo: written.to }),
    };
  } catch (err) {
    // the commit itself failed (disk full, file locked too long): nothing of the batch was written
    const error = {
      code: 'BUILTIN_WRITE_FAILED',
      message: `writing to ${directory.path} failed: ${(err as Error).message}`,
      retryable: true,
    };
    return { results: changes.map((change) => ({ id: change.id, ok: false, error })) };
  }
}

export function toConnectorObject(object: DirectoryObject): ConnectorObject {
  return { anchor: object.id, objectType: object.type, attributes: object.attributes };
}

function writeOne(directory: Directory, change: ExportChange): ExportResult {
  try {
    switch (change.op) {
      case 'create': {
        const type = asObjectType(change.objectType);
        if (!type) return unknownType(change.id, change.objectType);
        const created = directory.create(type, change.attributes);
        return { id: change.id, ok: true, anchor: created.id, ...stored(directory, created.id) };
      }
      case 'update':
        directory.update(change.anchor, change.changes);
        return { id: change.id, ok: true, anchor: change.anchor, ...stored(directory, change.anchor) };
      case 'delete':
        directory.delete(change.anchor);
        return { id: change.id, ok: true, anchor: change.anchor };
    }
  } catch (err) {
    if (!(err instanceof DirectoryError)) throw err;
    const error: ExportError = {
      code: err.code,
      message: err.message,
      retryable: false,
      attribute: err.place.attribute,
    };
    // notFound only for the object the change is about, never for one it merely refers to
    if (change.op !== 'create' && err.code === 'DIRECTORY_NOT_FOUND' && err.place.anchor === change.anchor) {
      error.notFound = true;
    }
    return { id: change.id, ok: false, error };
  }
}

/** The object as the directory now holds it: the engine records exactly that (see exportSpan). */
function stored(directory: Directory, id: string): { object: ConnectorObject } | Record<string, never> {
  const object = directory.get(id);
  return object ? { object: toConnectorObject(object) } : {};
}

export function asObjectType(objectType: string): ObjectType | undefined {
  return objectType === 'user' || objectType === 'group' ? objectType : undefined;
}

function unknownType(id: string, objectType: string): ExportResult {
  return {
    id,
    ok: false,
    error: {
      code: 'BUILTIN_UNKNOWN_OBJECT_TYPE',
      message: `the built-in directory holds users and groups, not ${JSON.stringify(objectType)}`,
      retryable: false,
    },
  };
}
