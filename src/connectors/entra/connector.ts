import type { Value } from '../../core/values.js';
import type {
  Capabilities,
  Connector,
  ConnectorContext,
  ConnectorObject,
  ConnectorSchema,
  ExportChange,
  ExportResult,
  ImportPage,
  ImportRequest,
} from '../contract.js';
import { Exporter } from './export.js';
import { deltaImport, fullImport, parseWatermark } from './import.js';
import { Runtime } from './runtime.js';
import type { EntraSettings } from './settings.js';

/**
 * Microsoft Entra ID through Microsoft Graph v1.0: users and groups, manager and members as references
 * (object ids). Anchors are Entra object ids; rules join on onPremisesImmutableId, userPrincipalName, mail or
 * employeeId as they say.
 */
export class EntraConnector implements Connector {
  readonly type = 'entra';
  readonly capabilities: Capabilities = {
    deltaImport: true,
    export: true,
    watch: false,
    disableAttributes: { accountEnabled: [false] },
  };
  private readonly rt: Runtime;
  private readonly exporter: Exporter;

  constructor(
    readonly name: string,
    settings: EntraSettings,
    context: ConnectorContext,
  ) {
    this.rt = new Runtime(name, settings, context.configDir, context.log);
    this.exporter = new Exporter(this.rt);
  }

  /** Request counters of this instance (requests, batches, throttled, retries) and token requests. */
  get requestStats() {
    return { ...this.rt.http.stats, tokenRequests: this.rt.http.tokens.requests, consistencyWaits: this.rt.consistencyWaits };
  }

  async test(): Promise<void> {
    this.rt.http.resetCall();
    try {
      const res = await this.rt.http.request('GET', '/users?$select=id&$top=1', { retry: 'safe' });
      if (res.status !== 200) throw this.rt.readError(res, 'GET /users');
    } catch (err) {
      throw this.rt.asConnectorError(err, `testing ${this.rt.http.base}`);
    }
  }

  deltaMethod(watermark: string | null): string | undefined {
    return watermark === null ? undefined : 'Graph delta query (@odata.deltaLink)';
  }

  async schema(): Promise<ConnectorSchema> {
    return { objectTypes: { user: structuredClone(this.rt.models.user.schema), group: structuredClone(this.rt.models.group.schema) } };
  }

  async *import(request: ImportRequest): AsyncIterable<ImportPage> {
    this.rt.http.resetCall();
    try {
      if (request.mode === 'delta' && request.watermark !== null) {
        const watermark = parseWatermark(request.watermark);
        if (!watermark) {
          throw this.rt.fail('ENTRA_WATERMARK_INVALID', 'the watermark is not one this connector wrote: a full import runs instead', false, { fullImportRequired: true });
        }
        yield* deltaImport(this.rt, watermark, request);
        return;
      }
      yield* fullImport(this.rt, request);
    } catch (err) {
      throw this.rt.asConnectorError(err, `importing from ${this.rt.http.base}`);
    }
  }

  async *export(changes: ExportChange[]): AsyncIterable<ExportResult> {
    this.rt.http.resetCall();
    yield* this.exporter.run(changes);
  }

  /**
   * Objects whose attribute equals one of the values. The engine asks before re-sending a create that may
   * have reached Graph before a crash: an empty answer is trusted only after consistencyWait (the object
   * may not have replicated yet), so the lookup waits that long at most.
   */
  async lookup(objectType: string, attribute: string, values: Value[]): Promise<ConnectorObject[]> {
    const model = this.rt.model(objectType);
    if (!model) return [];
    const found = new Map<string, ConnectorObject>();
    try {
      for (const value of values) {
        for (const o of await this.rt.find(model, attribute, value, this.rt.emptyTrustedAt())) found.set(o.anchor, o);
      }
    } catch (err) {
      throw this.rt.asConnectorError(err, `looking up ${objectType} by ${attribute}`);
    }
    return [...found.values()];
  }

  async close(): Promise<void> {
    await this.rt.http.close();
  }
}
