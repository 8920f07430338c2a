/**
 * Parser of the expression language: Microsoft Entra attribute-mapping expressions, plus the operators of
 * Connect sync's declarative provisioning (&, =, <>, &&, ||, + - * /) so that conditions can be written inline.
 *
 * Hand-written recursive descent over the source string: every node keeps its start offset so that the
 * compiler can point at the function or argument at fault.
 */
import { ExpressionSyntaxError } from '../errors.js';

export const MAX_SOURCE_LENGTH = 10_000;
/** Nesting beyond this is surely a mistake, and it keeps the parser's and the evaluator's recursion bounded. */
export const MAX_DEPTH = 64;

export type BinaryOperator = '||' | '&&' | '=' | '<>' | '<' | '<=' | '>' | '>=' | '&' | '+' | '-' | '*' | '/';

export type Node =
  | { kind: 'string'; value: string; start: number; end: number }
  | { kind: 'number'; value: number; start: number; end: number }
  | { kind: 'boolean'; value: boolean; start: number; end: number }
  | { kind: 'null'; start: number; end: number }
  | { kind: 'attribute'; name: string; start: number; end: number }
  /** a bare word that names a constant of an enumeration: vbTextCompare, UTF8, CaseInsensitive */
  | { kind: 'name'; name: string; start: number; end: number }
  /** an argument left empty: Replace([mail], "@contoso.com", , , "", , ) */
  | { kind: 'omitted'; start: number; end: number }
  | { kind: 'call'; name: string; args: Node[]; start: number; end: number }
  | { kind: 'binary'; op: BinaryOperator; left: Node; right: Node; start: number; end: number }
  | { kind: 'negate'; operand: Node; start: number; end: number };

/** Bare words with a meaning of their own; every other bare word must be an enumeration constant. */
const KEYWORDS: Record<string, (start: number, end: number) => Node> = {
  true: (start, end) => ({ kind: 'boolean', value: true, start, end }),
  false: (start, end) => ({ kind: 'boolean', value: false, start, end }),
  null: (start, end) => ({ kind: 'null', start, end }),
  nothing: (start, end) => ({ kind: 'null', start, end }),
  // Connect sync: "make the target null even if a lower-precedence connector has a value". Here every flow
  // result is authoritative, so it is an ordinary null.
  authoritativenull: (start, end) => ({ kind: 'null', start, end }),
};

/** Enumeration constants that functions accept as bare words (Microsoft's documented spellings). */
export const ENUM_CONSTANTS: ReadonlySet<string> = new Set(
  [
    'vbTextCompare',
    'vbBinaryCompare',
    'CaseSensitive',
    'CaseInsensitive',
    'Unicode',
    'UTF8',
    'ASCII',
    'UTF16',
  ].map((s) => s.toLowerCase()),
);

export function parseExpression(source: string): Node {
  if (source.length > MAX_SOURCE_LENGTH) {
    throw new ExpressionSyntaxError(
      'EXPRESSION_TOO_LONG',
      `expression is ${source.length} characters long; the limit is ${MAX_SOURCE_LENGTH}`,
      MAX_SOURCE_LENGTH,
      'a shorter expression',
    );
  }
  const parser = new Parser(source);
  const node = parser.parseTop();
  return node;
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly src: string) {}

  parseTop(): Node {
    this.skipSpace();
    if (this.pos >= this.src.length)
      this.fail('the expression is empty', 'a function, an [attribute] or a value');
    const node = this.parseOr();
    this.skipSpace();
    if (this.pos < this.src.length) {
      const ch = this.src[this.pos];
      if (ch === '"' && (node.kind === 'string' || node.kind === 'omitted')) {
        this.fail('two strings in a row; to put a quote inside a string write \\"', 'an operator or the end');
      }
      this.fail(`unexpected ${describeChar(ch)}`, 'an operator or the end of the expression');
    }
    return node;
  }

  // ---- binary operators, lowest precedence first ---------------------------------------------------------

  private parseOr(): Node {
    let left = this.parseAnd();
    while (this.takeOperator('||')) left = this.binary('||', left, this.parseAnd());
    return left;
  }

  private parseAnd(): Node {
    let left = this.parseComparison();
    while (this.takeOperator('&&')) left = this.binary('&&', left, this.parseComparison());
    return left;
  }

  private parseComparison(): Node {
    const left = this.parseConcat();
    const op = this.takeComparison();
    if (!op) return left;
    const node = this.binary(op, left, this.parseConcat());
    this.skipSpace();
    if (this.peekComparison()) {
      this.fail(
        'comparisons cannot be chained; compare two values at a time',
        'an operand other than a comparison',
      );
    }
    return node;
  }

  private parseConcat(): Node {
    let left = this.parseAdditive();
    for (;;) {
      this.skipSpace();
      // "&&" is the logical AND; a lone "&" joins two strings.
      if (this.src[this.pos] === '&' && this.src[this.pos + 1] !== '&') {
        this.pos++;
        left = this.binary('&', left, this.parseAdditive());
      } else {
        return left;
      }
    }
  }

  private parseAdditive(): Node {
    let left = this.parseMultiplicative();
    for (;;) {
      this.skipSpace();
      const ch = this.src[this.pos];
      if (ch !== '+' && ch !== '-') return left;
      this.pos++;
      left = this.binary(ch, left, this.parseMultiplicative());
    }
  }

  private parseMultiplicative(): Node {
    let left = this.parseUnary();
    for (;;) {
      this.skipSpace();
      const ch = this.src[this.pos];
      if (ch !== '*' && ch !== '/') return left;
      this.pos++;
      left = this.binary(ch, left, this.parseUnary());
    }
  }

  private parseUnary(): Node {
    this.skipSpace();
    if (this.src[this.pos] === '-') {
      const start = this.pos++;
      const operand = this.nested(() => this.parseUnary());
      if (operand.kind === 'number')
        return { kind: 'number', value: -operand.value, start, end: operand.end };
      return { kind: 'negate', operand, start, end: operand.end };
    }
    return this.parsePrimary();
  }

  // ---- operands ------------------------------------------------------------------------------------------

  private parsePrimary(): Node {
    this.skipSpace();
    const start = this.pos;
    const ch = this.src[this.pos];
    if (ch === undefined) this.fail('the expression ends too early', 'a function, an [attribute] or a value');
    if (ch === '"') return this.parseString();
    if (ch === '[') return this.parseAttribute();
    if (ch === '(') {
      this.pos++;
      const inner = this.nested(() => this.parseOr());
      this.expect(')', 'a closing parenthesis');
      return inner;
    }
    if (ch === '&' && (this.src[this.pos + 1] === 'H' || this.src[this.pos + 1] === 'h'))
      return this.parseHex();
    if (isDigit(ch) || (ch === '.' && isDigit(this.src[this.pos + 1]))) return this.parseNumber();
    if (isIdentStart(ch)) return this.parseWord();
    this.pos = start;
    this.fail(`unexpected ${describeChar(ch)}`, 'a function, an [attribute] or a value');
  }

  private parseString(): Node {
    const start = this.pos;
    this.pos++; // opening quote
    let value = '';
    let chunkStart = this.pos;
    for (;;) {
      const ch = this.src[this.pos];
      if (ch === undefined) {
        this.pos = start;
        this.fail('the string is not closed', 'a closing double quote');
      }
      if (ch === '"') {
        value += this.src.slice(chunkStart, this.pos);
        this.pos++;
        return { kind: 'string', value, start, end: this.pos };
      }
      if (ch === '\\') {
        const next = this.src[this.pos + 1];
        // Microsoft documents \" and \\ as the escapes; any other backslash stays as written, which is what a
        // regular expression such as "\d{10}" needs.
        if (next === '"' || next === '\\') {
          value += this.src.slice(chunkStart, this.pos) + next;
          this.pos += 2;
          chunkStart = this.pos;
          continue;
        }
      }
      this.pos++;
    }
  }

  private parseAttribute(): Node {
    const start = this.pos;
    this.pos++;
    const close = this.src.indexOf(']', this.pos);
    const open = this.src.indexOf('[', this.pos);
    if (close < 0 || (open >= 0 && open < close)) {
      this.pos = start;
      this.fail('the attribute name is not closed', 'a closing bracket ]');
    }
    const raw = this.src.slice(this.pos, close);
    const name = raw.trim();
    if (name.length === 0) {
      this.pos = start;
      this.fail('the attribute name is empty', 'an attribute name');
    }
    for (let i = 0; i < raw.length; i++) {
      const code = raw.charCodeAt(i);
      if (code < 0x20 || raw[i] === '"') {
        this.pos += i;
        this.fail(`an attribute name cannot contain ${describeChar(raw[i])}`, 'a closing bracket ]');
      }
    }
    this.pos = close + 1;
    return { kind: 'attribute', name, start, end: this.pos };
  }

  private parseHex(): Node {
    const start = this.pos;
    this.pos += 2;
    const digitsStart = this.pos;
    while (isHexDigit(this.src[this.pos])) this.pos++;
    if (this.pos === digitsStart)
      this.fail('a hexadecimal number needs digits after &H', 'hexadecimal digits');
    if (this.pos - digitsStart > 13) {
      this.pos = digitsStart;
      this.fail('the hexadecimal number is too large', 'at most 13 hexadecimal digits');
    }
    const value = Number.parseInt(this.src.slice(digitsStart, this.pos), 16);
    this.expectBoundary();
    return { kind: 'number', value, start, end: this.pos };
  }

  private parseNumber(): Node {
    const start = this.pos;
    while (isDigit(this.src[this.pos])) this.pos++;
    if (this.src[this.pos] === '.' && isDigit(this.src[this.pos + 1])) {
      this.pos++;
      while (isDigit(this.src[this.pos])) this.pos++;
    }
    const value = Number(this.src.slice(start, this.pos));
    if (!Number.isFinite(value)) {
      this.pos = start;
      this.fail('the number is too large', 'a smaller number');
    }
    this.expectBoundary();
    return { kind: 'number', value, start, end: this.pos };
  }

  private parseWord(): Node {
    const start = this.pos;
    while (isIdentPart(this.src[this.pos])) this.pos++;
    const word = this.src.slice(start, this.pos);
    const end = this.pos;
    this.skipSpace();
    if (this.src[this.pos] === '(') {
      this.pos++;
      const args = this.nested(() => this.parseArguments());
      return { kind: 'call', name: word, args, start, end: this.pos };
    }
    this.pos = end;
    const lower = word.toLowerCase();
    const keyword = KEYWORDS[lower];
    if (keyword) return keyword(start, end);
    if (ENUM_CONSTANTS.has(lower)) return { kind: 'name', name: word, start, end };
    this.pos = start;
    throw new ExpressionSyntaxError(
      'EXPRESSION_UNKNOWN_NAME',
      `unknown name "${truncate(word)}": attribute names go in brackets ([${truncate(word)}]), strings in double quotes, functions take parentheses`,
      start,
      'a function call, an [attribute], a "string", a number, True or False',
    );
  }

  /** After "(": arguments up to the closing ")". An empty slot between commas is an omitted argument. */
  private parseArguments(): Node[] {
    const args: Node[] = [];
    this.skipSpace();
    if (this.src[this.pos] === ')') {
      this.pos++;
      return args;
    }
    for (;;) {
      this.skipSpace();
      const ch = this.src[this.pos];
      if (ch === ',' || ch === ')') {
        args.push({ kind: 'omitted', start: this.pos, end: this.pos });
      } else {
        args.push(this.parseOr());
        this.skipSpace();
      }
      const next = this.src[this.pos];
      if (next === ',') {
        this.pos++;
        continue;
      }
      if (next === ')') {
        this.pos++;
        return args;
      }
      if (next === undefined)
        this.fail('the argument list is not closed', 'a comma or a closing parenthesis');
      if (next === '"') {
        this.fail(
          'two values in a row; separate arguments with commas, put a quote in a string as \\"',
          'a comma or a closing parenthesis',
        );
      }
      this.fail(`unexpected ${describeChar(next)}`, 'a comma or a closing parenthesis');
    }
  }

  // ---- helpers -------------------------------------------------------------------------------------------

  private binary(op: BinaryOperator, left: Node, right: Node): Node {
    return { kind: 'binary', op, left, right, start: left.start, end: right.end };
  }

  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_DEPTH)
      this.fail(`the expression is nested more than ${MAX_DEPTH} levels deep`, 'less nesting');
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private takeOperator(op: '||' | '&&'): boolean {
    this.skipSpace();
    if (this.src.startsWith(op, this.pos)) {
      this.pos += op.length;
      return true;
    }
    return false;
  }

  private peekComparison(): BinaryOperator | undefined {
    const s = this.src;
    const p = this.pos;
    const two = s.slice(p, p + 2);
    if (two === '<>' || two === '!=' || two === '<=' || two === '>=' || two === '==')
      return two === '!=' ? '<>' : two === '==' ? '=' : two;
    const one = s[p];
    if (one === '=' || one === '<' || one === '>') return one;
    return undefined;
  }

  private takeComparison(): BinaryOperator | undefined {
    this.skipSpace();
    const op = this.peekComparison();
    if (!op) return undefined;
    const two = this.src.slice(this.pos, this.pos + 2);
    this.pos += two === '<>' || two === '!=' || two === '<=' || two === '>=' || two === '==' ? 2 : 1;
    return op;
  }

  private expect(ch: string, what: string): void {
    this.skipSpace();
    if (this.src[this.pos] !== ch) {
      const got = this.src[this.pos];
      this.fail(
        got === undefined ? 'the expression ends too early' : `unexpected ${describeChar(got)}`,
        what,
      );
    }
    this.pos++;
  }

  /** A number must not run into a word: "12abc" is a typo, not 12 followed by something. */
  private expectBoundary(): void {
    const ch = this.src[this.pos];
    if (ch !== undefined && (isIdentPart(ch) || ch === '.'))
      this.fail(
        `unexpected ${describeChar(ch)} after a number`,
        'an operator, a comma or a closing parenthesis',
      );
  }

  private skipSpace(): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0xa0) this.pos++;
      else break;
    }
  }

  private fail(message: string, expected: string): never {
    throw new ExpressionSyntaxError(
      'EXPRESSION_SYNTAX',
      message,
      Math.min(this.pos, this.src.length),
      expected,
    );
  }
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

function isHexDigit(ch: string | undefined): boolean {
  return (
    ch !== undefined && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))
  );
}

function isIdentStart(ch: string | undefined): boolean {
  return ch !== undefined && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch === '_');
}

function isIdentPart(ch: string | undefined): boolean {
  return isIdentStart(ch) || isDigit(ch);
}

function describeChar(ch: string | undefined): string {
  if (ch === undefined) return 'end of the expression';
  const code = ch.charCodeAt(0);
  if (code < 0x20 || code === 0x7f)
    return `control character U+${code.toString(16).padStart(4, '0').toUpperCase()}`;
  return `"${ch}"`;
}

export function truncate(text: string, max = 40): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
