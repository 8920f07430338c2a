import { ConnectorError } from '../../core/errors.js';
import type { Value } from '../../core/values.js';
import { DIRECTORY_SCHEMA, type Directory } from '../../directory/index.js';
import { hashPassword, isPasswordHash } from '../../directory/password.js';
import type {
  Capabilities,
  Connector,
  ConnectorObject,
  ConnectorSchema,
  ExportChange,
  ExportResult,
  ImportChange,
  ImportPage,
  ImportRequest,
} from '../contract.js';
import { watchCommits } from '../commit-watch.js';
import { asObjectType, type BatchOutcome, toConnectorObject, writeBatch } from './write.js';
import { DirectoryWriter } from './writer.js';

/** Export batches at least this large go to the writer thread (the engine sends 500 at a time). */
const THREADED_BATCH = 100;
/** the writer's page cache: one batch's writes (see index.ts) */
const WRITER_CACHE_KB = 16_384;

/**
 * The connector over idsync's own directory. Anchors are the directory's ids; references ({ ref }) are ids
 * too. Delta import reads the directory's change sequence, so the watermark is that sequence number.
 */
export class BuiltinConnector implements Connector {
  readonly type = 'builtin';
  readonly capabilities: Capabilities = {
    deltaImport: true,
    export: true,
    watch: true,
    disableAttributes: { active: [false] },
  };

  constructor(
    readonly name: string,
    private readonly directory: Directory,
    private readonly release: () => void,
  ) {}

  async test(): Promise<void> {
    try {
      this.directory.currentSequence();
    } catch (err) {
      throw new ConnectorError(
        'BUILTIN_UNAVAILABLE',
        `cannot read ${this.directory.path}`,
        { connector: this.name },
        false,
        {
          cause: err,
        },
      );
    }
  }

  deltaMethod(): string {
    return 'change sequence';
  }

  async schema(): Promise<ConnectorSchema> {
    return { objectTypes: structuredClone(DIRECTORY_SCHEMA) };
  }

  async *import(request: ImportRequest): AsyncIterable<ImportPage> {
    if (request.mode === 'delta' && request.watermark !== null) {
      yield* this.deltaImport(request, this.parseWatermark(request.watermark));
    } else {
      yield* this.fullImport(request);
    }
  }

  async *export(input: ExportChange[]): AsyncIterable<ExportResult> {
    // A password exported here has its home here: stored as a scrypt hash, made before the transaction.
    const changes = await Promise.all(input.map(withHashedPassword));
    this.span = undefined;
    // A large batch is written by the writer thread, so that the engine records the previous one meanwhile
    // (on a second core); a small one is not worth the hop, and a throwaway ':memory:' one has no file to share.
    const threaded = changes.length >= THREADED_BATCH && this.directory.path !== ':memory:';
    const outcome = threaded ? await this.writeThreaded(changes) : writeBatch(this.directory, changes);
    this.span = outcome.span;
    // The writer's commits are another connection's: this process's watchers hear of them from here.
    if (threaded && outcome.changedTo !== undefined) this.directory.announce(outcome.changedTo);
    yield* outcome.results;
  }

  private writerThread: DirectoryWriter | undefined;

  private async writeThreaded(changes: ExportChange[]): Promise<BatchOutcome> {
    this.writerThread ??= new DirectoryWriter(this.directory.path, WRITER_CACHE_KB);
    const writer = this.writerThread;
    try {
      return await writer.write(changes);
    } catch (err) {
      // A thread that failed is replaced at the next batch; this one the engine retries (it is in-flight).
      if (this.writerThread === writer) this.writerThread = undefined;
      await writer.close();
      throw err;
    }
  }

  private span: { from: string; to: string } | undefined;

  exportSpan(): { from: string; to: string } | undefined {
    return this.span;
  }

  async lookup(objectType: string, attribute: string, values: Value[]): Promise<ConnectorObject[]> {
    const type = asObjectType(objectType);
    if (!type) return [];
    const found = new Map<string, ConnectorObject>();
    for (const value of values) {
      for (const object of this.directory.findBy(attribute, value, type))
        found.set(object.id, toConnectorObject(object));
    }
    return [...found.values()];
  }

  async read(objectType: string, anchor: string): Promise<ConnectorObject | null> {
    const type = asObjectType(objectType);
    const object = type ? this.directory.get(anchor) : undefined;
    return object && object.type === type ? toConnectorObject(object) : null;
  }

  watch(signal: AbortSignal): AsyncIterable<void> {
    return watchCommits(this.directory, signal);
  }


  async close(): Promise<void> {
    await this.writerThread?.close();
    this.writerThread = undefined;
    this.release();
  }

  // ---- import -------------------------------------------------------------------------------------------

  private async *fullImport(request: ImportRequest): AsyncIterable<ImportPage> {
    // Read before the first page: whatever changes during the listing has a higher number, so the next
    // delta import sees it even if the listing missed it.
    const startSequence = this.directory.currentSequence();
    let afterId = '';
    for (;;) {
      request.signal?.throwIfAborted();
      const objects = this.directory.list({ afterId, limit: request.pageSize });
      const last = objects.length < request.pageSize;
      const changes: ImportChange[] = objects.map((object) => ({
        kind: 'upsert',
        object: toConnectorObject(object),
      }));
      // the watermark only on the last page: a full import cut short must not be resumed as a delta
      yield last ? { changes, watermark: String(startSequence) } : { changes };
      if (last) return;
      afterId = objects[objects.length - 1]!.id;
    }
  }

  private async *deltaImport(request: ImportRequest, since: number): AsyncIterable<ImportPage> {
    let seq = since;
    for (;;) {
      request.signal?.throwIfAborted();
      const page = this.directory.changesSince(seq, request.pageSize);
      yield { changes: toImportChanges(page.changes), watermark: String(page.lastSeq) };
      if (page.changes.length < request.pageSize) return;
      seq = page.lastSeq;
    }
  }

  private parseWatermark(watermark: string): number {
    const seq = /^\d+$/.test(watermark) ? Number(watermark) : Number.NaN;
    if (!Number.isSafeInteger(seq)) {
      throw new ConnectorError(
        'BUILTIN_WATERMARK_INVALID',
        `watermark ${JSON.stringify(watermark)} is not a sequence number`,
        { connector: this.name },
        false,
        { fullImportRequired: true },
      );
    }
    const current = this.directory.currentSequence();
    if (seq > current) {
      // The file was replaced or restored from an older backup: a delta from here would miss changes.
      throw new ConnectorError(
        'BUILTIN_WATERMARK_AHEAD',
        `watermark ${seq} is ahead of the directory (at ${current}): was ${this.directory.path} replaced? run a full import`,
        { connector: this.name },
        false,
        { fullImportRequired: true },
      );
    }
    return seq;
  }
}

/**
 * Directory changes in order; consecutive membership changes of a group fold into one `modify`, keeping for
 * each member only its last change (added then removed = removed).
 */
function toImportChanges(changes: ReturnType<Directory['changesSince']>['changes']): ImportChange[] {
  const out: ImportChange[] = [];
  const memberChanges = new Map<string, Map<string, boolean>>();
  for (const change of changes) {
    if (change.kind === 'member') {
      let members = memberChanges.get(change.groupId);
      if (!members) {
        members = new Map();
        memberChanges.set(change.groupId, members);
        // placeholder, filled below: the modify sits where the group's first membership change was
        out.push({ kind: 'modify', anchor: change.groupId, objectType: 'group', changes: {} });
      }
      members.delete(change.memberId);
      members.set(change.memberId, change.added);
    } else if (change.kind === 'upsert') {
      out.push({ kind: 'upsert', object: toConnectorObject(change.object) });
    } else {
      out.push({ kind: 'delete', anchor: change.id, objectType: change.type });
    }
  }
  for (const change of out) {
    if (change.kind !== 'modify') continue;
    const members = memberChanges.get(change.anchor)!;
    const add: Value[] = [];
    const remove: Value[] = [];
    for (const [memberId, added] of members) (added ? add : remove).push({ ref: memberId });
    change.changes = { members: { ...(add.length > 0 && { add }), ...(remove.length > 0 && { remove }) } };
  }
  return out;
}

async function hashAll(values: Value[] | undefined): Promise<Value[] | undefined> {
  if (!values) return values;
  return Promise.all(values.map((v) => (typeof v === 'string' && !isPasswordHash(v) ? hashPassword(v) : v)));
}

async function withHashedPassword(change: ExportChange): Promise<ExportChange> {
  if (change.op === 'create' && change.attributes.password) {
    return { ...change, attributes: { ...change.attributes, password: (await hashAll(change.attributes.password))! } };
  }
  if (change.op === 'update' && change.changes.password) {
    const c = change.changes.password;
    const replace = await hashAll(c.replace);
    const add = await hashAll(c.add);
    return { ...change, changes: { ...change.changes, password: { ...c, ...(replace && { replace }), ...(add && { add }) } } };
  }
  return change;
}
