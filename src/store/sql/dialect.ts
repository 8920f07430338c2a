/**
 * What differs between SQLite and PostgreSQL in the store's statements, so each statement is written once
 * (statements.ts). Statements use `?` placeholders; the PostgreSQL executor numbers them ($1, $2, …). A list
 * of ids travels as one parameter: JSON text read by json_each in SQLite, an array compared with = ANY in
 * PostgreSQL. Index hints are SQLite's (its planner needs them in two places); PostgreSQL gets none.
 */
export interface StoreDialect {
  readonly name: 'sqlite' | 'postgres';
  /** "column IN <the list parameter>" */
  inList(column: string): string;
  /** "column NOT IN <the list parameter>" */
  notInList(column: string): string;
  /** a list parameter as a row source with one column, `value` */
  listRows(type: 'text' | 'int'): string;
  /** the value to bind for a list parameter */
  list(values: readonly (string | number)[]): unknown;
  /** a placeholder whose type the database cannot infer from where it stands (a SELECT list) */
  typed(type: 'text' | 'int'): string;
  /** " INDEXED BY name" where the planner needs telling; empty where it does not */
  indexedBy(index: string): string;
  /** the column, written so the planner does not use an index on it */
  unindexed(column: string): string;
  /** a join whose order the planner must keep (SQLite: CROSS JOIN) */
  readonly fixedJoin: string;
  /** "haystack contains the parameter" (both lower-cased by the caller) */
  contains(haystack: string): string;
  /** a = b, NULL equal to NULL */
  same(a: string, b: string): string;
}

export const sqliteDialect: StoreDialect = {
  name: 'sqlite',
  inList: (column) => `${column} IN (SELECT value FROM json_each(?))`,
  notInList: (column) => `${column} NOT IN (SELECT value FROM json_each(?))`,
  listRows: () => 'json_each(?)',
  list: (values) => JSON.stringify(values),
  typed: () => '?',
  indexedBy: (index) => ` INDEXED BY ${index}`,
  unindexed: (column) => `+${column}`,
  fixedJoin: 'CROSS JOIN',
  contains: (haystack) => `instr(${haystack}, ?) > 0`,
  same: (a, b) => `${a} IS ${b}`,
};

const pgType = { text: 'text', int: 'bigint' } as const;

export const postgresDialect: StoreDialect = {
  name: 'postgres',
  inList: (column) => `${column} = ANY(?)`,
  notInList: (column) => `${column} <> ALL(?)`,
  listRows: (type) => `unnest(?::${pgType[type]}[]) AS list(value)`,
  list: (values) => values,
  typed: (type) => `?::${pgType[type]}`,
  indexedBy: () => '',
  unindexed: (column) => column,
  fixedJoin: 'JOIN',
  contains: (haystack) => `strpos(${haystack}, ?) > 0`,
  same: (a, b) => `${a} IS NOT DISTINCT FROM ${b}`,
};

/** `?` → `$1`, `$2`, … (the statements hold no `?` inside string literals). */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
