/**
 * Attribute typing from the server's subschema (RFC 4512 attributeTypes / objectClasses), with well-known
 * fallbacks for servers whose schema cannot be read.
 */
import type { AttributeSchema, AttributeType } from '../contract.js';

interface AttributeTypeDescription {
  oid: string;
  names: string[];
  sup?: string;
  syntax?: string;
  singleValue: boolean;
  noUserModification: boolean;
  operational: boolean;
}

interface ObjectClassDescription {
  names: string[];
  sup: string[];
  must: string[];
  may: string[];
}

const SYNTAX = {
  dn: '1.3.6.1.4.1.1466.115.121.1.12',
  boolean: '1.3.6.1.4.1.1466.115.121.1.7',
  integer: '1.3.6.1.4.1.1466.115.121.1.27',
  generalizedTime: '1.3.6.1.4.1.1466.115.121.1.24',
  utcTime: '1.3.6.1.4.1.1466.115.121.1.53',
};

const BINARY_SYNTAXES = new Set([
  '1.3.6.1.4.1.1466.115.121.1.4', // audio
  '1.3.6.1.4.1.1466.115.121.1.5', // binary
  '1.3.6.1.4.1.1466.115.121.1.8', // certificate
  '1.3.6.1.4.1.1466.115.121.1.9', // certificate list
  '1.3.6.1.4.1.1466.115.121.1.10', // certificate pair
  '1.3.6.1.4.1.1466.115.121.1.23', // fax
  '1.3.6.1.4.1.1466.115.121.1.28', // JPEG
  '1.3.6.1.4.1.1466.115.121.1.40', // octet string
  '1.3.6.1.4.1.1466.115.121.1.49', // supported algorithm
  '1.2.840.113556.1.4.907', // AD security descriptor
]);

/** attributes typed this way whatever the schema says (or when it cannot be read) */
const WELL_KNOWN: Record<string, AttributeSchema> = {
  objectguid: { type: 'binary', multiValued: false, readOnly: true },
  objectsid: { type: 'binary', multiValued: false, readOnly: true },
  'ms-ds-consistencyguid': { type: 'binary', multiValued: false },
  jpegphoto: { type: 'binary', multiValued: true },
  thumbnailphoto: { type: 'binary', multiValued: false },
  usercertificate: { type: 'binary', multiValued: true },
  'usercertificate;binary': { type: 'binary', multiValued: true },
  cacertificate: { type: 'binary', multiValued: true },
  usersmimecertificate: { type: 'binary', multiValued: true },
  usersid: { type: 'binary', multiValued: false },
  sidhistory: { type: 'binary', multiValued: true, readOnly: true },
  ntsecuritydescriptor: { type: 'binary', multiValued: false },
  // written as text (the server hashes or encodes it), never read back, never shown
  userpassword: { type: 'string', multiValued: false, secret: true },
  unicodepwd: { type: 'string', multiValued: false, secret: true },
  entryuuid: { type: 'string', multiValued: false, readOnly: true },
  member: { type: 'reference', multiValued: true },
  uniquemember: { type: 'string', multiValued: true },
  memberof: { type: 'reference', multiValued: true, readOnly: true },
  manager: { type: 'reference', multiValued: false },
  managedby: { type: 'reference', multiValued: false },
  owner: { type: 'reference', multiValued: true },
  seealso: { type: 'reference', multiValued: true },
  secretary: { type: 'reference', multiValued: true },
  directreports: { type: 'reference', multiValued: true, readOnly: true },
  objectclass: { type: 'string', multiValued: true },
  useraccountcontrol: { type: 'number', multiValued: false },
  grouptype: { type: 'number', multiValued: false },
  usnchanged: { type: 'number', multiValued: false, readOnly: true },
  createtimestamp: { type: 'date', multiValued: false, readOnly: true },
  modifytimestamp: { type: 'date', multiValued: false, readOnly: true },
  whencreated: { type: 'date', multiValued: false, readOnly: true },
  whenchanged: { type: 'date', multiValued: false, readOnly: true },
};

/** Splits an RFC 4512 description into its tokens, keeping quoted strings whole. */
function tokens(description: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|([()$])|([^\s()$']+)/g;
  for (let m = re.exec(description); m; m = re.exec(description)) {
    out.push(m[1] !== undefined ? `'${m[1]}` : (m[2] ?? m[3]!));
  }
  return out;
}

/** reads the value of a keyword: one token or a parenthesised list ("( a $ b )" or "( 'a' 'b' )") */
function readList(toks: string[], i: number): { values: string[]; next: number } {
  const unquote = (t: string) => (t.startsWith("'") ? t.slice(1) : t);
  if (toks[i] !== '(') return { values: toks[i] !== undefined ? [unquote(toks[i]!)] : [], next: i + 1 };
  const values: string[] = [];
  let j = i + 1;
  while (j < toks.length && toks[j] !== ')') {
    if (toks[j] !== '$') values.push(unquote(toks[j]!));
    j++;
  }
  return { values, next: j + 1 };
}

function parseDescription(description: string): { oid: string; fields: Map<string, string[]> } {
  const toks = tokens(description);
  const fields = new Map<string, string[]>();
  const oid = toks[1] ?? '';
  let i = 2;
  while (i < toks.length) {
    const keyword = toks[i]!;
    if (keyword === ')') break;
    if (
      [
        'SINGLE-VALUE',
        'NO-USER-MODIFICATION',
        'COLLECTIVE',
        'OBSOLETE',
        'ABSTRACT',
        'STRUCTURAL',
        'AUXILIARY',
      ].includes(keyword)
    ) {
      fields.set(keyword, []);
      i++;
      continue;
    }
    const { values, next } = readList(toks, i + 1);
    fields.set(keyword, values);
    i = next;
  }
  return { oid, fields };
}

export class DirectorySchema {
  private readonly byName = new Map<string, AttributeTypeDescription>();
  private readonly classes = new Map<string, ObjectClassDescription>();
  private readonly cache = new Map<string, AttributeSchema>();

  constructor(
    attributeTypes: string[] = [],
    objectClasses: string[] = [],
    private readonly overrides: { binary: string[]; reference: string[] } = { binary: [], reference: [] },
  ) {
    for (const text of attributeTypes) {
      const { oid, fields } = parseDescription(text);
      const description: AttributeTypeDescription = {
        oid,
        names: fields.get('NAME') ?? [],
        sup: fields.get('SUP')?.[0],
        // a syntax may carry a length bound: 1.3.6.1.4.1.1466.115.121.1.15{256}
        syntax: fields.get('SYNTAX')?.[0]?.replace(/\{.*$/, '').replace(/^'|'$/g, ''),
        singleValue: fields.has('SINGLE-VALUE'),
        noUserModification: fields.has('NO-USER-MODIFICATION'),
        operational: (fields.get('USAGE')?.[0] ?? 'userApplications') !== 'userApplications',
      };
      for (const name of description.names) this.byName.set(name.toLowerCase(), description);
      this.byName.set(oid, description);
    }
    for (const text of objectClasses) {
      const { fields } = parseDescription(text);
      const description: ObjectClassDescription = {
        names: fields.get('NAME') ?? [],
        sup: fields.get('SUP') ?? [],
        must: fields.get('MUST') ?? [],
        may: fields.get('MAY') ?? [],
      };
      for (const name of description.names) this.classes.set(name.toLowerCase(), description);
    }
  }

  get loaded(): boolean {
    return this.byName.size > 0;
  }

  /** the schema's own spelling of an attribute name (its first NAME), or undefined when unknown */
  spelling(name: string): string | undefined {
    return this.byName.get(name.toLowerCase())?.names[0];
  }

  private syntaxOf(description: AttributeTypeDescription): string | undefined {
    let current: AttributeTypeDescription | undefined = description;
    for (let depth = 0; current && depth < 10; depth++) {
      if (current.syntax) return current.syntax;
      current = current.sup ? this.byName.get(current.sup.toLowerCase()) : undefined;
    }
    return undefined;
  }

  /** How an attribute (name without options) is typed. */
  attribute(name: string): AttributeSchema {
    const key = name.toLowerCase();
    const cached = this.cache.get(key);
    if (cached) return cached;
    const result = this.compute(key);
    this.cache.set(key, result);
    return result;
  }

  private compute(key: string): AttributeSchema {
    if (this.overrides.binary.some((n) => n.toLowerCase() === key))
      return { type: 'binary', multiValued: true };
    if (this.overrides.reference.some((n) => n.toLowerCase() === key))
      return { type: 'reference', multiValued: true };
    const known = WELL_KNOWN[key];
    const description = this.byName.get(key);
    if (!description) return known ?? { type: 'string', multiValued: true };
    const syntax = this.syntaxOf(description);
    let type: AttributeType = 'string';
    if (syntax === SYNTAX.dn) type = 'reference';
    else if (syntax && BINARY_SYNTAXES.has(syntax)) type = 'binary';
    else if (syntax === SYNTAX.boolean) type = 'boolean';
    else if (syntax === SYNTAX.integer) type = 'number';
    else if (syntax === SYNTAX.generalizedTime || syntax === SYNTAX.utcTime) type = 'date';
    const schema: AttributeSchema = {
      type: known?.type ?? type,
      multiValued: !description.singleValue,
    };
    if (known?.secret) schema.secret = true;
    if (description.noUserModification || description.operational || known?.readOnly) schema.readOnly = true;
    return schema;
  }

  /** every attribute an entry of these object classes may have (MUST and MAY, through SUP) */
  attributesOf(objectClasses: string[]): string[] {
    const seen = new Set<string>();
    const names = new Map<string, string>();
    const visit = (name: string) => {
      const key = name.toLowerCase();
      if (seen.has(key)) return;
      seen.add(key);
      const oc = this.classes.get(key);
      if (!oc) return;
      for (const a of [...oc.must, ...oc.may]) {
        const spelled = this.spelling(a) ?? a;
        names.set(spelled.toLowerCase(), spelled);
      }
      for (const sup of oc.sup) visit(sup);
    };
    for (const oc of objectClasses) visit(oc);
    return [...names.values()];
  }
}
