/**
 * Loads idsync.yaml: YAML → validated config → compiled rules. Every problem is collected with its
 * file:line:column and reported together (ConfigError), so one `idsync validate` shows everything to fix.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { remoteConnectorFactory } from '../agent/remote/factory.js';
import { agentScope } from '../agent/scope/qualify.js';
import { connectorFactory, connectorTypes } from '../connectors/registry.js';
import { ConfigError, type ConfigProblem, IdsyncError } from '../core/errors.js';
import { closest, withHints } from '../core/suggest.js';
import type { Value } from '../core/values.js';
import { compileExpression, compileScope } from '../rules/index.js';
import type { FlowInput } from '../rules/types.js';
import { parseSettings, type SettingIssue, valueAt } from './issues.js';
import type { AttributeUse, CompiledFlow, ConnectorConfig, InboundRule, LoadedConfig, OutboundRule } from './model.js';
import {
  configSchema,
  connectorBase,
  connectorName,
  DEFAULT_THRESHOLD,
  durationMs,
  type FlowConfig,
  type NotificationsConfig,
  type RawConfig,
  ruleSchema,
  type RuleConfig,
  type ServeConfig,
  serveSchema,
} from './schema.js';
import { resolveReferences } from './secrets.js';

type Path = (string | number)[];

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(file: string, options: LoadOptions = {}): LoadedConfig {
  return parseConfig(readConfigText(file), resolve(file), options);
}

export function parseConfig(text: string, file: string, options: LoadOptions = {}): LoadedConfig {
  const { config, problems } = analyseConfig(text, file, options);
  if (problems.length > 0 || !config) throw new ConfigError(problems);
  return config;
}

/**
 * The config as far as it loads, with every problem found. `idsync validate` uses it to check the attributes
 * the healthy rules name even when other parts are wrong; nothing may run on a config with problems.
 */
export function inspectConfig(file: string, options: LoadOptions = {}): { config?: LoadedConfig; problems: ConfigProblem[] } {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    throw err;
  }
  return analyseConfig(text, resolve(file), options);
}

function readConfigText(file: string): string {
  try {
    return readFileSync(resolve(file), 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : String(err);
    throw new ConfigError([
      {
        code: 'CONFIG_FILE_MISSING',
        message: `config file ${file} ${reason} (create one with \`idsync init\`)`,
        path: [],
      },
    ]);
  }
}

function analyseConfig(text: string, file: string, options: LoadOptions): { config?: LoadedConfig; problems: ConfigProblem[] } {
  const source = new SourceMap(text, file);
  if (source.syntaxProblems.length > 0) return { problems: source.syntaxProblems };
  const problems: ConfigProblem[] = [];
  const data: unknown = source.doc.toJS() ?? {};
  const sections = parseSections(data, source, problems);
  if (!sections) return { problems };
  const { raw, rules: ruleEntries, declared } = sections;
  const dir = dirname(file);

  const connectors = loadConnectors(raw, dir, source, problems, options.env ?? process.env);
  const rules = compileRules(ruleEntries, declared, connectors, source, problems);
  scopeOnAgents(connectors, rules);
  checkMetaverseAttributes(data, ruleEntries, rules, source, problems);
  const attributeUses = connectorAttributeUses(ruleEntries, rules, source);
  const serve = raw.serve ? checkServe(raw, dir, source, problems) : defaultServe(raw, dir, source);
  const opsSecrets: ConfigProblem[] = [];
  const env = options.env ?? process.env;
  if (serve?.metrics.token !== undefined) {
    serve.metrics.token = resolveSecrets(serve.metrics.token, ['serve', 'metrics', 'token'], dir, env, source, opsSecrets) as string;
  }
  const notifications = raw.notifications && loadNotifications(raw.notifications, dir, env, source, opsSecrets);

  const config: LoadedConfig = {
    file,
    dir,
    stateDir: resolve(dir, raw.state.path),
    ...(raw.state.url !== undefined && { stateUrl: stateUrl(raw.state.url, dir, options.env ?? process.env, source, problems) }),
    staging: raw.staging,
    scheduleMs: durationMs(raw.schedule.interval),
    logRetentionDays: raw.log.retentionDays,
    connectors,
    inbound: rules.filter((r): r is InboundRule => r.direction === 'inbound'),
    outbound: rules.filter((r): r is OutboundRule => r.direction === 'outbound'),
    rulesHash: hashRules(raw),
    attributeUses,
    ...(serve && { serve }),
    ...(notifications && { notifications }),
    ...(opsSecrets.length > 0 && { opsSecrets }),
  };
  return { config, problems };
}

// ---- sections -------------------------------------------------------------------------------------------------

/**
 * Validates each top-level section, each connector and each rule on its own, so that a mistake in one never
 * hides the others: everything that parsed goes on to the next checks (connector settings, expressions), and
 * a broken part is left out of them (its problems are reported; the load fails at the end).
 */
function parseSections(
  data: unknown,
  source: SourceMap,
  problems: ConfigProblem[],
): { raw: RawConfig; rules: [number, RuleConfig][]; declared: Set<string> } | undefined {
  const report = (issues: SettingIssue[], prefix: Path) => {
    for (const i of issues) problems.push(source.problem(i.code, [...prefix, ...i.path], i.message, i.key === undefined ? {} : { key: i.key }));
  };
  if (!isRecord(data)) {
    problems.push(source.problem('CONFIG_NOT_A_MAP', [], 'the config is a map of settings (expected: connectors:, rules: and the other sections)'));
    return undefined;
  }
  const shape = configSchema.shape;
  for (const key of Object.keys(data)) {
    if (!Object.hasOwn(shape, key)) {
      const suggestion = closest(key, Object.keys(shape));
      problems.push(source.problem('CONFIG_UNKNOWN_SETTING', [], `unknown setting "${key}"`, suggestion ? { key, suggestion } : { key, expected: Object.keys(shape).join(', ') }));
    }
  }
  const sections: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    if (key === 'connectors' || key === 'rules') continue;
    const parsed = parseSettings(schema as z.ZodType, data[key]);
    if (parsed.success) {
      sections[key] = parsed.data;
    } else {
      report(parsed.issues, [key]);
      // go on with the default, so that the other sections are still checked
      const fallback = (schema as z.ZodType).safeParse(undefined);
      sections[key] = fallback.success ? fallback.data : undefined;
    }
  }

  const connectors: RawConfig['connectors'] = {};
  const declared = new Set<string>();
  if (data.connectors === undefined) {
    problems.push(source.problem('CONFIG_INVALID_TYPE', ['connectors'], '"connectors" is required (expected: a map of connector names to their settings)'));
  } else if (!isRecord(data.connectors)) {
    problems.push(source.problem('CONFIG_INVALID_TYPE', ['connectors'], 'expected a map of connector names to their settings'));
  } else {
    for (const [name, block] of Object.entries(data.connectors)) {
      declared.add(name);
      const validName = parseSettings(connectorName, name);
      if (!validName.success) {
        problems.push(source.problem('CONFIG_INVALID_KEY', ['connectors'], `the connector name "${name}" is not allowed (expected: ${validName.issues[0]!.message})`, { key: name }));
      }
      const parsed = parseSettings(connectorBase, block);
      if (parsed.success) connectors[name] = parsed.data;
      else report(parsed.issues, ['connectors', name]);
    }
  }

  const rules: [number, RuleConfig][] = [];
  if (data.rules !== undefined && !Array.isArray(data.rules)) {
    problems.push(source.problem('CONFIG_INVALID_TYPE', ['rules'], 'expected a list of rules'));
  } else {
    ((data.rules ?? []) as unknown[]).forEach((rule, index) => {
      const parsed = parseSettings(ruleSchema, rule);
      if (parsed.success) rules.push([index, parsed.data]);
      else report(parsed.issues, ['rules', index]);
    });
  }
  const raw = { ...sections, connectors, rules: rules.map(([, r]) => r) } as RawConfig;
  return { raw, rules, declared };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// ---- serve ----------------------------------------------------------------------------------------------------

/** Without a serve block, `idsync serve` uses the defaults when they fit this config (a builtin connector). */
function defaultServe(raw: RawConfig, dir: string, source: SourceMap): ServeConfig | undefined {
  const ignored: ConfigProblem[] = [];
  const serve = checkServe({ ...raw, serve: serveSchema.parse({}) }, dir, source, ignored);
  return ignored.length === 0 ? serve : undefined;
}

/** Resolves the serve block's files and the connector each SCIM endpoint serves (a builtin one). */
function checkServe(raw: RawConfig, dir: string, source: SourceMap, problems: ConfigProblem[]): ServeConfig {
  const serve = structuredClone(raw.serve!);
  if (serve.tls) serve.tls = { cert: resolve(dir, serve.tls.cert), key: resolve(dir, serve.tls.key) };
  if (serve.auth.jwt?.jwksFile) serve.auth.jwt.jwksFile = resolve(dir, serve.auth.jwt.jwksFile);
  const builtins = Object.entries(raw.connectors)
    .filter(([, c]) => c.type === 'builtin')
    .map(([name]) => name);
  if (!serve.auth.tokens && !serve.auth.jwt) {
    problems.push(source.problem('SERVE_NO_AUTH', ['serve', 'auth'], 'with tokens off and no jwt, no request could authenticate: turn one on'));
  }
  const paths = new Set<string>();
  serve.scim.forEach((endpoint, i) => {
    const at: Path = ['serve', 'scim', i];
    if (paths.has(endpoint.path)) problems.push(source.problem('SERVE_PATH_DUPLICATE', [...at, 'path'], `two SCIM endpoints at ${endpoint.path}`));
    paths.add(endpoint.path);
    if (endpoint.connector === undefined) {
      const chosen = builtins.includes('directory') ? 'directory' : builtins.length === 1 ? builtins[0] : undefined;
      if (!chosen) {
        problems.push(source.problem('SERVE_CONNECTOR_MISSING', at, 'name the builtin connector this SCIM endpoint serves (connector: NAME)', { expected: builtins.join(', ') || 'a connector of type builtin' }));
        return;
      }
      endpoint.connector = chosen;
    } else if (!builtins.includes(endpoint.connector)) {
      problems.push(source.problem('SERVE_CONNECTOR_INVALID', [...at, 'connector'], `a SCIM endpoint serves a connector of type builtin; "${endpoint.connector}" is not one`, { expected: builtins.join(', ') || 'a connector of type builtin' }));
    }
    if (endpoint.gateway !== false && !raw.rules.some((r) => r.direction === 'inbound' && r.connector === endpoint.connector)) {
      problems.push(source.problem('SERVE_GATEWAY_NOT_SOURCE', [...at, 'gateway'], `gateway mode carries writes through the rules, but no inbound rule reads connector "${endpoint.connector}"`));
    }
  });
  return serve;
}

// ---- notifications --------------------------------------------------------------------------------------------

/** Secrets resolved (an unresolved one is kept for `idsync serve` to refuse) and files made absolute. */
function loadNotifications(
  raw: NotificationsConfig,
  dir: string,
  env: NodeJS.ProcessEnv,
  source: SourceMap,
  unresolved: ConfigProblem[],
): NotificationsConfig {
  const resolved = resolveSecrets(raw, ['notifications'], dir, env, source, unresolved) as NotificationsConfig;
  const ca = resolved.email?.smtp.tls?.ca;
  if (ca !== undefined) resolved.email!.smtp.tls!.ca = resolve(dir, ca);
  return resolved;
}

// ---- Connectors ---------------------------------------------------------------------------------------------

const ENGINE_FIELDS = new Set(['type', 'safety', 'pageSize', 'fullImportInterval', 'agent']);

function loadConnectors(
  raw: RawConfig,
  dir: string,
  source: SourceMap,
  problems: ConfigProblem[],
  env: NodeJS.ProcessEnv,
): Map<string, ConnectorConfig> {
  const out = new Map<string, ConnectorConfig>();
  for (const [name, block] of Object.entries(raw.connectors)) {
    const at: Path = ['connectors', name];
    const factory = connectorFactory(block.type);
    if (!factory) {
      problems.push(
        source.problem('CONNECTOR_TYPE_UNKNOWN', [...at, 'type'], `unknown connector type "${block.type}"`, {
          suggestion: closest(block.type, connectorTypes()),
          expected: connectorTypes().join(', '),
        }),
      );
      continue;
    }
    const own = Object.fromEntries(Object.entries(block).filter(([k]) => !ENGINE_FIELDS.has(k)));
    const unresolved: ConfigProblem[] = [];
    const resolved = resolveSecrets(own, at, dir, env, source, unresolved);
    const parsed = parseSettings(factory.settings, resolved);
    if (!parsed.success) {
      // A setting whose secret is not available here cannot be judged: it is checked when the secret is.
      const judged = parsed.issues.filter((i) => !unresolved.some((u) => samePath(u.path, [...at, ...i.path])));
      for (const i of judged) problems.push(source.problem(i.code, [...at, ...i.path], i.message, i.key === undefined ? {} : { key: i.key }));
      if (judged.length > 0) continue;
    }
    const settings = parsed.success ? parsed.data : undefined;
    const group = (block as { agent?: string }).agent;
    out.set(name, {
      name,
      type: block.type,
      factory: group === undefined ? factory : remoteConnectorFactory(factory, group),
      // what the agent receives: the settings as written, ${env:}/${file:} resolved here, ${agent:} there
      ...(group !== undefined && { agent: { group, settings: resolved } }),
      unresolvedSecrets: unresolved,
      // Read only by what opens the connector: commands that never do (status, log, token list) run without
      // the connector's secrets, and one that does fails here, naming the secret and its place.
      get settings() {
        if (unresolved.length > 0) throw new ConfigError(unresolved);
        return settings;
      },
      offlineSettings: settings,
      deleteThreshold: block.safety?.deleteThreshold ?? raw.safety.deleteThreshold ?? DEFAULT_THRESHOLD,
      pageSize: block.pageSize ?? 1000,
      fullImportIntervalMs: block.fullImportInterval === undefined ? null : durationMs(block.fullImportInterval),
      settingsHash: createHash('sha256').update(JSON.stringify([block.type, own])).digest('hex').slice(0, 16),
    });
  }
  return out;
}

/**
 * The scoping filters each connector on an agent runs there (agent/scope/qualify.ts). They change what its
 * imports return, as a connector's own filter does, so they are part of its settings hash: a change of them
 * makes its next import a full one that trusts no "unchanged" from before.
 */
function scopeOnAgents(connectors: Map<string, ConnectorConfig>, rules: (InboundRule | OutboundRule)[]): void {
  const inbound = rules.filter((r): r is InboundRule => r.direction === 'inbound');
  const outbound = rules.filter((r): r is OutboundRule => r.direction === 'outbound');
  for (const c of connectors.values()) {
    if (!c.agent) continue;
    const scope = agentScope(c.name, inbound, outbound);
    if (!scope) continue;
    c.agent.scope = scope;
    c.settingsHash = createHash('sha256').update(JSON.stringify([c.settingsHash, scope])).digest('hex').slice(0, 16);
  }
}

function samePath(a: Path, b: Path): boolean {
  return a.length === b.length && a.every((step, i) => String(step) === String(b[i]));
}

/** state.url with its ${env:} and ${file:} references resolved (a password kept out of the file). */
function stateUrl(url: string, dir: string, env: NodeJS.ProcessEnv, source: SourceMap, problems: ConfigProblem[]): string {
  const r = resolveReferences(url, dir, env);
  if (r.problem) problems.push(source.problem('CONFIG_SECRET_UNRESOLVED', ['state', 'url'], r.problem.message));
  return r.value;
}

/**
 * Resolves ${env:} and ${file:} references. One that cannot be resolved is recorded in `unresolved` and its
 * text is kept as written, so that the rest of the settings can still be validated.
 */
function resolveSecrets(
  value: unknown,
  at: Path,
  dir: string,
  env: NodeJS.ProcessEnv,
  source: SourceMap,
  unresolved: ConfigProblem[],
): unknown {
  if (typeof value === 'string') {
    const r = resolveReferences(value, dir, env);
    if (!r.problem) return r.value;
    unresolved.push(source.problem('CONFIG_SECRET_UNRESOLVED', at, r.problem.message));
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveSecrets(v, [...at, i], dir, env, source, unresolved));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveSecrets(v, [...at, k], dir, env, source, unresolved)]),
    );
  }
  return value;
}

// ---- Rules ----------------------------------------------------------------------------------------------------

function compileRules(
  entries: [number, RuleConfig][],
  declared: Set<string>,
  connectors: Map<string, ConnectorConfig>,
  source: SourceMap,
  problems: ConfigProblem[],
): (InboundRule | OutboundRule)[] {
  const out: (InboundRule | OutboundRule)[] = [];
  const names = new Set<string>();
  for (const [index, rule] of entries) {
    const at: Path = ['rules', index];
    if (names.has(rule.name)) {
      problems.push(source.problem('RULE_DUPLICATE', [...at, 'name'], `a rule named "${rule.name}" already exists`));
    }
    names.add(rule.name);
    if (rule.disabled) continue;
    // A connector declared but broken has its own problems reported; the rule is not blamed for them.
    if (!connectors.has(rule.connector) && !declared.has(rule.connector)) {
      problems.push(
        source.problem('RULE_CONNECTOR_UNKNOWN', [...at, 'connector'], `unknown connector "${rule.connector}"`, {
          suggestion: closest(rule.connector, declared),
          expected: [...declared].join(', ') || 'a connector defined under connectors:',
        }),
      );
    }
    rule.flows.forEach((flow, f) => {
      if (flow.referencesIn && !declared.has(flow.referencesIn)) {
        problems.push(
          source.problem('FLOW_CONNECTOR_UNKNOWN', [...at, 'flows', f, 'referencesIn'], `unknown connector "${flow.referencesIn}"`, {
            suggestion: closest(flow.referencesIn, declared),
            expected: [...declared].join(', '),
          }),
        );
      }
    });
    const compiled = compileRule(rule, at, source, problems);
    if (compiled) out.push(compiled);
  }
  return out;
}

function compileRule(
  rule: RuleConfig,
  at: Path,
  source: SourceMap,
  problems: ConfigProblem[],
): InboundRule | OutboundRule | undefined {
  let scope: ReturnType<typeof compileScope> | undefined;
  try {
    scope = compileScope(rule.scope);
  } catch (err) {
    const subPath = (err as { path?: Path }).path ?? [];
    problems.push(source.problem(codeOf(err, 'SCOPE_INVALID'), [...at, 'scope', ...subPath], messageOf(err)));
  }
  const flows: CompiledFlow[] = [];
  rule.flows.forEach((flow, i) => {
    const compiled = compileFlow(flow, [...at, 'flows', i], source, problems);
    if (compiled) flows.push(compiled);
  });
  if (rule.direction === 'inbound') {
    rule.join.forEach((group, g) => {
      group.forEach((c, i) => {
        if (!c.metaverse) {
          problems.push(
            source.problem('JOIN_INCOMPLETE', [...at, 'join', g, i], 'an inbound join condition needs `metaverse`'),
          );
        }
      });
    });
  }
  if (!scope) return undefined;
  const common = {
    name: rule.name,
    connector: rule.connector,
    objectType: rule.objectType,
    metaverseType: rule.metaverseType,
    scope,
    scopeSource: rule.scope,
    join: rule.join,
    flows,
  };
  return rule.direction === 'inbound'
    ? { ...common, direction: 'inbound', project: rule.project, precedence: rule.precedence }
    : { ...common, direction: 'outbound', provision: rule.provision, deprovision: rule.deprovision };
}

function compileFlow(flow: FlowConfig, at: Path, source: SourceMap, problems: ConfigProblem[]): CompiledFlow | undefined {
  const fallback = flow.default === undefined ? undefined : toValues(flow.default);
  const withDefault = (values: Value[] | undefined): Value[] | undefined =>
    values !== undefined && values.length === 0 && fallback ? fallback : values;
  const base = {
    target: flow.target,
    applyOn: flow.applyOn,
    authoritativeNull: flow.authoritativeNull,
    ...(flow.referencesIn ? { referencesIn: flow.referencesIn } : {}),
  };

  if (flow.source !== undefined) {
    const attribute = flow.source;
    return { ...base, picksUnique: false, describe: `[${attribute}]`, reads: [attribute], evaluate: (input: FlowInput) => withDefault(input.get(attribute)) };
  }
  if (flow.constant !== undefined) {
    const values = toValues(flow.constant);
    return { ...base, picksUnique: false, describe: JSON.stringify(flow.constant), evaluate: () => values };
  }
  try {
    const expression = compileExpression(flow.expression!);
    const target = flow.target;
    return {
      ...base,
      picksUnique: /\bSelectUniqueValue\s*\(/i.test(expression.source),
      describe: expression.source,
      reads: expression.attributes,
      expression,
      // An expression does not know which attribute it feeds; uniqueness is checked for the flow's target.
      evaluate: (input, options) =>
        withDefault(
          expression.evaluate(input, {
            ...options,
            ...(options?.isUnique ? { isUnique: (_: string, v: Value) => options.isUnique!(target, v) } : {}),
          }),
        ),
    };
  } catch (err) {
    const offset = (err as { offset?: number }).offset;
    problems.push(
      source.problem(codeOf(err, 'EXPRESSION_INVALID'), [...at, 'expression'], messageOf(err), {
        offsetInString: offset,
      }),
    );
    return undefined;
  }
}

/**
 * Metaverse attributes exist only because inbound flows set them. An outbound flow, scope or join that reads
 * one no inbound rule of that metaverse type sets, or an inbound join that compares with one, is a typo
 * that would silently produce nothing: reported with its place and the attributes that do exist. The
 * attributes set are read from every inbound rule as written, so that a rule with a problem of its own does
 * not make the others' attributes look unknown.
 */
function checkMetaverseAttributes(
  data: unknown,
  entries: [number, RuleConfig][],
  rules: (InboundRule | OutboundRule)[],
  source: SourceMap,
  problems: ConfigProblem[],
): void {
  const known = new Map<string, Map<string, string>>();
  for (const rule of Array.isArray(valueAt(data, ['rules'])) ? (valueAt(data, ['rules']) as unknown[]) : []) {
    if (!isRecord(rule) || rule.direction !== 'inbound' || rule.disabled === true || typeof rule.metaverseType !== 'string') continue;
    const set = known.get(rule.metaverseType) ?? new Map<string, string>();
    for (const f of Array.isArray(rule.flows) ? rule.flows : []) {
      if (isRecord(f) && typeof f.target === 'string') set.set(f.target.toLowerCase(), f.target);
    }
    known.set(rule.metaverseType, set);
  }
  for (const [index, rule] of entries) {
    if (rule.disabled) continue;
    const compiled = rules.find((r) => r.name === rule.name);
    if (!compiled) continue;
    const set = known.get(rule.metaverseType) ?? new Map<string, string>();
    const check = (attribute: string, path: Path) => {
      if (set.has(attribute.toLowerCase())) return;
      const expected = [...set.values()].sort((a, b) => a.localeCompare(b)).join(', ');
      problems.push(
        source.problem('METAVERSE_ATTRIBUTE_UNKNOWN', path, `no inbound rule sets the ${rule.metaverseType} attribute "${attribute}"`, {
          suggestion: closest(attribute, set.values()),
          expected: expected || `an inbound rule with metaverseType ${rule.metaverseType}`,
        }),
      );
    };
    const at: Path = ['rules', index];
    rule.join.forEach((group, g) => {
      group.forEach((c, i) => {
        if (c.metaverse) check(c.metaverse, [...at, 'join', g, i, 'metaverse']);
      });
    });
    if (rule.direction !== 'outbound') continue;
    rule.flows.forEach((flow, f) => {
      if (flow.source !== undefined) check(flow.source, [...at, 'flows', f, 'source']);
      const expression = compiled.flows.find((c) => c.target === flow.target && c.expression)?.expression;
      if (flow.expression !== undefined && expression) {
        for (const a of expression.attributes) check(a, [...at, 'flows', f, 'expression']);
      }
    });
    rule.scope.forEach((group, g) => {
      group.forEach((c, i) => {
        // IS MEMBER OF names a group, not an attribute of the object.
        if (!/member/i.test(c.operator)) check(c.attribute, [...at, 'scope', g, i, 'attribute']);
      });
    });
  }
}

/**
 * Where the rules name attributes of a connector's objects, each with its place: what `idsync validate`
 * checks against the connector's schema. Inbound rules read the source's attributes (flows, scope, join);
 * outbound rules write the target's (flow targets) and compare with them (join).
 */
function connectorAttributeUses(entries: [number, RuleConfig][], rules: (InboundRule | OutboundRule)[], source: SourceMap): AttributeUse[] {
  const uses: AttributeUse[] = [];
  for (const [index, rule] of entries) {
    const compiled = rules.find((r) => r.name === rule.name);
    if (rule.disabled || !compiled) continue;
    const at: Path = ['rules', index];
    const use = (attribute: string, access: AttributeUse['access'], path: Path, offsetInString?: number) =>
      uses.push({
        connector: rule.connector,
        objectType: rule.objectType,
        objectTypeLocation: source.location([...at, 'objectType']),
        attribute,
        access,
        location: source.location(path, offsetInString),
      });
    rule.join.forEach((group, g) => {
      group.forEach((c, i) => {
        use(c.attribute, 'read', [...at, 'join', g, i]);
      });
    });
    if (rule.direction === 'outbound') {
      rule.flows.forEach((flow, f) => {
        use(flow.target, 'write', [...at, 'flows', f, 'target']);
      });
      continue;
    }
    rule.flows.forEach((flow, f) => {
      if (flow.source !== undefined) use(flow.source, 'read', [...at, 'flows', f, 'source']);
      const expression = compiled.flows.find((c) => c.target === flow.target && c.expression)?.expression;
      if (flow.expression === undefined || !expression) return;
      for (const a of expression.attributes) {
        // the first [name] in the text: the column points at the misspelling itself
        const written = new RegExp(`\\[\\s*${a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\]`, 'i').exec(flow.expression);
        use(a, 'read', [...at, 'flows', f, 'expression'], written?.index);
      }
    });
    rule.scope.forEach((group, g) => {
      group.forEach((c, i) => {
        if (!/member/i.test(c.operator)) use(c.attribute, 'read', [...at, 'scope', g, i, 'attribute']);
      });
    });
  }
  return uses;
}

function toValues(v: string | number | boolean | (string | number | boolean)[]): Value[] {
  return Array.isArray(v) ? v : [v];
}

function codeOf(err: unknown, fallback: string): string {
  return err instanceof IdsyncError ? err.code : fallback;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function hashRules(raw: RawConfig): string {
  // Connector settings are part of the hash because they decide which objects and attributes are imported;
  // secrets in them are still unresolved references here, so the hash never depends on a password.
  const relevant = { rules: raw.rules, connectors: raw.connectors };
  return createHash('sha256').update(JSON.stringify(relevant)).digest('hex').slice(0, 16);
}

// ---- Positions ---------------------------------------------------------------------------------------------------

/** The parsed YAML with its line counter: turns a path in the config into file:line:column. */
class SourceMap {
  readonly doc: Document.Parsed;
  private readonly lines = new LineCounter();
  readonly syntaxProblems: ConfigProblem[] = [];

  constructor(
    text: string,
    private readonly file: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const e of this.doc.errors) {
      const pos = this.lines.linePos(e.pos[0]);
      this.syntaxProblems.push({
        code: 'YAML_SYNTAX',
        message: e.message.split('\n')[0] ?? e.message,
        location: `${this.display}:${pos.line}:${pos.col}`,
        path: [],
      });
    }
  }

  /** the file as the user would type it: relative to the working folder when inside it */
  private get display(): string {
    const rel = relative(process.cwd(), this.file);
    return rel && !rel.startsWith('..') ? rel : this.file;
  }

  /** The node at `path`, or the nearest ancestor that exists (a missing key is reported at its parent). */
  private nodeAt(path: Path): { node: Node | null; exact: boolean } {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && (isMap(node) || isSeq(node) || isScalar(node))) return { node, exact: n === path.length };
      // a key with a null value: locate the key itself
      if (n > 0 && node === null) continue;
    }
    return { node: null, exact: false };
  }

  location(path: Path, offsetInString?: number, key?: string): string {
    if (key !== undefined) {
      // An unknown setting is reported at its key, not at its parent.
      const map = this.doc.getIn(path, true);
      if (isMap(map)) {
        const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
        const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
        if (range) {
          const pos = this.lines.linePos(range[0]);
          return `${this.display}:${pos.line}:${pos.col}`;
        }
      }
    }
    const { node, exact } = this.nodeAt(path);
    if (!node?.range) return this.display;
    let offset = node.range[0];
    if (exact && offsetInString !== undefined && isScalar(node)) {
      const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
      offset += offsetInString + (quoted ? 1 : 0);
    }
    const pos = this.lines.linePos(offset);
    return `${this.display}:${pos.line}:${pos.col}`;
  }

  problem(
    code: string,
    path: Path,
    message: string,
    extra: { expected?: string; suggestion?: string | undefined; offsetInString?: number | undefined; key?: string } = {},
  ): ConfigProblem {
    const text = withHints(message, extra.suggestion, extra.expected);
    return { code, message: text, path, location: this.location(path, extra.offsetInString, extra.key) };
  }
}
