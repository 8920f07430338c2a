/**
 * The attributes rules name, checked against each connector's schema: `ToLower([emial])` over a CSV whose
 * header says `email` would otherwise load, run, and empty every userName it feeds.
 *
 * Schemas known without reaching the system (a CSV header, the built-in directory) are always checked. The
 * others (an LDAP server's schema, a SQL table's columns, a SCIM service's /Schemas) are read from the system
 * within a time bound, unless `offline`. What could not be checked is said as a notice, never passed over.
 */
import type { ConnectorSchema, ObjectTypeSchema } from '../connectors/contract.js';
import { ConfigError, type ConfigProblem, errorMessage } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { closest, withHints } from '../core/suggest.js';
import type { AttributeUse, ConnectorConfig, LoadedConfig } from './model.js';

export interface AttributeCheckOptions {
  /** read no schema from a remote system */
  offline: boolean;
  /** the longest wait for one connector's schema */
  timeoutMs: number;
}

export interface AttributeCheck {
  /** attributes or object types that do not exist: the config is wrong */
  problems: ConfigProblem[];
  /** what could not be checked and why, and names an open schema does not know */
  notices: ConfigProblem[];
}

/** a schema, why there is none to check against, or the connector's settings are wrong after all */
type SchemaAnswer = { schema: ConnectorSchema } | { notice: string } | { problems: ConfigProblem[] };

export async function checkAttributes(config: LoadedConfig, options: AttributeCheckOptions): Promise<AttributeCheck> {
  const byConnector = new Map<string, AttributeUse[]>();
  for (const use of config.attributeUses ?? []) {
    if (!config.connectors.has(use.connector)) continue;
    byConnector.set(use.connector, [...(byConnector.get(use.connector) ?? []), use]);
  }
  const out: AttributeCheck = { problems: [], notices: [] };
  const answers = await Promise.all(
    [...byConnector.keys()].map(async (name) => [name, await schemaOf(config, config.connectors.get(name)!, options)] as const),
  );
  for (const [name, answer] of answers) {
    const uses = byConnector.get(name)!;
    if ('problems' in answer) {
      out.problems.push(...answer.problems);
      continue;
    }
    if ('notice' in answer) {
      out.notices.push({ code: 'ATTRIBUTES_NOT_CHECKED', message: `connector ${name}: attribute names not checked: ${answer.notice}`, path: ['connectors', name] });
      continue;
    }
    compare(name, answer.schema, uses, out);
  }
  return out;
}

function compare(connector: string, schema: ConnectorSchema, uses: AttributeUse[], out: AttributeCheck): void {
  const types = Object.keys(schema.objectTypes);
  const reported = new Set<string>();
  for (const use of uses) {
    const typeName = types.find((t) => t.toLowerCase() === use.objectType.toLowerCase());
    if (typeName === undefined) {
      if (reported.has(use.objectTypeLocation)) continue;
      reported.add(use.objectTypeLocation);
      out.problems.push({
        code: 'OBJECT_TYPE_UNKNOWN',
        message: withNames(`connector ${connector} has no object type "${use.objectType}"`, closest(use.objectType, types), types),
        location: use.objectTypeLocation,
        path: [],
      });
      continue;
    }
    const type = schema.objectTypes[typeName]!;
    if (has(type, use.attribute)) continue;
    const names = Object.keys(type.attributes);
    const suggestion = closest(use.attribute, names);
    const what = `connector ${connector} (${typeName}) has no attribute "${use.attribute}"`;
    if (type.extensible) {
      out.notices.push({
        code: 'ATTRIBUTE_NOT_IN_SCHEMA',
        message: `${what} among those it names${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; it ${use.access === 'write' ? 'will keep' : 'can only read'} it as a custom attribute`,
        location: use.location,
        path: [],
      });
      continue;
    }
    out.problems.push({ code: 'ATTRIBUTE_UNKNOWN', message: withNames(what, suggestion, names), location: use.location, path: [] });
  }
}

function has(type: ObjectTypeSchema, attribute: string): boolean {
  if (Object.hasOwn(type.attributes, attribute)) return true;
  const known = new Set(Object.keys(type.attributes).map((a) => a.toLowerCase()));
  if (known.has(attribute.toLowerCase())) return true;
  // A SCIM path that picks one element (emails[type eq "work"].value) exists when its attribute does: a
  // server need not list the type values it accepts.
  const picked = /^([^[\]]+)\[[^\]]*\](?:\.(.+))?$/.exec(attribute);
  return picked !== null && known.has((picked[2] ? `${picked[1]}.${picked[2]}` : picked[1]!).toLowerCase());
}

/** "(did you mean "email"? expected: a, b, c, …)": the list is cut after a dozen names. */
function withNames(message: string, suggestion: string | undefined, known: string[]): string {
  const shown = known.length > 12 ? `${known.slice(0, 12).join(', ')}, … (${known.length} in all)` : known.join(', ');
  return withHints(message, suggestion, shown);
}

async function schemaOf(config: LoadedConfig, cfg: ConnectorConfig, options: AttributeCheckOptions): Promise<SchemaAnswer> {
  const context = { configDir: config.dir, stateDir: config.stateDir, log: { debug() {}, info() {}, warn() {} } };
  if (cfg.factory.offlineSchema) {
    if (cfg.offlineSettings === undefined) return { notice: 'its settings need a secret that is not set' };
    try {
      return { schema: await cfg.factory.offlineSchema(cfg.name, cfg.offlineSettings, context) };
    } catch (err) {
      if (err instanceof ConfigError) return { problems: err.problems };
      return { notice: redact(errorMessage(err)) };
    }
  }
  if (options.offline) return { notice: `a ${cfg.type} connector's schema is known only by connecting (validate without --offline reads it)` };
  if (cfg.unresolvedSecrets.length > 0) return { notice: `reading its schema needs ${cfg.unresolvedSecrets.map((p) => p.message).join('; ')}` };
  let connector: ReturnType<typeof cfg.factory.create> | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    connector = cfg.factory.create(cfg.name, cfg.settings, context);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${options.timeoutMs / 1000} s`)), options.timeoutMs);
    });
    return { schema: await Promise.race([connector.schema(), timeout]) };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    return { notice: `its schema could not be read: ${redact(errorMessage(err))}` };
  } finally {
    clearTimeout(timer);
    // a schema read that outlived the time bound is abandoned; closing ends its connection
    void connector?.close().catch(() => {});
  }
}
