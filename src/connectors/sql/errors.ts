/**
 * Driver errors sorted by what the caller should do: an error of one row (a constraint), one that undid the
 * whole transaction (deadlock), or one that lost the connection. Codes are stable; the driver's own code is
 * kept as `remoteCode` (SQLSTATE on PostgreSQL, errno on MariaDB, the SQLITE_* name on SQLite).
 */
import { ConnectorError } from '../../core/errors.js';
import type { ExportError } from '../contract.js';
import type { Driver } from './client.js';

export type ErrorScope = 'row' | 'transaction' | 'connection';

export interface ClassifiedError extends ExportError {
  scope: ErrorScope;
}

interface DriverError {
  code?: string;
  errno?: number;
  sqlState?: string;
  fatal?: boolean;
  message?: string;
  column?: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/** Errors raised by the driver itself (no server code) when the socket is gone. */
function lostConnection(e: DriverError): boolean {
  return (
    !e.code &&
    !e.errno &&
    /connection|terminated|closed state|not queryable|socket|timeout/i.test(e.message ?? '')
  );
}

function fromPostgres(e: DriverError): Omit<ClassifiedError, 'message'> {
  const state = e.code ?? '';
  const remoteCode = state || undefined;
  const row = (code: string, retryable = false) => ({ code, retryable, remoteCode, scope: 'row' as const });
  if (state === '23505') return row('UNIQUE_VIOLATION');
  if (state === '23502') return row('NOT_NULL_VIOLATION');
  if (state === '23503') return row('FOREIGN_KEY_VIOLATION');
  if (state === '23514') return row('CHECK_VIOLATION');
  if (state.startsWith('23')) return row('CONSTRAINT_VIOLATION');
  if (state.startsWith('22')) return row('INVALID_VALUE');
  if (state === '57014') return row('STATEMENT_TIMEOUT', true);
  if (state === '40001' || state === '40P01')
    return { code: 'TRANSACTION_CONFLICT', retryable: true, remoteCode, scope: 'transaction' };
  if (
    state.startsWith('08') ||
    state.startsWith('57P') ||
    state === '53300' ||
    CONNECTION_CODES.has(state) ||
    lostConnection(e)
  ) {
    return { code: 'CONNECTION_LOST', retryable: true, remoteCode, scope: 'connection' };
  }
  if (state.startsWith('42')) return row('SQL_ERROR');
  return row('SQL_ERROR');
}

function fromMysql(e: DriverError): Omit<ClassifiedError, 'message'> {
  const errno = e.errno;
  const remoteCode = errno ?? e.code;
  const row = (code: string, retryable = false) => ({ code, retryable, remoteCode, scope: 'row' as const });
  if (
    e.fatal ||
    (e.code && CONNECTION_CODES.has(e.code)) ||
    errno === 1927 ||
    errno === 2013 ||
    errno === 2006
  ) {
    return { code: 'CONNECTION_LOST', retryable: true, remoteCode, scope: 'connection' };
  }
  switch (errno) {
    case 1062:
    case 1586:
      return row('UNIQUE_VIOLATION');
    case 1048:
    case 1364:
    case 1263:
      return row('NOT_NULL_VIOLATION');
    case 1451:
    case 1452:
    case 1216:
    case 1217:
      return row('FOREIGN_KEY_VIOLATION');
    case 3819:
    case 4025:
      return row('CHECK_VIOLATION');
    case 1264:
    case 1265:
    case 1292:
    case 1366:
    case 1406:
    case 1411:
      return row('INVALID_VALUE');
    case 1969:
    case 3024:
      return row('STATEMENT_TIMEOUT', true);
    case 1213:
    case 1205:
      return { code: 'TRANSACTION_CONFLICT', retryable: true, remoteCode, scope: 'transaction' };
  }
  if (errno === undefined && lostConnection(e))
    return { code: 'CONNECTION_LOST', retryable: true, remoteCode, scope: 'connection' };
  return row('SQL_ERROR');
}

function fromSqlite(e: DriverError): Omit<ClassifiedError, 'message'> {
  const code = e.code ?? '';
  const remoteCode = code || undefined;
  const row = (c: string, retryable = false) => ({ code: c, retryable, remoteCode, scope: 'row' as const });
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    return row('UNIQUE_VIOLATION');
  if (code === 'SQLITE_CONSTRAINT_NOTNULL') return row('NOT_NULL_VIOLATION');
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return row('FOREIGN_KEY_VIOLATION');
  if (code === 'SQLITE_CONSTRAINT_CHECK') return row('CHECK_VIOLATION');
  if (code.startsWith('SQLITE_CONSTRAINT')) return row('CONSTRAINT_VIOLATION');
  if (code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG') return row('INVALID_VALUE');
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return { code: 'TRANSACTION_CONFLICT', retryable: true, remoteCode, scope: 'transaction' };
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN') {
    return { code: 'CONNECTION_LOST', retryable: true, remoteCode, scope: 'connection' };
  }
  return row('SQL_ERROR');
}

export function classify(driver: Driver, err: unknown): ClassifiedError {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as DriverError;
  const base = driver === 'postgres' ? fromPostgres(e) : driver === 'mysql' ? fromMysql(e) : fromSqlite(e);
  // driver messages name constraints and columns, never the connection's password
  const message = e.message || String(err);
  return { ...base, message, ...(e.column ? { attribute: e.column } : {}) };
}

/** A failed statement as the error an import or a test() throws. */
export function connectorError(
  driver: Driver,
  connector: string,
  err: unknown,
  what: string,
): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const c = classify(driver, err);
  const code =
    c.scope === 'connection'
      ? 'SQL_CONNECTION_LOST'
      : c.scope === 'transaction'
        ? 'SQL_CONFLICT'
        : `SQL_${c.code}`;
  return new ConnectorError(code, `${what}: ${c.message}`, { connector }, c.retryable, {
    cause: err,
    remoteCode: c.remoteCode,
    connection: c.scope === 'connection',
  });
}
