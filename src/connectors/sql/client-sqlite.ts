import Database from 'better-sqlite3';
import type { ColumnInfo, ColumnKind, Db, DbOptions, HeldSession, QueryResult, Row } from './client.js';

/** SQLite keeps declared types as text; these are its affinity rules plus the common date and boolean names. */
function kindOfDeclared(declared: string | null): ColumnKind {
  const t = (declared ?? '').toUpperCase();
  if (t === '') return 'string';
  if (t.includes('BOOL')) return 'boolean';
  if (t.includes('INT')) return 'integer';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'string';
  if (t.includes('BLOB') || t.includes('BINARY')) return 'binary';
  if (t.includes('TIMESTAMP') || t.includes('DATETIME')) return 'timestamp';
  if (t === 'DATE') return 'date';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'number';
  if (t.includes('NUMERIC') || t.includes('DECIMAL')) return 'decimal';
  if (t.includes('JSON')) return 'json';
  return 'string';
}

export function openSqlite(options: DbOptions): Db {
  if (!options.file) throw new Error('sqlite: no file');
  const db = new Database(options.file, { fileMustExist: true, timeout: options.statementTimeout || 5000 });
  // enforced per connection, off by default: a writer that means its foreign keys turns them on
  db.pragma('foreign_keys = ON');
  const statements = new Map<string, Database.Statement>();

  function prepare(sql: string): Database.Statement {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      if (statement.reader) statement.safeIntegers(true);
      if (statements.size > 500) statements.clear();
      statements.set(sql, statement);
    }
    return statement;
  }

  async function run(sql: string, params?: readonly unknown[]): Promise<QueryResult> {
    const trimmed = sql.trim();
    if (/^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b/i.test(trimmed) && !params?.length) {
      db.exec(trimmed);
      return { rows: [], columns: [], affected: 0 };
    }
    let statement: Database.Statement;
    try {
      statement = prepare(sql);
    } catch (err) {
      // several statements (the trigger DDL): run as a script, which takes no parameters and returns nothing
      if (params?.length || !/more than one statement/i.test((err as Error).message)) throw err;
      db.exec(trimmed);
      return { rows: [], columns: [], affected: 0 };
    }
    const values = (params ?? []) as unknown[];
    if (statement.reader) {
      const rows = statement.all(...values) as Row[];
      const columns: ColumnInfo[] = statement
        .columns()
        .map((c) => ({ name: c.name, kind: kindOfDeclared(c.type) }));
      return { rows, columns, affected: rows.length };
    }
    const info = statement.run(...values);
    return { rows: [], columns: [], affected: info.changes, insertId: Number(info.lastInsertRowid) };
  }

  const session: HeldSession = { query: run, release() {} };
  return {
    driver: 'sqlite',
    query: run,
    // one connection: SQLite serializes writers anyway
    connect: async () => session,
    async close() {
      db.close();
    },
  };
}
