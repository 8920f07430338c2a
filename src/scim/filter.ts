/**
 * SCIM filters (RFC 7644 §3.4.2.2): a parser to an AST and an evaluator compiled against a resource schema.
 *
 * Grammar (the RFC's ABNF; keywords, operators and attribute names in any case):
 *   FILTER    = attrExp / logExp / valuePath / [ "not" ] "(" FILTER ")"
 *   valuePath = attrPath "[" valFilter "]"          ; no ".sub" after "]" in a filter, no nested "["
 *   attrExp   = attrPath SP "pr" / attrPath SP compareOp SP compValue
 *   logExp    = FILTER SP ( "and" / "or" ) SP FILTER  ; not binds tighter than and, and tighter than or
 *   attrPath  = [ URI ":" ] ATTRNAME [ "." ATTRNAME ]
 * Parsing is iterative for and/or chains and recursive only for parentheses, so depth is bounded by
 * `maxDepth`, not by the length of the filter.
 */
import { badRequest, ScimError } from './errors.js';
import type { AttributeDefinition, AttributeRef, ResourceSchema } from './schemas.js';

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
export type Literal = string | number | boolean | null;

/** An attribute path as written: `[urn:]attribute[.subAttribute]`. */
export interface AttrPath {
  /** the path as written, for messages and for URN-aware resolution */
  text: string;
  /** the schema URN prefix as written, if any */
  schema?: string;
  attribute: string;
  subAttribute?: string;
}

export type Filter =
  | { type: 'compare'; op: CompareOp; path: AttrPath; value: Literal }
  | { type: 'present'; path: AttrPath }
  | { type: 'and'; filters: Filter[] }
  | { type: 'or'; filters: Filter[] }
  | { type: 'not'; filter: Filter }
  | { type: 'valuePath'; path: AttrPath; filter: Filter };

export interface FilterLimits {
  /** longest filter accepted, in characters (default 10,000) */
  maxLength?: number;
  /** deepest nesting of parentheses, not and value filters (default 32) */
  maxDepth?: number;
  /**
   * Refuse what the RFC grammar does not allow even where a known client sends it: `emails[type eq
   * "work"].value eq "x"` (Microsoft Entra's query by work email) and an unquoted string (`externalId eq
   * jyoung`, in Entra's documentation). Default false.
   */
  strict?: boolean;
}

export const MAX_FILTER_LENGTH = 10_000;
export const MAX_FILTER_DEPTH = 32;

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
const NAME = /^(?:[A-Za-z][A-Za-z0-9_-]*|\$ref)$/;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const PATH_CHAR = /[A-Za-z0-9_.:$-]/;
/** what filterCompare accepts as a path: `[urn:...:]attr[.sub]` */
const FILTER_PATH =
  /^(?:urn:[A-Za-z0-9_.:$-]+:)?(?:[A-Za-z][A-Za-z0-9_-]*|\$ref)(?:\.(?:[A-Za-z][A-Za-z0-9_-]*|\$ref))?$/i;
/** white space, ( ) [ ] and " end an unquoted value */
const BARE_WORD_END = new Set([32, 9, 10, 13, 40, 41, 91, 93, 34]);
const BARE_WORD_RESERVED = new Set(['true', 'false', 'null', 'and', 'or', 'not']);

export function parseFilter(text: string, limits: FilterLimits = {}): Filter {
  if (typeof text !== 'string') throw badRequest('invalidFilter', 'the filter must be a string');
  const maxLength = limits.maxLength ?? MAX_FILTER_LENGTH;
  if (text.length > maxLength) {
    throw badRequest(
      'invalidFilter',
      `the filter is ${text.length} characters long; at most ${maxLength} are accepted`,
    );
  }
  const strict = limits.strict ?? false;
  const parser = new FilterParser(text, limits.maxDepth ?? MAX_FILTER_DEPTH, 'invalidFilter', {
    strict,
    bareWords: !strict,
  });
  const filter = parser.parseWhole();
  return filter;
}

/**
 * A value as a filter's compValue (RFC 7644 §3.4.2.2): a JSON string, a number, true, false or null, so
 * quotes, backslashes and control characters in data never change what the filter says. A number that JSON
 * cannot write (NaN, Infinity) is refused rather than sent as null.
 */
export function formatFilterValue(value: Literal): string {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw badRequest('invalidValue', `${value} cannot be written as a filter value`);
  }
  if (
    value !== null &&
    typeof value !== 'string' &&
    typeof value !== 'number' &&
    typeof value !== 'boolean'
  ) {
    throw badRequest('invalidValue', `a ${typeof value} cannot be written as a filter value`);
  }
  return JSON.stringify(value);
}

/**
 * `path op value`, the value quoted by formatFilterValue. `path` is an attribute path the caller vouches for
 * (`userName`, `meta.lastModified`, `urn:...:User:employeeNumber`); it is checked, not escaped, since a
 * path has no quoting.
 */
export function filterCompare(path: string, op: CompareOp, value: Literal): string {
  if (!FILTER_PATH.test(path))
    throw badRequest('invalidPath', `${JSON.stringify(path)} is not an attribute path`);
  if (!COMPARE_OPS.has(op))
    throw badRequest('invalidFilter', `${JSON.stringify(op)} is not a comparison operator`);
  return `${path} ${op} ${formatFilterValue(value)}`;
}

/** `path eq value`: the filter that finds resources by one attribute's value. */
export function filterEq(path: string, value: Literal): string {
  return filterCompare(path, 'eq', value);
}

/** Parses `[urn:]attr[.sub]`; shared with the PATCH path parser. `kind` picks the scimType of errors. */
export function splitAttrPath(
  text: string,
  offset: number,
  fail: (offset: number, message: string) => ScimError,
): AttrPath {
  let schema: string | undefined;
  let rest = text;
  if (/^urn:/i.test(text)) {
    const colon = text.lastIndexOf(':');
    schema = text.slice(0, colon);
    rest = text.slice(colon + 1);
    if (rest === '')
      throw fail(offset + colon + 1, `expected an attribute name after the schema URN ${schema}`);
  } else if (text.includes(':')) {
    throw fail(
      offset + text.indexOf(':'),
      `"${text}" is not an attribute path (a schema URN starts with "urn:")`,
    );
  }
  const dot = rest.indexOf('.');
  const attribute = dot < 0 ? rest : rest.slice(0, dot);
  const subAttribute = dot < 0 ? undefined : rest.slice(dot + 1);
  const restOffset = offset + text.length - rest.length;
  if (!NAME.test(attribute)) throw fail(restOffset, `"${attribute}" is not a valid attribute name`);
  if (subAttribute !== undefined && !NAME.test(subAttribute)) {
    throw fail(restOffset + dot + 1, `"${subAttribute}" is not a valid sub-attribute name`);
  }
  const path: AttrPath = { text, attribute };
  if (schema !== undefined) path.schema = schema;
  if (subAttribute !== undefined) path.subAttribute = subAttribute;
  return path;
}

interface ParserOptions {
  /** refuse `attr[filter].sub op value` (see FilterLimits.strict) */
  strict?: boolean;
  /** read an unquoted word as a string; PATCH paths, which a client writes from its own data, stay quoted */
  bareWords?: boolean;
}

/** The recursive-descent parser; also parses the value filter inside a PATCH path. */
export class FilterParser {
  pos = 0;
  private depth = 0;

  constructor(
    readonly text: string,
    private readonly maxDepth: number,
    private readonly scimType: 'invalidFilter' | 'invalidPath',
    private readonly options: ParserOptions = {},
  ) {}

  fail = (offset: number, message: string): ScimError => {
    const near = this.text.slice(offset, offset + 20);
    const where = offset >= this.text.length ? 'at the end' : `at offset ${offset} (near "${near}")`;
    const what = this.scimType === 'invalidFilter' ? 'filter' : 'path';
    return badRequest(this.scimType, `invalid ${what} ${where}: ${message}`);
  };

  parseWhole(): Filter {
    this.skipSpace();
    if (this.pos >= this.text.length) throw this.fail(this.pos, 'the filter is empty');
    const filter = this.parseOr(false);
    this.skipSpace();
    if (this.pos < this.text.length) throw this.unexpected();
    return filter;
  }

  /** or-chain; `inValue` when inside `attr[...]`, where another `[` is not allowed. */
  parseOr(inValue: boolean): Filter {
    const first = this.parseAnd(inValue);
    const filters: Filter[] = [first];
    while (this.peekKeyword('or')) {
      this.pos += 2;
      this.requireSpaceAfterKeyword('or');
      filters.push(this.parseAnd(inValue));
    }
    return filters.length > 1 ? { type: 'or', filters } : first;
  }

  private parseAnd(inValue: boolean): Filter {
    const first = this.parseUnary(inValue);
    const filters: Filter[] = [first];
    while (this.peekKeyword('and')) {
      this.pos += 3;
      this.requireSpaceAfterKeyword('and');
      filters.push(this.parseUnary(inValue));
    }
    return filters.length > 1 ? { type: 'and', filters } : first;
  }

  private parseUnary(inValue: boolean): Filter {
    this.skipSpace();
    const start = this.pos;
    if (this.text.charCodeAt(this.pos) === 40 /* ( */) {
      return { ...this.parseGroup(inValue) };
    }
    const word = this.peekWord().toLowerCase();
    if ((word === 'and' || word === 'or') && isSpace(this.text.charCodeAt(this.pos + word.length))) {
      throw this.fail(this.pos, `expected a filter before "${word}"`);
    }
    if (word === 'not') {
      const after = this.pos + 3;
      let i = after;
      while (i < this.text.length && isSpace(this.text.charCodeAt(i))) i++;
      if (this.text.charCodeAt(i) === 40) {
        this.pos = i;
        return { type: 'not', filter: this.parseGroup(inValue) };
      }
      // "not" followed by an operator is an attribute named "not"; anything else is a missing "("
      const next = this.text
        .slice(i)
        .match(/^[A-Za-z]+/)?.[0]
        ?.toLowerCase();
      if (next === undefined || !(COMPARE_OPS.has(next) || next === 'pr')) {
        throw this.fail(i, '"not" must be followed by a filter in parentheses: not (...)');
      }
    }
    if (this.pos >= this.text.length) throw this.fail(start, 'expected an attribute path, "not" or "("');
    return this.parseAttrExpression(inValue);
  }

  private parseGroup(inValue: boolean): Filter {
    const open = this.pos;
    this.enter(open);
    this.pos++;
    const inner = this.parseOr(inValue);
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) !== 41 /* ) */) {
      throw this.pos >= this.text.length
        ? this.fail(this.pos, `missing ")" for the "(" at offset ${open}`)
        : this.unexpected('")", "and" or "or"');
    }
    this.pos++;
    this.depth--;
    return inner;
  }

  private parseAttrExpression(inValue: boolean): Filter {
    const path = this.parseAttrPath();
    if (this.text.charCodeAt(this.pos) === 91 /* [ */) {
      if (inValue) throw this.fail(this.pos, 'value filters cannot be nested');
      if (path.subAttribute !== undefined) {
        throw this.fail(
          this.pos,
          `a value filter applies to an attribute, not to the sub-attribute ${path.text}`,
        );
      }
      const open = this.pos;
      this.enter(open);
      this.pos++;
      const inner = this.parseOr(true);
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== 93 /* ] */) {
        throw this.pos >= this.text.length
          ? this.fail(this.pos, `missing "]" for the "[" at offset ${open}`)
          : this.unexpected('"]", "and" or "or"');
      }
      this.pos++;
      this.depth--;
      if (this.text.charCodeAt(this.pos) === 46 /* . */) {
        // `emails[type eq "work"].value eq "x"` is outside the RFC grammar, but Microsoft Entra sends it to
        // match users by work email; it means one email that is work and has that value
        if (this.options.strict) {
          throw this.fail(this.pos, 'a filter cannot select a sub-attribute after "]" (RFC 7644 §3.4.2.2)');
        }
        this.pos++;
        const subStart = this.pos;
        while (this.pos < this.text.length && /[A-Za-z0-9_$-]/.test(this.text[this.pos]!)) this.pos++;
        const sub = this.text.slice(subStart, this.pos);
        if (!NAME.test(sub)) throw this.fail(subStart, 'expected a sub-attribute name after "]."');
        const condition = this.parseOperation({ text: sub, attribute: sub });
        return { type: 'valuePath', path, filter: { type: 'and', filters: [inner, condition] } };
      }
      return { type: 'valuePath', path, filter: inner };
    }
    return this.parseOperation(path);
  }

  /** ` pr` or ` op value` after an attribute path. */
  private parseOperation(path: AttrPath): Filter {
    if (!this.skipSpace()) throw this.unexpected('a space and an operator');
    const opStart = this.pos;
    const op = this.peekWord().toLowerCase();
    if (op === 'pr') {
      this.pos += 2;
      return { type: 'present', path };
    }
    if (!COMPARE_OPS.has(op)) {
      throw this.fail(opStart, 'expected an operator: eq, ne, co, sw, ew, gt, ge, lt, le or pr');
    }
    this.pos += 2;
    // the RFC asks for a space; `value eq"x"` appears in the wild (and in RFC 7644's own examples)
    if (!this.skipSpace() && this.text.charCodeAt(this.pos) !== 34)
      throw this.unexpected('a space and a value');
    const value = this.parseLiteral();
    return { type: 'compare', op: op as CompareOp, path, value };
  }

  parseAttrPath(): AttrPath {
    const start = this.pos;
    while (this.pos < this.text.length && PATH_CHAR.test(this.text[this.pos]!)) this.pos++;
    if (this.pos === start) throw this.unexpected('an attribute path');
    return splitAttrPath(this.text.slice(start, this.pos), start, this.fail);
  }

  private parseLiteral(): Literal {
    const start = this.pos;
    const c = this.text.charCodeAt(start);
    let value: Literal;
    if (c === 34 /* " */) {
      let i = start + 1;
      while (i < this.text.length) {
        const ch = this.text.charCodeAt(i);
        if (ch === 92 /* \ */) i += 2;
        else if (ch === 34) break;
        else i++;
      }
      if (i >= this.text.length) throw this.fail(start, 'the string is not terminated with "');
      try {
        value = JSON.parse(this.text.slice(start, i + 1)) as string;
      } catch {
        throw this.fail(
          start,
          'the string has an invalid escape or control character (JSON string rules apply)',
        );
      }
      this.pos = i + 1;
    } else if (this.options.bareWords && this.bareWord() !== undefined) {
      // Entra's documentation shows `externalId eq jyoung`: outside the RFC (strings are quoted), but a word
      // that starts with a letter and is no keyword can only be a string in that place
      value = this.bareWord()!;
      this.pos += value.length;
    } else {
      const word = this.peekWord().toLowerCase();
      if (word === 'true' || word === 'false' || word === 'null') {
        value = word === 'null' ? null : word === 'true';
        this.pos += word.length;
      } else {
        NUMBER.lastIndex = start;
        const m = NUMBER.exec(this.text);
        if (!m) throw this.fail(start, 'expected a value: a "string", a number, true, false or null');
        value = Number(m[0]);
        this.pos += m[0].length;
      }
    }
    const after = this.text.charCodeAt(this.pos);
    if (this.pos < this.text.length && !isSpace(after) && after !== 41 && after !== 93) {
      throw this.unexpected('a space, ")" or "]" after the value');
    }
    return value;
  }

  /**
   * The unquoted word at the position, when it can stand for a string: it starts with a letter, runs to white
   * space, a parenthesis, a bracket or a quote, and is none of true, false, null, and, or, not. Numbers and
   * words starting with a digit or a sign stay errors (`01`, `1x`, `-x` might be a mistyped number).
   */
  private bareWord(): string | undefined {
    if (!isLetter(this.text.charCodeAt(this.pos))) return undefined;
    let end = this.pos;
    while (end < this.text.length && !BARE_WORD_END.has(this.text.charCodeAt(end))) end++;
    const word = this.text.slice(this.pos, end);
    return BARE_WORD_RESERVED.has(word.toLowerCase()) ? undefined : word;
  }

  private enter(offset: number): void {
    this.depth++;
    if (this.depth > this.maxDepth) throw this.fail(offset, `nesting deeper than ${this.maxDepth} levels`);
  }

  private unexpected(expected?: string): ScimError {
    if (this.pos >= this.text.length)
      return this.fail(this.pos, `unexpected end${expected ? `; expected ${expected}` : ''}`);
    const ch = JSON.stringify(this.text[this.pos]);
    return this.fail(this.pos, `unexpected ${ch}${expected ? `; expected ${expected}` : ''}`);
  }

  /** Skips white space; tells whether there was any. */
  skipSpace(): boolean {
    const start = this.pos;
    while (this.pos < this.text.length && isSpace(this.text.charCodeAt(this.pos))) this.pos++;
    return this.pos > start;
  }

  private peekWord(): string {
    let i = this.pos;
    while (i < this.text.length && isLetter(this.text.charCodeAt(i))) i++;
    return this.text.slice(this.pos, i);
  }

  /** A keyword after white space, followed by white space or "(" — "userName eq "x" andy" is not "and". */
  private peekKeyword(word: string): boolean {
    const save = this.pos;
    if (!this.skipSpace()) {
      this.pos = save;
      return false;
    }
    const found = this.text.slice(this.pos, this.pos + word.length).toLowerCase() === word;
    const next = this.text.charCodeAt(this.pos + word.length);
    if (found && (isSpace(next) || next === 40 || Number.isNaN(next))) return true;
    this.pos = save;
    return false;
  }

  private requireSpaceAfterKeyword(word: string): void {
    if (!this.skipSpace() && this.text.charCodeAt(this.pos) !== 40)
      throw this.unexpected(`a filter after "${word}"`);
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}
function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

export type Predicate = (resource: Record<string, unknown>) => boolean;

/**
 * The compiled form rides on the parsed filter under a symbol (not in a WeakMap: one entry per request
 * would give the garbage collector an ephemeron table to walk at 10,000 reads a second).
 */
const COMPILED = Symbol('compiled');
type WithCompiled = Filter & { [COMPILED]?: { schema: ResourceSchema; predicate: Predicate } };

/**
 * Whether a resource matches. The filter is compiled against the schema once and the compiled form kept
 * with the filter, so evaluating one parsed filter over many resources costs no further parsing or lookups.
 * Throws ScimError invalidFilter when the filter cannot apply to the schema (gt on a boolean, co on a
 * number, a non-date compared with a dateTime attribute).
 */
export function matches(resource: Record<string, unknown>, filter: Filter, schema: ResourceSchema): boolean {
  return compileFilter(filter, schema)(resource);
}

export function compileFilter(filter: Filter, schema: ResourceSchema): Predicate {
  const cached = (filter as WithCompiled)[COMPILED];
  if (cached && cached.schema === schema) return cached.predicate;
  const predicate = compileNode(filter, schema, undefined);
  (filter as WithCompiled)[COMPILED] = { schema, predicate };
  return predicate;
}

/**
 * The predicate of a value filter (`emails[type eq "work"]`) over the elements of a complex attribute, as
 * PATCH paths use it. Throws ScimError invalidPath when the filter cannot apply to that attribute.
 */
export function compileElementFilter(
  filter: Filter,
  schema: ResourceSchema,
  attribute: AttributeRef,
): (element: Record<string, unknown>) => boolean {
  try {
    return compileNode(filter, schema, attribute);
  } catch (err) {
    if (err instanceof ScimError && err.scimType === 'invalidFilter') {
      throw badRequest('invalidPath', err.detail.replace(/^invalid filter/, 'invalid value filter'));
    }
    throw err;
  }
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads an attribute by its canonical name, falling back to a case-insensitive match of the keys: attribute
 * names are case-insensitive (RFC 7643 §2.1) and stored resources may come from clients that spell them
 * otherwise. Own properties only, so "constructor" or "toString" never reach Object.prototype.
 */
export function getAttribute(obj: Obj, name: string, lower = name.toLowerCase()): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  for (const key in obj) {
    if (key.length === lower.length && key.toLowerCase() === lower && Object.hasOwn(obj, key))
      return obj[key];
  }
  return undefined;
}

/** Where a filter's attribute path points, resolved against the schema (or inside a value filter's scope). */
interface Target {
  /** extension URN whose object holds the attribute */
  container: string | undefined;
  name: string;
  definition: AttributeDefinition | undefined;
  /** sub-attribute to read inside each value (given, or "value" for a complex attribute without one) */
  subName: string | undefined;
  subDefinition: AttributeDefinition | undefined;
}

function resolveTarget(
  path: AttrPath,
  schema: ResourceSchema,
  scope: AttributeRef | undefined,
  fail: (m: string) => ScimError,
): Target {
  let ref: AttributeRef | undefined;
  let sub: AttributeRef | undefined;
  if (scope) {
    // inside emails[...]: names are emails' sub-attributes; "emails.type" is accepted too
    if (path.subAttribute !== undefined && path.attribute.toLowerCase() === scope.name.toLowerCase()) {
      sub = scope.subAttributes?.get(path.subAttribute.toLowerCase());
    } else if (path.subAttribute === undefined && path.schema === undefined) {
      sub = scope.subAttributes?.get(path.attribute.toLowerCase());
    }
    if (!sub) throw fail(`${path.text} is not a sub-attribute of ${scope.name}`);
    return {
      container: undefined,
      name: sub.name,
      definition: sub.definition,
      subName: undefined,
      subDefinition: undefined,
    };
  }
  let schemaUrn = path.schema;
  if (schemaUrn !== undefined) {
    const split = schema.splitUrn(path.text);
    schemaUrn = split.schema;
  }
  ref = schema.attribute(path.attribute, schemaUrn);
  if (!ref) {
    // an attribute no schema defines matches nothing rather than failing: clients probe for custom
    // attributes, and RFC 7644 asks for an empty result, not an error, when nothing matches
    return {
      // under an unknown URN, the attribute would be in an object of that name, never at the top level
      container:
        schemaUrn === undefined || schemaUrn.toLowerCase() === schema.core.id.toLowerCase()
          ? undefined
          : (schema.schemaId(schemaUrn) ?? schemaUrn),
      name: path.attribute,
      definition: undefined,
      subName: path.subAttribute,
      subDefinition: undefined,
    };
  }
  if (ref.definition.returned === 'never') throw fail(`${ref.name} cannot be used in a filter`);
  if (path.subAttribute !== undefined) {
    sub = ref.subAttributes?.get(path.subAttribute.toLowerCase());
    if (!sub) throw fail(`${path.subAttribute} is not a sub-attribute of ${ref.name}`);
    if (sub.definition.returned === 'never') throw fail(`${ref.name}.${sub.name} cannot be used in a filter`);
  } else if (ref.definition.type === 'complex') {
    sub = ref.subAttributes?.get('value');
  }
  return {
    container: ref.container,
    name: ref.name,
    definition: ref.definition,
    subName: sub?.name,
    subDefinition: sub?.definition,
  };
}

function compileNode(node: Filter, schema: ResourceSchema, scope: AttributeRef | undefined): Predicate {
  switch (node.type) {
    case 'and': {
      const parts = node.filters.map((f) => compileNode(f, schema, scope));
      return (r) => {
        for (const p of parts) if (!p(r)) return false;
        return true;
      };
    }
    case 'or': {
      const parts = node.filters.map((f) => compileNode(f, schema, scope));
      return (r) => {
        for (const p of parts) if (p(r)) return true;
        return false;
      };
    }
    case 'not': {
      const inner = compileNode(node.filter, schema, scope);
      return (r) => !inner(r);
    }
    case 'valuePath':
      return compileValuePath(node.path, node.filter, schema, scope);
    case 'present':
      return compileLeaf(node.path, schema, scope, isPresent, 'pr');
    case 'compare': {
      const fail = filterFail(node.path);
      const target = resolveTarget(node.path, schema, scope, fail);
      if (node.value === null) {
        // "eq null" asks for an unassigned attribute (RFC 7643 §2.5: null and unassigned are the same)
        const present = compileLeaf(node.path, schema, scope, isPresent, 'pr');
        return node.op === 'ne' ? present : node.op === 'eq' ? (r) => !present(r) : () => false;
      }
      const leafDef = target.subDefinition ?? target.definition;
      if (target.definition?.type === 'complex' && target.subName === undefined) {
        throw fail(`${target.name} is complex: compare one of its sub-attributes (${target.name}.<name>)`);
      }
      const op = node.op;
      const negate = op === 'ne';
      const test = makeTest(op === 'ne' ? 'eq' : op, node.value, leafDef, fail);
      const leaf = accessor(target, test);
      return negate ? (r) => !leaf(r) : leaf;
    }
  }
}

function filterFail(path: AttrPath): (m: string) => ScimError {
  return (message) => badRequest('invalidFilter', `invalid filter on ${path.text}: ${message}`);
}

function compileLeaf(
  path: AttrPath,
  schema: ResourceSchema,
  scope: AttributeRef | undefined,
  test: (v: unknown) => boolean,
  _op: 'pr',
): Predicate {
  const target = resolveTarget(path, schema, scope, filterFail(path));
  // "emails pr" asks whether there is any email, not whether an email has a value
  if (path.subAttribute === undefined && target.definition?.type === 'complex') target.subName = undefined;
  return accessor(target, test);
}

function compileValuePath(
  path: AttrPath,
  filter: Filter,
  schema: ResourceSchema,
  scope: AttributeRef | undefined,
): Predicate {
  const fail = filterFail(path);
  if (scope) throw fail('value filters cannot be nested');
  let schemaUrn: string | undefined;
  if (path.schema !== undefined) schemaUrn = schema.splitUrn(path.text).schema;
  const ref = schema.attribute(path.attribute, schemaUrn);
  if (!ref) return () => false;
  if (ref.definition.type !== 'complex')
    throw fail(`${ref.name} is not complex; a value filter needs sub-attributes`);
  const inner = compileNode(filter, schema, ref);
  const target: Target = {
    container: ref.container,
    name: ref.name,
    definition: ref.definition,
    subName: undefined,
    subDefinition: undefined,
  };
  return accessor(target, (element) => isObject(element) && inner(element));
}

/** Builds the reader: container, attribute, each value of a multi-valued one, the sub-attribute of each. */
function accessor(target: Target, test: (v: unknown) => boolean): Predicate {
  const { container, name, subName } = target;
  const lower = name.toLowerCase();
  const containerLower = container?.toLowerCase();
  const subLower = subName?.toLowerCase();
  const testOne =
    subName === undefined
      ? test
      : (v: unknown) => isObject(v) && testAny(getAttribute(v, subName, subLower), test);
  return (resource) => {
    let holder: unknown = resource;
    if (container !== undefined) holder = getAttribute(resource, container, containerLower);
    if (!isObject(holder)) return false;
    return testAny(getAttribute(holder, name, lower), testOne);
  };
}

function testAny(value: unknown, test: (v: unknown) => boolean): boolean {
  if (Array.isArray(value)) {
    for (const v of value) if (test(v)) return true;
    return false;
  }
  return test(value);
}

function isPresent(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (Array.isArray(v)) return v.some(isPresent);
  if (typeof v === 'object') {
    for (const k in v) if (isPresent((v as Obj)[k])) return true;
    return false;
  }
  return true;
}

/** The test one value must pass, with the literal converted once for the attribute's type. */
function makeTest(
  op: Exclude<CompareOp, 'ne'>,
  literal: Exclude<Literal, null>,
  def: AttributeDefinition | undefined,
  fail: (m: string) => ScimError,
): (v: unknown) => boolean {
  const type = def?.type ?? 'string';
  switch (type) {
    case 'boolean': {
      if (op !== 'eq') throw fail(`${op} cannot compare booleans; use eq or ne`);
      const want = toBoolean(literal);
      if (want === undefined) throw fail(`${JSON.stringify(literal)} is not a boolean`);
      return (v) => toBoolean(v) === want;
    }
    case 'integer':
    case 'decimal': {
      if (op === 'co' || op === 'sw' || op === 'ew') throw fail(`${op} cannot compare numbers`);
      const want =
        typeof literal === 'number' ? literal : typeof literal === 'string' ? Number(literal) : Number.NaN;
      if (Number.isNaN(want) || literal === '') throw fail(`${JSON.stringify(literal)} is not a number`);
      const cmp = ordered(op);
      return (v) => {
        const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : Number.NaN;
        return !Number.isNaN(n) && cmp(n, want);
      };
    }
    case 'dateTime': {
      if (op === 'co' || op === 'sw' || op === 'ew') return stringTest(op, String(literal), true);
      const want = typeof literal === 'string' ? Date.parse(literal) : Number.NaN;
      if (Number.isNaN(want))
        throw fail(`${JSON.stringify(literal)} is not a dateTime (xsd:dateTime, as "2011-05-13T04:42:34Z")`);
      const cmp = ordered(op);
      return (v) => {
        if (typeof v !== 'string') return false;
        const t = Date.parse(v);
        return !Number.isNaN(t) && cmp(t, want);
      };
    }
    case 'binary':
      if (op !== 'eq' && op !== 'co' && op !== 'sw' && op !== 'ew')
        throw fail(`${op} cannot compare binary values`);
      return stringTest(op, String(literal), true);
    case 'complex':
      throw fail('a complex attribute has no value to compare');
    default:
      return stringTest(op, String(literal), def?.caseExact ?? false);
  }
}

function toBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return undefined;
}

function ordered(op: 'eq' | 'gt' | 'ge' | 'lt' | 'le'): (a: number, b: number) => boolean {
  switch (op) {
    case 'eq':
      return (a, b) => a === b;
    case 'gt':
      return (a, b) => a > b;
    case 'ge':
      return (a, b) => a >= b;
    case 'lt':
      return (a, b) => a < b;
    case 'le':
      return (a, b) => a <= b;
  }
}

function stringTest(
  op: Exclude<CompareOp, 'ne'>,
  literal: string,
  caseExact: boolean,
): (v: unknown) => boolean {
  const want = caseExact ? literal : literal.toLowerCase();
  const norm = (v: unknown): string | undefined => {
    const s =
      typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    return s === undefined || caseExact ? s : s.toLowerCase();
  };
  switch (op) {
    case 'eq':
      // the exact comparison first: most candidates differ, and equal strings skip the lower-casing
      return (v) => v === literal || (!caseExact && typeof v === 'string' && v.toLowerCase() === want);
    case 'co':
      return (v) => norm(v)?.includes(want) ?? false;
    case 'sw':
      return (v) => norm(v)?.startsWith(want) ?? false;
    case 'ew':
      return (v) => norm(v)?.endsWith(want) ?? false;
    case 'gt':
      return (v) => {
        const s = norm(v);
        return s !== undefined && s > want;
      };
    case 'ge':
      return (v) => {
        const s = norm(v);
        return s !== undefined && s >= want;
      };
    case 'lt':
      return (v) => {
        const s = norm(v);
        return s !== undefined && s < want;
      };
    case 'le':
      return (v) => {
        const s = norm(v);
        return s !== undefined && s <= want;
      };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Index hint

export interface IndexHint {
  /** the attribute name, as spelled in the list given to indexHint */
  attribute: string;
  value: string | number | boolean;
}

/** The most index look-ups one `or` filter may plan; a longer one is scanned (a look-up storm costs more). */
export const MAX_INDEX_PLAN = 200;

/**
 * When the filter is an `eq` on one of `attributes` (`userName`, `externalId`, `members.value`, or a full
 * URN-prefixed name), or an `and` containing one, gives that attribute and value: the server can look the
 * candidates up by index and evaluate the whole filter on those alone. Core-schema URN prefixes are ignored.
 * An attribute written `emails[type eq "work"].value` matches only a value filter that also requires that
 * type (`emails[type eq "work"].value eq "x"`), for an index that holds one element type.
 */
export function indexHint(filter: Filter, attributes: readonly string[]): IndexHint | undefined {
  return hintOf(filter, attributes.map(indexKey), undefined, undefined);
}

/**
 * The index look-ups whose union holds every resource the filter can match: one hint, or for an `or` (at any
 * depth, also inside a value filter) a hint for each branch. Undefined when a branch has no hint or the plan
 * would take more than `maxLookups` look-ups: then only a scan is complete. Repeated look-ups are given once.
 */
export function indexPlan(
  filter: Filter,
  attributes: readonly string[],
  maxLookups = MAX_INDEX_PLAN,
): IndexHint[] | undefined {
  const keys = attributes.map(indexKey);
  const plan = new Map<string, IndexHint>();
  const visit = (f: Filter, parent: AttrPath | undefined): boolean => {
    if (f.type === 'or') return f.filters.every((branch) => visit(branch, parent));
    if (f.type === 'valuePath' && !parent && f.filter.type === 'or') return visit(f.filter, f.path);
    const hint = hintOf(f, keys, parent, undefined);
    if (!hint) return false;
    plan.set(`${hint.attribute}\u0000${typeof hint.value}\u0000${String(hint.value)}`, hint);
    return plan.size <= maxLookups;
  };
  return visit(filter, undefined) ? [...plan.values()] : undefined;
}

interface IndexKey {
  /** as given by the caller */
  name: string;
  /** lower-cased `[urn:]attr[.sub]` */
  path: string;
  /** the element type a value filter must require, lower-cased */
  elementType: string | undefined;
}

const TYPED_KEY = /^([^[]+)\[\s*type\s+eq\s+"([^"]*)"\s*\]\.(.+)$/i;

function indexKey(name: string): IndexKey {
  const typed = TYPED_KEY.exec(name);
  return typed
    ? { name, path: `${typed[1]}.${typed[3]}`.toLowerCase(), elementType: typed[2]!.toLowerCase() }
    : { name, path: name.toLowerCase(), elementType: undefined };
}

/** `type eq "x"` among the conditions of a value filter's `and`: the element type it requires. */
function requiredType(filters: readonly Filter[]): string | undefined {
  for (const f of filters) {
    if (
      f.type === 'compare' &&
      f.op === 'eq' &&
      typeof f.value === 'string' &&
      f.path.schema === undefined &&
      f.path.subAttribute === undefined &&
      f.path.attribute.toLowerCase() === 'type'
    )
      return f.value.toLowerCase();
  }
  return undefined;
}

/**
 * `parent` is the attribute of an enclosing value filter: `emails[value eq "x"]` hints `emails.value`;
 * `elementType` the type that value filter requires.
 */
function hintOf(
  filter: Filter,
  keys: readonly IndexKey[],
  parent: AttrPath | undefined,
  elementType: string | undefined,
): IndexHint | undefined {
  if (filter.type === 'and') {
    const type = parent ? (requiredType(filter.filters) ?? elementType) : elementType;
    for (const f of filter.filters) {
      const hint = hintOf(f, keys, parent, type);
      if (hint) return hint;
    }
    return undefined;
  }
  if (filter.type === 'valuePath')
    return parent ? undefined : hintOf(filter.filter, keys, filter.path, undefined);
  if (filter.type !== 'compare' || filter.op !== 'eq' || filter.value === null) return undefined;
  let path = filter.path;
  if (parent) {
    if (path.schema !== undefined || path.subAttribute !== undefined) return undefined;
    path = {
      text: `${parent.text}.${path.attribute}`,
      attribute: parent.attribute,
      subAttribute: path.attribute,
    };
    if (parent.schema !== undefined) path.schema = parent.schema;
  }
  const local = (
    path.subAttribute === undefined ? path.attribute : `${path.attribute}.${path.subAttribute}`
  ).toLowerCase();
  const full = path.schema === undefined ? local : `${path.schema.toLowerCase()}:${local}`;
  const isCore =
    path.schema === undefined || /^urn:ietf:params:scim:schemas:core:2\.0:/i.test(`${path.schema}:`);
  for (const key of keys) {
    if (key.elementType !== undefined && key.elementType !== elementType) continue;
    if (key.path === full || (isCore && key.path === local))
      return { attribute: key.name, value: filter.value };
  }
  return undefined;
}
