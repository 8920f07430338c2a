/**
 * PATCH paths (RFC 7644 §3.5.2):
 *   PATH = attrPath / valuePath [ subAttr ]
 * so `userName`, `name.givenName`, `urn:...:enterprise:2.0:User:manager.value`, `members[value eq "2819c"]`
 * and `emails[type eq "work"].value`. Unlike a filter, a path may select a sub-attribute after "]".
 */
import { badRequest } from './errors.js';
import { type AttrPath, type Filter, FilterParser, MAX_FILTER_DEPTH } from './filter.js';

export interface AttributePath {
  /** the path as written */
  text: string;
  /** the schema URN prefix as written, if any */
  schema?: string;
  attribute: string;
  /** the value filter of `attr[filter]` */
  filter?: Filter;
  /** `attr.sub` or `attr[filter].sub` */
  subAttribute?: string;
}

export const MAX_PATH_LENGTH = 2_000;

export function parsePath(text: string): AttributePath {
  if (typeof text !== 'string') throw badRequest('invalidPath', 'the path must be a string');
  if (text.length > MAX_PATH_LENGTH) {
    throw badRequest(
      'invalidPath',
      `the path is ${text.length} characters long; at most ${MAX_PATH_LENGTH} are accepted`,
    );
  }
  const parser = new FilterParser(text, MAX_FILTER_DEPTH, 'invalidPath');
  // clients sometimes pad the path; white space carries no meaning here
  parser.skipSpace();
  if (parser.pos >= text.length) throw badRequest('invalidPath', 'the path is empty');
  const attr: AttrPath = parser.parseAttrPath();
  const path: AttributePath = { text: text.trim(), attribute: attr.attribute };
  if (attr.schema !== undefined) path.schema = attr.schema;
  if (attr.subAttribute !== undefined) path.subAttribute = attr.subAttribute;
  if (text.charCodeAt(parser.pos) === 91 /* [ */) {
    if (attr.subAttribute !== undefined) {
      throw parser.fail(
        parser.pos,
        `a value filter applies to an attribute, not to the sub-attribute ${attr.text}`,
      );
    }
    const open = parser.pos;
    parser.pos++;
    path.filter = parser.parseOr(true);
    parser.skipSpace();
    if (text.charCodeAt(parser.pos) !== 93 /* ] */) {
      throw parser.pos >= text.length
        ? parser.fail(parser.pos, `missing "]" for the "[" at offset ${open}`)
        : parser.fail(
            parser.pos,
            `unexpected ${JSON.stringify(text[parser.pos])}; expected "]", "and" or "or"`,
          );
    }
    parser.pos++;
    if (text.charCodeAt(parser.pos) === 46 /* . */) {
      parser.pos++;
      const start = parser.pos;
      while (parser.pos < text.length && /[A-Za-z0-9_$-]/.test(text[parser.pos]!)) parser.pos++;
      const sub = text.slice(start, parser.pos);
      if (!/^(?:[A-Za-z][A-Za-z0-9_-]*|\$ref)$/.test(sub)) {
        throw parser.fail(start, 'expected a sub-attribute name after "]."');
      }
      path.subAttribute = sub;
    }
  }
  parser.skipSpace();
  if (parser.pos < text.length) {
    throw parser.fail(
      parser.pos,
      `unexpected ${JSON.stringify(text[parser.pos])}; expected the end of the path`,
    );
  }
  return path;
}
