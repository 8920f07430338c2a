import pg from 'pg';
import type { ColumnInfo, ColumnKind, Db, DbOptions, HeldSession, QueryResult } from './client.js';

/** Scalar type OIDs (pg_type) and what they hold. */
const SCALAR_KINDS: Record<number, ColumnKind> = {
  16: 'boolean',
  17: 'binary',
  20: 'integer',
  21: 'integer',
  23: 'integer',
  26: 'integer',
  700: 'number',
  701: 'number',
  1700: 'decimal',
  1082: 'date',
  1114: 'timestamp',
  1184: 'timestamptz',
  114: 'json',
  3802: 'json',
};

/** Array type OIDs and their element OIDs. */
const ARRAY_ELEMENTS: Record<number, number> = {
  1000: 16,
  1001: 17,
  1005: 21,
  1007: 23,
  1016: 20,
  1021: 700,
  1022: 701,
  1231: 1700,
  1182: 1082,
  1115: 1114,
  1185: 1184,
  1009: 25,
  1015: 1043,
  1014: 1042,
  2951: 2950,
  199: 114,
  3807: 3802,
};

const TEXT_KEPT = new Set([1082, 1114, 1184, 1083, 1266]);
const arrayParser = (
  pg.types as unknown as {
    arrayParser: { create(s: string, t: (x: string) => unknown): { parse(): unknown[] } };
  }
).arrayParser;

/**
 * Dates and timestamps stay text (a JavaScript Date would read a timestamp without zone in this machine's
 * zone and drop microseconds); every other type keeps pg's own parser (int8 and numeric are text already).
 */
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (TEXT_KEPT.has(oid)) return (value: string) => value;
    const element = ARRAY_ELEMENTS[oid];
    if (element !== undefined && TEXT_KEPT.has(element)) {
      return (value: string) => arrayParser.create(value, (x) => x).parse();
    }
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
};

function columnInfo(field: { name: string; dataTypeID: number }): ColumnInfo {
  const element = ARRAY_ELEMENTS[field.dataTypeID];
  if (element !== undefined)
    return { name: field.name, kind: 'array', elementKind: SCALAR_KINDS[element] ?? 'string' };
  return { name: field.name, kind: SCALAR_KINDS[field.dataTypeID] ?? 'string' };
}

export function openPostgres(options: DbOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.url,
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    ssl: options.ssl,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeout,
    statement_timeout: options.statementTimeout || undefined,
    application_name: `idsync:${options.connectorName}`.slice(0, 63),
    // timestamptz comes back as "... +00": one form to parse, whatever the server's default zone
    options: '-c TimeZone=UTC -c DateStyle=ISO',
    types: typeParsers,
  });
  // An idle pooled connection that dies (server restart, pg_terminate_backend) is dropped by the pool; without
  // a listener the error would end the process.
  pool.on('error', (err) => options.onBackgroundError(err));

  async function run(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params?: readonly unknown[],
  ): Promise<QueryResult> {
    const result = await client.query({ text: sql, values: params as unknown[] | undefined });
    // a multi-statement text (the trigger DDL) returns one result per statement
    const last = Array.isArray(result) ? (result.at(-1) as pg.QueryResult) : result;
    return {
      rows: last.rows ?? [],
      columns: (last.fields ?? []).map(columnInfo),
      affected: last.rowCount ?? 0,
    };
  }

  return {
    driver: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    async connect(): Promise<HeldSession> {
      const client = await pool.connect();
      let broken = false;
      // a connection killed while idle in our hands reports here first; the next query then fails
      const onError = (err: unknown) => {
        broken = true;
        options.onBackgroundError(err);
      };
      client.on('error', onError);
      return {
        query: (sql, params) => run(client, sql, params),
        release(isBroken) {
          client.off('error', onError);
          client.release(isBroken || broken ? true : undefined);
        },
      };
    },
    close: () => pool.end(),
  };
}
