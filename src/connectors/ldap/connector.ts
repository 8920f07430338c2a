/**
 * The `ldap` connector: OpenLDAP, Active Directory (Samba AD DC too) and other LDAP v3 directories.
 */
import { EqualityFilter, PresenceFilter, AndFilter } from 'ldapts';
import { ConnectorError } from '../../core/errors.js';
import type { Value } from '../../core/values.js';
import type {
  AttributeSchema,
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
import { adDelta, dirSyncWatermark, usnWatermark } from './ad.js';
import { Directory } from './directory.js';
import { ACCOUNT_DISABLED, completeRanges, EntryMapper } from './entries.js';
import { Exporter } from './export.js';
import {
  accesslogDelta,
  accesslogWatermark,
  type DeltaMode,
  fullImport,
  orOf,
  resyncRequired,
  syncreplDelta,
  syncreplWatermark,
  timestampDelta,
  type TimestampTracker,
  timestampWatermark,
  WATERMARK_PREFIX,
  watermarkMode,
} from './import.js';
import { LdapResultError, type LdapConnection } from './protocol/connection.js';
import type { ResolvedSettings } from './settings.js';
import { anchorSearchValue, toLdap } from './values.js';
import { watchDirectory } from './watch.js';

/** What each delta mode is, for people (status, the run records). */
const DELTA_METHODS: Record<DeltaMode, string> = {
  syncrepl: 'RFC 4533 syncrepl (refreshOnly)',
  accesslog: 'accesslog overlay',
  modifyTimestamp: 'modifyTimestamp',
  dirsync: 'DirSync',
  usnchanged: 'uSNChanged',
};

export class LdapConnector implements Connector {
  readonly type = 'ldap';
  readonly capabilities: Capabilities;
  readonly directory: Directory;
  private mapperPromise: Promise<EntryMapper> | undefined;
  private shared: Promise<LdapConnection> | undefined;
  private detectedMode: DeltaMode | undefined;
  private readonly open = new Set<LdapConnection>();

  constructor(
    readonly name: string,
    settings: ResolvedSettings,
    context: ConnectorContext,
  ) {
    this.directory = new Directory(name, settings, context.log);
    this.capabilities = {
      deltaImport: true,
      export: true,
      watch: true,
      nameAttribute: 'dn',
      ...(settings.flavor === 'ad' ? { disableAttributes: { [ACCOUNT_DISABLED]: [true] } } : {}),
    };
  }

  private async connect(): Promise<LdapConnection> {
    const connection = await this.directory.open();
    this.open.add(connection);
    connection.onClose(() => this.open.delete(connection));
    return connection;
  }

  /** the connection exports and lookups share (reopened when lost) */
  private async sharedConnection(): Promise<LdapConnection> {
    const current = this.shared ? await this.shared.catch(() => undefined) : undefined;
    if (current && !current.closed) return current;
    this.shared = this.connect();
    this.shared.catch(() => {
      this.shared = undefined;
    });
    return this.shared;
  }

  async mapper(connection?: LdapConnection): Promise<EntryMapper> {
    this.mapperPromise ??= this.directory
      .schema(connection)
      .then((schema) => new EntryMapper(this.directory, schema))
      .catch((err) => {
        this.mapperPromise = undefined;
        throw err;
      });
    return this.mapperPromise;
  }

  async test(): Promise<void> {
    const connection = await this.connect();
    try {
      await connection.searchAll({
        baseDN: this.directory.settings.baseDN,
        scope: 'base',
        filter: new PresenceFilter({ attribute: 'objectClass' }),
        attributes: ['1.1'],
      });
    } catch (err) {
      throw this.directory.error(err, `reading the base DN ${this.directory.settings.baseDN}`);
    } finally {
      await connection.close();
    }
  }

  async schema(): Promise<ConnectorSchema> {
    const connection = await this.sharedConnection();
    try {
      const mapper = await this.mapper(connection);
      const objectTypes: ConnectorSchema['objectTypes'] = {};
      for (const [name, type] of Object.entries(this.directory.settings.objectTypes)) {
        const names =
          type.attributes.length > 0 ? type.attributes : mapper.schema.attributesOf(type.objectClasses);
        const attributes: Record<string, AttributeSchema> = {};
        for (const attribute of new Set(['objectClass', mapper.anchorAttribute, ...names])) {
          attributes[mapper.spell(attribute)] = { ...mapper.attributeSchema(attribute) };
        }
        attributes[mapper.spell(mapper.anchorAttribute)]!.readOnly = true;
        attributes.dn = { type: 'string', multiValued: false };
        if (
          this.directory.isAd &&
          Object.keys(attributes).some((a) => a.toLowerCase() === 'useraccountcontrol')
        ) {
          attributes[ACCOUNT_DISABLED] = { type: 'boolean', multiValued: false };
          attributes.unicodePwd = { type: 'string', multiValued: false, secret: true };
        }
        objectTypes[name] = { attributes };
      }
      return { objectTypes };
    } catch (err) {
      throw this.directory.error(err, 'reading the schema');
    }
  }

  import(request: ImportRequest): AsyncIterable<ImportPage> {
    return this.runImport(request);
  }

  private async *runImport(request: ImportRequest): AsyncGenerator<ImportPage> {
    let connection: LdapConnection | undefined;
    let side: Promise<LdapConnection> | undefined;
    const sideConnection = () => {
      side ??= this.connect();
      return side;
    };
    try {
      connection = await this.connect();
      const mapper = await this.mapper(connection);
      if (request.mode === 'full') {
        const watermark = await this.currentWatermark(connection);
        yield* fullImport(this.directory, mapper, connection, watermark, request, sideConnection);
        return;
      }
      const watermark = request.watermark;
      const mode = watermark ? watermarkMode(watermark) : undefined;
      if (!watermark || !mode) throw resyncRequired(this.directory, 'no watermark from a full import');
      const configured = this.directory.settings.delta;
      if (configured !== 'auto' && configured !== mode) {
        throw resyncRequired(
          this.directory,
          `the watermark is for ${mode}, the connector is set to ${configured}`,
        );
      }
      switch (mode) {
        case 'syncrepl':
          yield* syncreplDelta(this.directory, mapper, connection, watermark, request);
          break;
        case 'accesslog':
          yield* accesslogDelta(this.directory, mapper, connection, watermark, request);
          break;
        case 'modifyTimestamp':
          yield* timestampDelta(this.directory, mapper, connection, watermark, request, sideConnection);
          break;
        case 'dirsync':
        case 'usnchanged':
          yield* adDelta(this.directory, mapper, connection, watermark, request, sideConnection);
          break;
      }
    } catch (err) {
      throw this.directory.error(err, `${request.mode} import`);
    } finally {
      await connection?.close();
      if (side) await (await side.catch(() => undefined))?.close();
    }
  }

  deltaMethod(watermark: string | null): string | undefined {
    const mode = (watermark === null ? undefined : watermarkMode(watermark)) ?? (this.directory.settings.delta === 'auto' ? undefined : this.directory.settings.delta);
    return mode && DELTA_METHODS[mode];
  }

  /** the delta mode in use: the configured one, or the best the server offers */
  async deltaMode(connection: LdapConnection): Promise<DeltaMode> {
    const configured = this.directory.settings.delta;
    if (configured !== 'auto') return configured;
    if (this.detectedMode) return this.detectedMode;
    const root = await this.directory.rootDse(connection);
    let mode: DeltaMode;
    if (this.directory.isAd) {
      mode = root.supportedControls.has('1.2.840.113556.1.4.841') ? 'dirsync' : 'usnchanged';
    } else if (await succeeds(() => syncreplWatermark(this.directory, connection))) {
      mode = 'syncrepl';
    } else if (
      root.namingContexts.some(
        (c) => c.toLowerCase() === this.directory.settings.accesslogBase.toLowerCase(),
      ) &&
      (await succeeds(() => accesslogWatermark(this.directory, connection)))
    ) {
      mode = 'accesslog';
    } else {
      mode = 'modifyTimestamp';
    }
    this.directory.log.info('LDAP delta mode chosen', { mode });
    this.detectedMode = mode;
    return mode;
  }

  private async currentWatermark(connection: LdapConnection): Promise<string | TimestampTracker> {
    const mode = await this.deltaMode(connection);
    switch (mode) {
      case 'syncrepl':
        return syncreplWatermark(this.directory, connection);
      case 'accesslog':
        return accesslogWatermark(this.directory, connection);
      case 'modifyTimestamp':
        return timestampWatermark(this.directory, connection);
      case 'dirsync':
        return dirSyncWatermark(this.directory, await this.mapper(connection), connection);
      case 'usnchanged':
        return usnWatermark(this.directory, connection);
    }
  }

  export(changes: ExportChange[]): AsyncIterable<ExportResult> {
    return this.runExport(changes);
  }

  private async *runExport(changes: ExportChange[]): AsyncGenerator<ExportResult> {
    let exporter: Exporter;
    try {
      const connection = await this.sharedConnection();
      const mapper = await this.mapper(connection);
      exporter = new Exporter(
        this.directory,
        mapper,
        () => this.sharedConnection(),
        await this.directory.rootDse(connection),
      );
    } catch (err) {
      // no connection: every change fails the same (retryable) way, and the engine tries again next cycle
      const error = this.directory.error(err, 'export');
      for (const change of changes) {
        yield {
          id: change.id,
          ok: false,
          error: {
            code: error.code,
            message: error.message,
            retryable: error.retryable,
            remoteCode: error.remoteCode,
            connection: error.connection,
          },
        };
      }
      return;
    }
    yield* exporter.run(changes);
  }

  async lookup(objectType: string, attribute: string, values: Value[]): Promise<ConnectorObject[]> {
    if (values.length === 0) return [];
    try {
      const connection = await this.sharedConnection();
      const mapper = await this.mapper(connection);
      const schema = mapper.attributeSchema(attribute);
      const isAnchor = attribute.toLowerCase() === mapper.anchorAttribute.toLowerCase();
      const binary = mapper.isBinary(attribute);
      const out: ConnectorObject[] = [];
      for (let i = 0; i < values.length; i += 100) {
        const filters = values.slice(i, i + 100).map((value) => {
          const raw =
            isAnchor && typeof value === 'string'
              ? anchorSearchValue(attribute, value, binary)
              : toLdap(value, schema);
          return new EqualityFilter({ attribute, value: raw });
        });
        for (const base of mapper.searchBases()) {
          const entries = await connection.searchAll({
            baseDN: base,
            scope: 'sub',
            filter: new AndFilter({ filters: [mapper.typeFilter(objectType), orOf(filters)] }),
            attributes: mapper.requestedAttributes(),
            binary: mapper.isBinary,
          });
          for (let entry of entries) {
            if (entry.attributes.some((a) => a.type.includes(';range=')))
              entry = await completeRanges(connection, entry, mapper.isBinary);
            const object = mapper.toObject(entry);
            if (object && !('error' in object) && object.objectType === objectType) out.push(object);
          }
        }
      }
      return out;
    } catch (err) {
      if (err instanceof LdapResultError && err.resultCode === 32) return [];
      throw this.directory.error(err, `lookup of ${objectType} by ${attribute}`, { attribute });
    }
  }

  /** One entry by its anchor (entryUUID, objectGUID: an equality search on it under each search base). */
  async read(objectType: string, anchor: string): Promise<ConnectorObject | null> {
    let anchorAttribute: string;
    try {
      anchorAttribute = (await this.mapper(await this.sharedConnection())).anchorAttribute;
    } catch (err) {
      throw this.directory.error(err, `read of ${objectType} ${anchor}`);
    }
    const found = await this.lookup(objectType, anchorAttribute, [anchor]);
    return found.find((o) => o.anchor.toLowerCase() === anchor.toLowerCase()) ?? null;
  }

  watch(signal: AbortSignal): AsyncIterable<void> {
    return watchDirectory(this, signal);
  }

  /** @internal for watch: a new connection tracked by close() */
  newConnection(): Promise<LdapConnection> {
    return this.connect();
  }

  async close(): Promise<void> {
    const connections = [...this.open];
    this.open.clear();
    this.shared = undefined;
    await Promise.all(connections.map((c) => c.close()));
  }

  /** the watermark prefix of a mode (for watch) */
  static prefix(mode: DeltaMode): string {
    return WATERMARK_PREFIX[mode];
  }
}

async function succeeds(probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (err) {
    if (err instanceof LdapResultError || err instanceof ConnectorError) return false;
    throw err;
  }
}
