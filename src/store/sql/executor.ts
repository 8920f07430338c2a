/** How the shared store (store.ts) runs a statement: each store's connection behind one small interface. */
import type { WriteBehind } from './write-behind.js';

export type Param = string | number | null | unknown;

export interface Executor {
  /** every row */
  all<Row>(sql: string, params?: Param[]): Promise<Row[]>;
  /** the first row; undefined when none */
  get<Row>(sql: string, params?: Param[]): Promise<Row | undefined>;
  /** a write: how many rows it changed */
  run(sql: string, params?: Param[]): Promise<number>;
  /** an INSERT into a table with an id column: the new row's id (SQLite's last rowid; PostgreSQL's RETURNING id) */
  insert(sql: string, params?: Param[]): Promise<number>;
}

/** The state store's executor: it can also keep writes for later (the engine's per-object writes). */
export interface DeferringExecutor extends Executor {
  /** writes kept for later (write-behind.ts): sent before any other statement of this executor, and by flush */
  readonly deferred: WriteBehind;
  /** sends the deferred writes now */
  flush(): Promise<void>;
}
