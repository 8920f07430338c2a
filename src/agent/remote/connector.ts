/**
 * A connector that runs on an agent (`agent: GROUP` in idsync.yaml), seen by the engine as any other: each
 * operation goes over the channel to one connected agent of the group (hub/hub.ts).
 *
 * - import: pull. `import.next` is sent only when the engine asks for the next page, which it does after
 *   committing the last one, so the agent reads ahead at most a page. If the agent's connection drops
 *   mid-import the import goes on on another agent of the group: a delta from the watermark of the last page
 *   the engine committed; a full import from the resume position of that page where the connector gives one
 *   (CSV), else from its start again (pages already committed come again and change nothing). The engine's
 *   import loop never sees the move: what it has seen so far (to know what is gone) stays as it is.
 * - export: one batch per request, one result per change. A batch whose agent vanished is answered as a
 *   connection failure (retried at the next cycle; its creates stay in-flight, so the engine looks each up
 *   before creating it again and finds those the agent made), never re-sent to another agent in the same breath.
 * - test, schema, lookup: read-only, so moved to another agent when the connection drops.
 * - watch: the agents' watch.changed notifications for this connector, and the return of the group's first
 *   agent (the connector was skipped while the group had none).
 * - unavailable(): no agent of the group connected: the engine skips the connector this cycle (incomplete).
 */
import { ConnectorError } from '../../core/errors.js';
import type { Value } from '../../core/values.js';
import type {
  Capabilities,
  Connector,
  ConnectorObject,
  ConnectorSchema,
  ExportChange,
  ExportResult,
  ImportPage,
  ImportRequest,
} from '../../connectors/contract.js';
import { agentHub } from '../hub/current.js';
import type { AgentHub } from '../hub/hub.js';
import { fromWireExportResult, fromWireObject, fromWirePage, toWireExportChange } from '../protocol/convert.js';
import { AgentProtocolError } from '../protocol/errors.js';
import { ExportBatch, ImportClose, ImportNext, ImportOpen, Lookup, ReadSchema, type RequestType, TestConnector } from '../protocol/methods.js';
import { fromWireAttributes, toWireValue } from '../protocol/values.js';

/** how many times one operation moves to another agent before it fails */
const MAX_MOVES = 5;

const MOVABLE = new Set(['AGENT_CONNECTION_LOST', 'AGENT_BUSY']);

export class RemoteConnector implements Connector {
  constructor(
    readonly name: string,
    readonly type: string,
    readonly group: string,
    /** the same connector built on the service, never connected: its capabilities (undefined: not buildable here) */
    private readonly local: Connector | undefined,
  ) {}

  get capabilities(): Capabilities {
    if (this.local) return this.local.capabilities;
    const reported = agentHub()?.capabilitiesOf(this.group, this.name);
    if (!reported) return { deltaImport: true, export: true, watch: false };
    const { disableAttributes, ...rest } = reported;
    return { ...rest, ...(disableAttributes && { disableAttributes: fromWireAttributes(disableAttributes) }) };
  }

  unavailable(): string | undefined {
    const hub = agentHub();
    if (!hub) return `it runs on an agent of group ${this.group}, and only \`idsync serve\` accepts agents`;
    if (!hub.hasAgent(this.group)) return `no agent of group ${this.group} is connected (\`idsync agents list\`)`;
    return undefined;
  }

  deltaMethod(watermark: string | null): string | undefined {
    const method = this.local?.deltaMethod?.(watermark);
    return method && `${method}, through an agent of group ${this.group}`;
  }

  async test(): Promise<void> {
    await this.call(TestConnector, { connector: this.name });
  }

  async schema(): Promise<ConnectorSchema> {
    return this.call(ReadSchema, { connector: this.name });
  }

  async *import(request: ImportRequest): AsyncIterable<ImportPage> {
    const hub = this.hub();
    const mode = request.mode;
    let watermark = request.watermark;
    let resume = request.resume;
    let moves = 0;
    for (;;) {
      let via: number;
      let session: string;
      try {
        const opened = await hub.call(this.group, ImportOpen, {
          connector: this.name,
          mode,
          watermark,
          pageSize: request.pageSize,
          ...(mode === 'full' && resume !== undefined && { resume }),
        });
        via = opened.via;
        session = opened.result.session;
      } catch (err) {
        if (isMovable(err) && moves++ < MAX_MOVES) continue;
        throw this.failure(err);
      }
      let finished = false;
      try {
        for (;;) {
          if (request.signal?.aborted) return;
          const next = await hub.callOn(via, ImportNext, { session });
          if (next.done) {
            finished = true;
            return;
          }
          const page = fromWirePage(next.page);
          // the engine commits the page before it asks for the next one: this is the committed watermark then
          if (page.watermark !== undefined && page.watermark !== null && mode === 'delta') watermark = page.watermark;
          // and, for a full import, where the connector can go on after it (absent: from the first page again)
          if (mode === 'full') resume = page.resume;
          yield page;
        }
      } catch (err) {
        if (!isMovable(err) || moves++ >= MAX_MOVES) throw this.failure(err);
        // the agent is gone: a delta goes on from the last committed page's watermark on another agent, a
        // full import from the last committed page's resume position where its connector gives one, else
        // from its first page (see the head of this file)
      } finally {
        if (!finished) void hub.callOn(via, ImportClose, { session }).catch(() => {});
      }
    }
  }

  async *export(changes: ExportChange[]): AsyncIterable<ExportResult> {
    let results: ExportResult[];
    try {
      const { result } = await this.hub().call(this.group, ExportBatch, { connector: this.name, changes: changes.map(toWireExportChange) });
      results = result.results.map(fromWireExportResult);
    } catch (err) {
      const e = this.failure(err);
      results = changes.map((c) => ({
        id: c.id,
        ok: false as const,
        error: { code: e.code, message: e.message, retryable: true, connection: true },
      }));
    }
    yield* results;
  }

  async lookup(objectType: string, attribute: string, values: Value[]): Promise<ConnectorObject[]> {
    const answer = await this.call(Lookup, { connector: this.name, objectType, attribute, values: values.map(toWireValue) });
    return answer.objects.map(fromWireObject);
  }

  async *watch(signal: AbortSignal): AsyncIterable<void> {
    const hub = agentHub();
    if (!hub) return;
    let waiting: (() => void) | undefined;
    let pending = false;
    const onWatch = (group: string, connector: string) => {
      if (group !== this.group || connector !== this.name) return;
      pending = true;
      waiting?.();
    };
    // a group whose first agent (re)connects: its connectors were skipped meanwhile, a cycle should not wait
    const onRestored = (group: string) => onWatch(group, this.name);
    const onAbort = () => waiting?.();
    hub.on('watch', onWatch);
    hub.on('group-restored', onRestored);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        if (!pending) await new Promise<void>((resolve) => (waiting = resolve));
        waiting = undefined;
        if (signal.aborted) return;
        if (!pending) continue;
        pending = false;
        yield;
      }
    } finally {
      hub.off('watch', onWatch);
      hub.off('group-restored', onRestored);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    await this.local?.close();
  }

  private hub(): AgentHub {
    const hub = agentHub();
    if (!hub) throw new ConnectorError('AGENT_GROUP_OFFLINE', this.unavailable()!, { connector: this.name }, true, { connection: true });
    return hub;
  }

  /** A read-only request, moved to another agent when its connection drops. */
  private async call<P, R>(type: RequestType<P, R>, params: P): Promise<R> {
    const hub = this.hub();
    for (let moves = 0; ; moves++) {
      try {
        // a dropped connection leaves the hub at once, so the next try goes to another agent
        return (await hub.call(this.group, type, params)).result;
      } catch (err) {
        if (!isMovable(err) || moves >= MAX_MOVES) throw this.failure(err);
      }
    }
  }

  /** An error from the wire as the engine reads connector errors: coded, retryable or not, a connection failure or not. */
  private failure(err: unknown): ConnectorError {
    if (err instanceof ConnectorError) return err;
    if (err instanceof AgentProtocolError) {
      const channel = err.code.startsWith('AGENT_') && (MOVABLE.has(err.code) || err.code === 'AGENT_GROUP_OFFLINE');
      return new ConnectorError(err.code, err.message, { ...err.place, connector: this.name }, err.retryable || channel, {
        connection: err.connection || channel,
        fullImportRequired: err.fullImportRequired,
      });
    }
    return new ConnectorError('AGENT_HANDLER_FAILED', (err as Error).message ?? String(err), { connector: this.name }, false);
  }
}

function isMovable(err: unknown): boolean {
  return err instanceof AgentProtocolError && MOVABLE.has(err.code);
}
