import mysql from 'mysql2/promise';
import type { ColumnInfo, ColumnKind, Db, DbOptions, HeldSession, QueryResult, Row } from './client.js';

const BINARY_CHARSET = 63;

/** mysql protocol column types (include/mysql_com.h) */
function kindOf(field: mysql.FieldPacket): ColumnKind {
  const type = field.columnType ?? field.type;
  const length = field.columnLength ?? field.length ?? 0;
  switch (type) {
    case 1: // TINY: MariaDB's BOOLEAN is TINYINT(1)
      return length === 1 ? 'boolean' : 'integer';
    case 16: // BIT(1)
      return length === 1 ? 'boolean' : 'binary';
    case 2:
    case 3:
    case 8:
    case 9:
    case 13:
      return 'integer';
    case 4:
    case 5:
      return 'number';
    case 0:
    case 246:
      return 'decimal';
    case 10:
    case 14:
      return 'date';
    case 7: // TIMESTAMP: stored in UTC, shown in the session zone, which we set to UTC
      return 'timestamptz';
    case 12:
      return 'timestamp';
    case 245:
      return 'json';
    case 15:
    case 249:
    case 250:
    case 251:
    case 252:
    case 253:
    case 254:
      return field.characterSet === BINARY_CHARSET ? 'binary' : 'string';
    default:
      return 'string';
  }
}

function columns(fields: mysql.FieldPacket[] | undefined): ColumnInfo[] {
  return (fields ?? []).map((f) => ({ name: f.name, kind: kindOf(f) }));
}

type Queryable = mysql.Pool | mysql.PoolConnection;

/**
 * Numbers cannot change the meaning of a statement, whatever the server's sql_mode; strings can (a backslash
 * under NO_BACKSLASH_ESCAPES). So a statement whose values are all numbers, with exactly one `?` per value and
 * no quoted literal, may use the text protocol, whose rows mysql2 decodes about twice as fast (the keyset
 * pages of an import on an integer anchor). Every other statement is a server-side prepared statement.
 */
function numbersOnly(sql: string, params: readonly unknown[]): boolean {
  if (sql.includes("'") || sql.includes('"')) return false;
  if (!params.every((p) => (typeof p === 'number' && Number.isFinite(p)) || typeof p === 'bigint'))
    return false;
  return sql.split('?').length - 1 === params.length;
}

async function run(target: Queryable, sql: string, params?: readonly unknown[]): Promise<QueryResult> {
  // execute = a server-side prepared statement: values never pass through SQL text. Statements without
  // values (transaction control, DDL) go through the text protocol, which prepares not every statement.
  const [result, fields] =
    params && params.length > 0 && !numbersOnly(sql, params)
      ? await target.execute(sql, params as never)
      : await target.query(sql, params as never);
  if (Array.isArray(result)) {
    // a CALL returns its result sets followed by a status header
    const sets = result as unknown[];
    if (sets.length > 0 && Array.isArray(sets[0])) {
      const header = sets.find((s) => !Array.isArray(s)) as mysql.ResultSetHeader | undefined;
      const fieldSets = fields as unknown as mysql.FieldPacket[][];
      return {
        rows: sets[0] as Row[],
        columns: columns(fieldSets?.[0]),
        affected: header?.affectedRows ?? 0,
        insertId: header?.insertId || undefined,
      };
    }
    return { rows: result as Row[], columns: columns(fields), affected: 0 };
  }
  const header = result as mysql.ResultSetHeader;
  return { rows: [], columns: [], affected: header.affectedRows, insertId: header.insertId || undefined };
}

export function openMysql(options: DbOptions): Db {
  const common = {
    connectionLimit: options.poolSize,
    connectTimeout: options.connectTimeout,
    // values come back as the server wrote them: we convert with the column metadata, not with guesses
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    jsonStrings: true,
    timezone: 'Z',
    multipleStatements: false,
    ssl: options.ssl === true ? {} : options.ssl === false ? undefined : options.ssl,
    maxPreparedStatements: 256,
  } as const;
  const pool = options.url
    ? mysql.createPool({ uri: options.url, ...common })
    : mysql.createPool({
        host: options.host,
        port: options.port,
        user: options.user,
        password: options.password,
        database: options.database,
        ...common,
      });
  const timeoutSeconds = options.statementTimeout / 1000;
  pool.on('connection', (connection) => {
    const core = connection as unknown as { query(sql: string, cb: (err: unknown) => void): void };
    // TIMESTAMP columns are shown in the session zone: UTC makes them unambiguous
    core.query("SET time_zone = '+00:00'", (err) => err && options.onBackgroundError(err));
    // MariaDB's statement timeout; MySQL has no such variable, and then only the error is ignored
    if (timeoutSeconds > 0) core.query(`SET SESSION max_statement_time = ${timeoutSeconds}`, () => {});
  });
  const corePool = (pool as unknown as { pool: NodeJS.EventEmitter }).pool;
  corePool.on('error', (err: unknown) => options.onBackgroundError(err));

  return {
    driver: 'mysql',
    query: (sql, params) => run(pool, sql, params),
    async connect(): Promise<HeldSession> {
      const connection = await pool.getConnection();
      let broken = false;
      const core = (connection as unknown as { connection: NodeJS.EventEmitter }).connection;
      const onError = (err: unknown) => {
        broken = true;
        options.onBackgroundError(err);
      };
      core.on('error', onError);
      return {
        query: (sql, params) => run(connection, sql, params),
        release(isBroken) {
          core.off('error', onError);
          if (isBroken || broken) connection.destroy();
          else connection.release();
        },
      };
    },
    close: () => pool.end(),
  };
}
