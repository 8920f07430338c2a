import { isAbsolute, resolve } from 'node:path';
import { ConnectorError } from '../../core/errors.js';
import type { Value } from '../../core/values.js';
import type {
  AttributeSchema,
  AttributeType,
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
import type { ColumnKind, Db, DbOptions } from './client.js';
import { openMysql } from './client-mysql.js';
import { openPostgres } from './client-postgres.js';
import { openSqlite } from './client-sqlite.js';
import { dialectFor } from './dialect.js';
import { connectorError } from './errors.js';
import { runExport, runLookup } from './export.js';
import { runImport, runRead } from './import.js';
import { attributeOfColumn, buildMapping, kindOf, type ObjectTypeMapping } from './mapping.js';
import { probe, type Runtime } from './runtime.js';
import type { SqlSettings } from './settings.js';

function attributeType(kind: ColumnKind | undefined): AttributeType {
  switch (kind) {
    case 'integer':
    case 'number':
    case 'decimal':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'timestamp':
    case 'timestamptz':
    case 'date':
      return 'date';
    case 'binary':
      return 'binary';
    default:
      return 'string';
  }
}

function sqliteFile(settings: SqlSettings, configDir: string): string {
  const raw = settings.file ?? (settings.url ?? '').replace(/^(sqlite|file):(\/\/)?/, '');
  return isAbsolute(raw) ? raw : resolve(configDir, raw);
}

class SqlConnector implements Connector {
  readonly type = 'sql';
  readonly capabilities: Capabilities;
  private runtime?: Runtime;
  private readonly mappings: Map<string, ObjectTypeMapping>;

  constructor(
    readonly name: string,
    private readonly settings: SqlSettings,
    private readonly context: ConnectorContext,
  ) {
    const dialect = dialectFor(settings.driver);
    this.mappings = new Map(
      Object.entries(settings.objectTypes).map(([type, o]) => [type, buildMapping(type, o, dialect)]),
    );
    this.capabilities = {
      deltaImport: Object.values(settings.objectTypes).every((o) => o.delta),
      export: true,
      watch: false,
    };
  }

  /** Opens the pool on first use: creating a connector never touches the network. */
  private rt(): Runtime {
    if (this.runtime) return this.runtime;
    const s = this.settings;
    const options: DbOptions = {
      connectorName: this.name,
      driver: s.driver,
      url: s.driver === 'sqlite' ? undefined : s.url,
      host: s.host,
      port: s.port,
      user: s.user,
      password: s.password,
      database: s.database,
      file: s.driver === 'sqlite' ? sqliteFile(s, this.context.configDir) : undefined,
      ssl: s.ssl,
      poolSize: s.poolSize,
      statementTimeout: s.statementTimeout,
      connectTimeout: s.connectTimeout,
      onBackgroundError: (err) =>
        this.context.log.warn('sql connection error', {
          connector: this.name,
          error: (err as Error)?.message,
        }),
    };
    let db: Db;
    try {
      db =
        s.driver === 'postgres'
          ? openPostgres(options)
          : s.driver === 'mysql'
            ? openMysql(options)
            : openSqlite(options);
    } catch (err) {
      throw new ConnectorError(
        'SQL_OPEN_FAILED',
        `cannot open the database: ${(err as Error).message}`,
        { connector: this.name },
        false,
        {
          cause: err,
        },
      );
    }
    this.runtime = {
      name: this.name,
      settings: s,
      db,
      dialect: dialectFor(s.driver),
      ctx: { driver: s.driver, naiveZone: s.naiveTimeZone },
      mappings: this.mappings,
      log: this.context.log,
    };
    return this.runtime;
  }

  async test(): Promise<void> {
    const rt = this.rt();
    let session: Awaited<ReturnType<Db['connect']>> | undefined;
    try {
      session = await rt.db.connect();
      for (const m of this.mappings.values()) await probe(rt, session, m, true);
    } catch (err) {
      throw connectorError(rt.db.driver, this.name, err, 'test');
    } finally {
      session?.release();
    }
  }

  deltaMethod(): string | undefined {
    if (!this.capabilities.deltaImport) return undefined;
    const methods = new Set(
      Object.values(this.settings.objectTypes).map((o) => (o.delta?.mode === 'watermark' ? `watermark column ${o.delta.column}` : 'change-log table fed by triggers')),
    );
    return [...methods].join(', ');
  }

  async schema(): Promise<ConnectorSchema> {
    await this.test();
    const objectTypes: ConnectorSchema['objectTypes'] = {};
    for (const m of this.mappings.values()) {
      const attributes: Record<string, AttributeSchema> = {};
      const writable = m.exportColumns;
      for (const column of m.columns?.values() ?? []) {
        const attribute = attributeOfColumn(m, column.name);
        if (!attribute) continue;
        const kind = kindOf(m, column, column.name);
        attributes[attribute] = {
          type: m.references.has(attribute)
            ? 'reference'
            : attributeType(kind === 'array' ? column.elementKind : kind),
          multiValued: kind === 'array',
          ...(writable?.has(column.name) || m.settings.export?.create ? {} : { readOnly: true }),
        };
      }
      for (const [attribute, child] of m.children) {
        attributes[attribute] = {
          type: m.references.has(attribute) ? 'reference' : attributeType(child.kindOverride ?? 'string'),
          multiValued: true,
        };
      }
      objectTypes[m.objectType] = { attributes };
    }
    return { objectTypes };
  }

  import(request: ImportRequest): AsyncIterable<ImportPage> {
    return runImport(this.rt(), request);
  }

  export(changes: ExportChange[]): AsyncIterable<ExportResult> {
    return runExport(this.rt(), changes);
  }

  lookup(objectType: string, attribute: string, values: Value[]): Promise<ConnectorObject[]> {
    return runLookup(this.rt(), objectType, attribute, values);
  }

  read(objectType: string, anchor: string): Promise<ConnectorObject | null> {
    return runRead(this.rt(), objectType, anchor);
  }

  async close(): Promise<void> {
    const rt = this.runtime;
    this.runtime = undefined;
    await rt?.db.close();
  }
}

export function createSqlConnector(
  name: string,
  settings: SqlSettings,
  context: ConnectorContext,
): Connector {
  return new SqlConnector(name, settings, context);
}
