/**
 * The DDL of the change log and of the triggers that fill it, printed by `idsync sql triggers CONNECTOR` for an
 * administrator to review and apply. idsync never runs it itself: creating triggers on an application's tables
 * is the database owner's decision.
 *
 * Each trigger writes (object type, anchor as a JSON array of the key columns, operation). A child table of a
 * multi-valued attribute logs its parent, so a new group member is a change of the group.
 */
import { dialectFor } from './dialect.js';
import { type SqlSettings, sqlSettingsSchema } from './settings.js';

interface Watched {
  objectType: string;
  table: string;
  keys: string[];
}

function asList(x: string | string[]): string[] {
  return Array.isArray(x) ? x : [x];
}

function watchedTables(settings: SqlSettings, objectType?: string): Watched[] {
  const entries = Object.entries(settings.objectTypes).filter(([name, o]) =>
    objectType ? name === objectType : o.delta?.mode === 'changelog',
  );
  if (objectType && entries.length === 0) throw new Error(`no object type ${objectType} in this connector`);
  const out: Watched[] = [];
  for (const [name, o] of entries) {
    const table = (o.delta?.mode === 'changelog' ? o.delta.triggerTable : undefined) ?? o.table;
    if (!table)
      throw new Error(
        `object type ${name} reads a view or query: set delta.triggerTable to the table to watch`,
      );
    out.push({ objectType: name, table, keys: asList(o.anchor) });
    for (const child of Object.values(o.multiValued ?? {}))
      out.push({ objectType: name, table: child.table, keys: asList(child.key) });
  }
  return out;
}

/** A name made of the parts, safe as an unquoted-looking identifier and within PostgreSQL's 63 bytes. */
function triggerName(w: Watched, suffix = ''): string {
  const base = `idsync_${w.objectType}_${w.table}`.replace(/[^A-Za-z0-9_]/g, '_');
  const room = 60 - suffix.length;
  return (base.length > room ? base.slice(0, room) : base) + suffix;
}

/** The name in the watched table's schema: MariaDB keeps triggers beside their table, pg functions go there too. */
function besideTable(w: Watched, name: string): string {
  const dot = w.table.lastIndexOf('.');
  return dot === -1 ? name : `${w.table.slice(0, dot)}.${name}`;
}

function literal(text: string, backslashes: boolean): string {
  let s = text.replaceAll("'", "''");
  if (backslashes) s = s.replaceAll('\\', '\\\\');
  return `'${s}'`;
}

export function triggerDdl(input: unknown, objectType?: string): string {
  const settings = sqlSettingsSchema.parse(input);
  const watched = watchedTables(settings, objectType);
  if (watched.length === 0) return '-- no object type of this connector uses delta mode "changelog"\n';
  switch (settings.driver) {
    case 'postgres':
      return postgresDdl(settings, watched);
    case 'mysql':
      return mariadbDdl(settings, watched);
    case 'sqlite':
      return sqliteDdl(settings, watched);
  }
}

const HEADER = `-- idsync change log: one row per insert, update or delete of a watched row.
-- Review before applying. The log grows: delete rows older than the change log's gapTimeout plus the delta
-- interval once every idsync instance reading it has imported them.
`;

function postgresDdl(settings: SqlSettings, watched: Watched[]): string {
  const q = dialectFor('postgres').quote;
  const log = q(settings.changeLog.table);
  const parts = [
    HEADER,
    `CREATE TABLE IF NOT EXISTS ${log} (
  id BIGSERIAL PRIMARY KEY,
  object_type VARCHAR(200) NOT NULL,
  anchor TEXT NOT NULL,
  op CHAR(1) NOT NULL,
  changed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
`,
  ];
  for (const w of watched) {
    const fn = q(besideTable(w, triggerName(w, '_fn')));
    const type = literal(w.objectType, false);
    const key = (row: string) => `json_build_array(${w.keys.map((k) => `${row}.${q(k)}`).join(', ')})::text`;
    // SET search_path FROM CURRENT: the log table resolves as when the script ran, whatever the search_path
    // of the application session whose write fires the trigger
    parts.push(`CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $idsync$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO ${log} (object_type, anchor, op) VALUES (${type}, ${key('OLD')}, left(TG_OP, 1));
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND ${key('OLD')} IS DISTINCT FROM ${key('NEW')}) THEN
    INSERT INTO ${log} (object_type, anchor, op) VALUES (${type}, ${key('NEW')}, left(TG_OP, 1));
  END IF;
  RETURN NULL;
END
$idsync$;
DROP TRIGGER IF EXISTS ${q(triggerName(w))} ON ${q(w.table)};
CREATE TRIGGER ${q(triggerName(w))} AFTER INSERT OR UPDATE OR DELETE ON ${q(w.table)}
  FOR EACH ROW EXECUTE FUNCTION ${fn}();
`);
  }
  return parts.join('\n');
}

function mariadbDdl(settings: SqlSettings, watched: Watched[]): string {
  const q = dialectFor('mysql').quote;
  const log = q(settings.changeLog.table);
  const parts = [
    HEADER,
    `CREATE TABLE IF NOT EXISTS ${log} (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  object_type VARCHAR(200) NOT NULL,
  anchor TEXT NOT NULL,
  op CHAR(1) NOT NULL,
  changed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;
`,
  ];
  for (const w of watched) {
    const type = literal(w.objectType, true);
    const key = (row: string) => `JSON_ARRAY(${w.keys.map((k) => `${row}.${q(k)}`).join(', ')})`;
    const same = w.keys.map((k) => `OLD.${q(k)} <=> NEW.${q(k)}`).join(' AND ');
    const insert = `INSERT INTO ${log} (object_type, anchor, op)`;
    const name = (suffix: string) => q(besideTable(w, triggerName(w, suffix)));
    // one statement per trigger, so the script runs without DELIMITER through any client
    parts.push(`DROP TRIGGER IF EXISTS ${name('_i')};
CREATE TRIGGER ${name('_i')} AFTER INSERT ON ${q(w.table)} FOR EACH ROW
  ${insert} VALUES (${type}, ${key('NEW')}, 'I');
DROP TRIGGER IF EXISTS ${name('_u')};
CREATE TRIGGER ${name('_u')} AFTER UPDATE ON ${q(w.table)} FOR EACH ROW
  ${insert} SELECT ${type}, ${key('OLD')}, 'U' UNION ALL SELECT ${type}, ${key('NEW')}, 'U' FROM DUAL WHERE NOT (${same});
DROP TRIGGER IF EXISTS ${name('_d')};
CREATE TRIGGER ${name('_d')} AFTER DELETE ON ${q(w.table)} FOR EACH ROW
  ${insert} VALUES (${type}, ${key('OLD')}, 'D');
`);
  }
  return parts.join('\n');
}

function sqliteDdl(settings: SqlSettings, watched: Watched[]): string {
  const q = dialectFor('sqlite').quote;
  const log = q(settings.changeLog.table);
  const parts = [
    HEADER,
    `CREATE TABLE IF NOT EXISTS ${log} (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  object_type TEXT NOT NULL,
  anchor TEXT NOT NULL,
  op TEXT NOT NULL,
  changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
`,
  ];
  for (const w of watched) {
    const type = literal(w.objectType, false);
    const key = (row: string) => `json_array(${w.keys.map((k) => `${row}.${q(k)}`).join(', ')})`;
    const changed = w.keys.map((k) => `OLD.${q(k)} IS NOT NEW.${q(k)}`).join(' OR ');
    const insert = `INSERT INTO ${log} (object_type, anchor, op)`;
    parts.push(`DROP TRIGGER IF EXISTS ${q(triggerName(w, '_i'))};
CREATE TRIGGER ${q(triggerName(w, '_i'))} AFTER INSERT ON ${q(w.table)} BEGIN
  ${insert} VALUES (${type}, ${key('NEW')}, 'I');
END;
DROP TRIGGER IF EXISTS ${q(triggerName(w, '_u'))};
CREATE TRIGGER ${q(triggerName(w, '_u'))} AFTER UPDATE ON ${q(w.table)} BEGIN
  ${insert} VALUES (${type}, ${key('OLD')}, 'U');
  ${insert} SELECT ${type}, ${key('NEW')}, 'U' WHERE ${changed};
END;
DROP TRIGGER IF EXISTS ${q(triggerName(w, '_d'))};
CREATE TRIGGER ${q(triggerName(w, '_d'))} AFTER DELETE ON ${q(w.table)} BEGIN
  ${insert} VALUES (${type}, ${key('OLD')}, 'D');
END;
`);
  }
  return parts.join('\n');
}
