/**
 * The `api` connector: a source whose system pushes. HR systems post people to idsync's bulkUpload endpoint
 * (src/server/inbound/), which writes them to this connector's record store; the connector imports them
 * (full: every live record; delta: what changed since the watermark, a sequence number of the store) and
 * tells the engine of each push through watch(), so a push is synced at once, not at the next schedule.
 */
import { ConnectorError } from '../../core/errors.js';
import type { Capabilities, Connector, ConnectorObject, ConnectorSchema, ImportChange, ImportPage, ImportRequest } from '../contract.js';
import { watchCommits } from '../commit-watch.js';
import { OBJECT_TYPE } from './record.js';
import type { RecordStore, StoredRecord } from './records.js';


export class ApiConnector implements Connector {
  readonly type = 'api';
  readonly capabilities: Capabilities = { deltaImport: true, export: false, watch: true };

  constructor(
    readonly name: string,
    private readonly records: RecordStore,
    private readonly connectorSchema: ConnectorSchema,
    private readonly release: () => void,
  ) {}

  async test(): Promise<void> {
    try {
      this.records.currentSequence();
    } catch (err) {
      throw new ConnectorError('API_STORE_UNAVAILABLE', `cannot read ${this.records.path}`, { connector: this.name }, false, { cause: err });
    }
  }

  async schema(): Promise<ConnectorSchema> {
    return structuredClone(this.connectorSchema);
  }

  deltaMethod(): string {
    return 'push sequence';
  }

  async *import(request: ImportRequest): AsyncIterable<ImportPage> {
    if (request.mode === 'delta' && request.watermark !== null) {
      let seq = this.parseWatermark(request.watermark);
      for (;;) {
        request.signal?.throwIfAborted();
        const page = this.records.changesSince(seq, request.pageSize);
        if (page.length === 0) {
          yield { changes: [], watermark: String(seq) };
          return;
        }
        seq = page[page.length - 1]!.seq;
        yield { changes: page.map(toChange), watermark: String(seq) };
        if (page.length < request.pageSize) return;
      }
    }
    // Read before the first page: a record pushed during the listing has a higher number, so the next delta
    // import sees it even if the listing missed it.
    const start = this.records.currentSequence();
    let after = '';
    for (;;) {
      request.signal?.throwIfAborted();
      const page = this.records.list(after, request.pageSize);
      const last = page.length < request.pageSize;
      const changes = page.map(toChange);
      // the watermark only on the last page: a full import cut short must not be resumed as a delta
      yield last ? { changes, watermark: String(start) } : { changes };
      if (last) return;
      after = page[page.length - 1]!.anchor;
    }
  }

  watch(signal: AbortSignal): AsyncIterable<void> {
    return watchCommits(this.records, signal);
  }


  async close(): Promise<void> {
    this.release();
  }

  private parseWatermark(watermark: string): number {
    const seq = /^\d+$/.test(watermark) ? Number(watermark) : Number.NaN;
    if (!Number.isSafeInteger(seq)) {
      throw new ConnectorError('API_WATERMARK_INVALID', `watermark ${JSON.stringify(watermark)} is not a sequence number`, { connector: this.name }, false, { fullImportRequired: true });
    }
    const current = this.records.currentSequence();
    if (seq > current) {
      throw new ConnectorError(
        'API_WATERMARK_AHEAD',
        `watermark ${seq} is ahead of the pushed records (at ${current}): was ${this.records.path} replaced? run a full import`,
        { connector: this.name },
        false,
        { fullImportRequired: true },
      );
    }
    return seq;
  }
}

function toObject(r: StoredRecord): ConnectorObject {
  return { anchor: r.anchor, objectType: OBJECT_TYPE, attributes: r.attributes };
}

function toChange(r: StoredRecord): ImportChange {
  return r.deleted ? { kind: 'delete', anchor: r.anchor, objectType: OBJECT_TYPE } : { kind: 'upsert', object: toObject(r) };
}
