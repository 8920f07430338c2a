/**
 * Regular expressions from configuration, made safe to run on attribute values.
 *
 * JavaScript's engine backtracks, so a pattern such as ^(a+)+$ takes exponential time on "aaaa…b". Until a
 * linear-time engine is available (see docs/expressions.md), patterns are parsed here and the constructs that
 * make backtracking blow up are refused when the configuration loads:
 *  - a repeated group whose body can match strings of different lengths: (a+)+, (a|ab)*, (a?){20};
 *  - a repeated group with alternatives that can start with the same character: (a|a)*, (\d|1)+;
 *  - unbounded repeats that can take the same characters, one after the other (.*a.*b): two are allowed
 *    in a pattern anchored with ^, one otherwise;
 *  - backreferences and lookaround, which no linear-time engine supports either, so that patterns accepted
 *    today keep working when the engine changes.
 * What is left runs in at most quadratic time in the input length, and inputs are capped at MAX_REGEX_INPUT.
 *
 * The syntax accepted is the common subset of .NET's (which Microsoft's documentation uses) and JavaScript's:
 * named groups (?<name>…), classes, \d \w \s \b, {n,m}, lazy quantifiers, and a leading (?i) for case-insensitive.
 */

export const MAX_REGEX_INPUT = 1_000;
export const MAX_PATTERN_LENGTH = 1_000;
/** Counted repeats above this are treated like unbounded ones. */
const LARGE_COUNT = 16;

export class RegexProblem extends Error {
  constructor(
    readonly kind: 'syntax' | 'unsafe',
    message: string,
    /** 0-based index in the pattern */
    readonly index: number,
  ) {
    super(message);
  }
}

export interface SafeRegex {
  readonly source: string;
  readonly regex: RegExp;
  readonly groupNames: readonly string[];
}

/** Parse, check and compile a pattern; throws RegexProblem. `global` for replace-all, `indices` for group positions. */
export function compileSafeRegex(
  pattern: string,
  options: { global?: boolean; indices?: boolean } = {},
): SafeRegex {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new RegexProblem(
      'syntax',
      `the pattern is longer than ${MAX_PATTERN_LENGTH} characters`,
      MAX_PATTERN_LENGTH,
    );
  }
  let body = pattern;
  let flags = (options.global ? 'g' : '') + (options.indices ? 'd' : '');
  let offset = 0;
  // .NET writes options inline; JavaScript (Node 20) only as flags. A leading (?i) is the common case.
  const inline = /^\(\?([imsx]+)\)/.exec(pattern);
  if (inline) {
    for (const f of inline[1]!) {
      if (f === 'x') throw new RegexProblem('syntax', 'the (?x) option is not supported', 2);
      if (!flags.includes(f)) flags += f;
    }
    body = pattern.slice(inline[0].length);
    offset = inline[0].length;
  }
  const parsed = new PatternParser(body, offset).parse();
  checkSafety(parsed.root);
  let regex: RegExp;
  try {
    regex = new RegExp(body, `${flags}u`);
  } catch {
    // Unicode mode refuses some escapes .NET allows (\-, \_ outside classes); the classic mode takes them.
    try {
      regex = new RegExp(body, flags);
    } catch (err) {
      throw new RegexProblem(
        'syntax',
        (err as Error).message.replace(/^Invalid regular expression: /, ''),
        offset,
      );
    }
  }
  return { source: pattern, regex, groupNames: parsed.groupNames };
}

// ---- a small parser: enough structure to judge backtracking, not a matcher ------------------------------

/** The characters a piece can match: ASCII as a bitmap, everything above as one bit (conservative). */
class CharSet {
  constructor(
    readonly low: bigint = 0n,
    readonly high = false,
  ) {}
  static all(): CharSet {
    return new CharSet((1n << 128n) - 1n, true);
  }
  static of(code: number): CharSet {
    return code < 128 ? new CharSet(1n << BigInt(code)) : new CharSet(0n, true);
  }
  static range(from: number, to: number): CharSet {
    let low = 0n;
    for (let c = from; c <= Math.min(to, 127); c++) low |= 1n << BigInt(c);
    return new CharSet(low, to >= 128);
  }
  union(other: CharSet): CharSet {
    return new CharSet(this.low | other.low, this.high || other.high);
  }
  negate(): CharSet {
    // The complement of a set of non-ASCII characters still contains non-ASCII characters.
    return new CharSet(((1n << 128n) - 1n) & ~this.low, true);
  }
  overlaps(other: CharSet): boolean {
    return (this.low & other.low) !== 0n || (this.high && other.high);
  }
  isEmpty(): boolean {
    return this.low === 0n && !this.high;
  }
}

const DIGITS = CharSet.range(48, 57);
const WORD = DIGITS.union(CharSet.range(65, 90)).union(CharSet.range(97, 122)).union(CharSet.of(95));
const SPACE = CharSet.range(9, 13).union(CharSet.of(32)).union(new CharSet(0n, true));
const EMPTY = new CharSet();

type RNode =
  | { t: 'atom'; set: CharSet }
  /** ^ $ \b \B; `start` for ^ */
  | { t: 'assert'; start?: boolean }
  | { t: 'seq'; items: RNode[] }
  | { t: 'alt'; alts: RNode[]; index: number }
  | { t: 'repeat'; body: RNode; min: number; max: number; index: number };

class PatternParser {
  private pos = 0;
  readonly groupNames: string[] = [];

  constructor(
    private readonly src: string,
    private readonly offset: number,
  ) {}

  parse(): { root: RNode; groupNames: string[] } {
    const root = this.parseAlt();
    if (this.pos < this.src.length) this.fail(`unmatched ")"`);
    return { root, groupNames: this.groupNames };
  }

  private parseAlt(): RNode {
    const index = this.pos;
    const alts = [this.parseSeq()];
    while (this.src[this.pos] === '|') {
      this.pos++;
      alts.push(this.parseSeq());
    }
    return alts.length === 1 ? alts[0]! : { t: 'alt', alts, index: index + this.offset };
  }

  private parseSeq(): RNode {
    const items: RNode[] = [];
    while (this.pos < this.src.length && this.src[this.pos] !== '|' && this.src[this.pos] !== ')') {
      const start = this.pos;
      let node = this.parseAtom();
      node = this.parseQuantifier(node, start);
      items.push(node);
    }
    return { t: 'seq', items };
  }

  private parseQuantifier(node: RNode, start: number): RNode {
    for (;;) {
      const ch = this.src[this.pos];
      let min: number;
      let max: number;
      if (ch === '*') [min, max] = [0, Number.POSITIVE_INFINITY];
      else if (ch === '+') [min, max] = [1, Number.POSITIVE_INFINITY];
      else if (ch === '?') [min, max] = [0, 1];
      else if (ch === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
        if (!m) return node; // a literal "{", as both engines read it
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
        if (max < min) this.fail('numbers out of order in {n,m}');
        if (min > 1000 || (max !== Number.POSITIVE_INFINITY && max > 1000))
          this.fail('repeat counts above 1000 are not supported');
        this.pos += m[0].length - 1;
      } else return node;
      if (node.t === 'assert') this.fail('a quantifier needs something to repeat');
      this.pos++;
      if (this.src[this.pos] === '?')
        this.pos++; // lazy: the same language
      else if (this.src[this.pos] === '+') this.fail('possessive quantifiers are not supported');
      node = { t: 'repeat', body: node, min, max, index: start + this.offset };
      if (this.src[this.pos] === '*' || this.src[this.pos] === '+' || this.src[this.pos] === '?') {
        this.fail('a quantifier cannot follow another quantifier');
      }
    }
  }

  private parseAtom(): RNode {
    const ch = this.src[this.pos]!;
    switch (ch) {
      case '(':
        return this.parseGroup();
      case '[':
        return { t: 'atom', set: this.parseClass() };
      case '.':
        this.pos++;
        return { t: 'atom', set: CharSet.all() };
      case '^':
        this.pos++;
        return { t: 'assert', start: true };
      case '$':
        this.pos++;
        return { t: 'assert' };
      case '\\':
        return this.parseEscape();
      case '*':
      case '+':
      case '?':
        this.fail('a quantifier needs something to repeat');
        break;
      case '{':
        if (/^\{\d+(,\d*)?\}/.test(this.src.slice(this.pos)))
          this.fail('a quantifier needs something to repeat');
        break;
    }
    this.pos++;
    return { t: 'atom', set: CharSet.of(ch.charCodeAt(0)) };
  }

  private parseGroup(): RNode {
    const start = this.pos;
    this.pos++;
    if (this.src[this.pos] === '?') {
      const rest = this.src.slice(this.pos + 1);
      if (rest.startsWith(':')) this.pos += 2;
      else if (
        rest.startsWith('=') ||
        rest.startsWith('!') ||
        rest.startsWith('<=') ||
        rest.startsWith('<!')
      ) {
        this.fail('lookahead and lookbehind are not supported', start);
      } else {
        const named = /^[<']([A-Za-z_][A-Za-z0-9_]*)[>']/.exec(rest);
        if (!named) this.fail('unsupported group construct; use (…), (?:…) or (?<name>…)', start);
        if (named[0][0] === "'") this.fail(`write the group as (?<${named[1]}>…)`, start);
        if (this.groupNames.includes(named[1]!))
          this.fail(`the group name "${named[1]}" is used twice`, start);
        this.groupNames.push(named[1]!);
        this.pos += 1 + named[0].length;
      }
    }
    const body = this.parseAlt();
    if (this.src[this.pos] !== ')') this.fail('the group is not closed', start);
    this.pos++;
    return body;
  }

  private parseEscape(): RNode {
    const start = this.pos;
    const ch = this.src[this.pos + 1];
    if (ch === undefined) this.fail('the pattern ends with a lone backslash');
    this.pos += 2;
    switch (ch) {
      case 'd':
        return { t: 'atom', set: DIGITS };
      case 'D':
        return { t: 'atom', set: DIGITS.negate() };
      case 'w':
        return { t: 'atom', set: WORD };
      case 'W':
        return { t: 'atom', set: WORD.negate() };
      case 's':
        return { t: 'atom', set: SPACE };
      case 'S':
        return { t: 'atom', set: CharSet.all() };
      case 'b':
      case 'B':
        return { t: 'assert' };
      case 'k':
        this.fail('backreferences are not supported', start);
        break;
      case 'p':
      case 'P':
        this.skipBraced(start);
        return { t: 'atom', set: CharSet.all() };
      case 'x':
        return { t: 'atom', set: CharSet.of(this.hex(2, start)) };
      case 'u':
        return {
          t: 'atom',
          set: CharSet.of(this.src[this.pos] === '{' ? this.braceHex(start) : this.hex(4, start)),
        };
      case 'c':
        this.pos++;
        return { t: 'atom', set: CharSet.range(0, 31) };
      case 't':
        return { t: 'atom', set: CharSet.of(9) };
      case 'n':
        return { t: 'atom', set: CharSet.of(10) };
      case 'r':
        return { t: 'atom', set: CharSet.of(13) };
      case 'f':
        return { t: 'atom', set: CharSet.of(12) };
      case 'v':
        return { t: 'atom', set: CharSet.of(11) };
      case '0':
        return { t: 'atom', set: CharSet.of(0) };
    }
    if (ch >= '1' && ch <= '9') this.fail('backreferences are not supported', start);
    if (/[A-Za-z]/.test(ch)) this.fail(`unknown escape \\${ch}`, start);
    return { t: 'atom', set: CharSet.of(ch.charCodeAt(0)) };
  }

  /** [...] as a character set. */
  private parseClass(): CharSet {
    const start = this.pos;
    this.pos++;
    let negated = false;
    if (this.src[this.pos] === '^') {
      negated = true;
      this.pos++;
    }
    let set = EMPTY;
    let first = true;
    for (;;) {
      const ch = this.src[this.pos];
      if (ch === undefined) this.fail('the character class is not closed', start);
      if (ch === ']' && !first) break;
      if (ch === ']' && first)
        this.fail('an empty character class matches nothing; write \\] for a bracket', this.pos);
      first = false;
      const [from, fromSet] = this.classChar();
      if (
        this.src[this.pos] === '-' &&
        this.src[this.pos + 1] !== ']' &&
        this.src[this.pos + 1] !== undefined &&
        from >= 0
      ) {
        this.pos++;
        const [to] = this.classChar();
        if (to < 0) this.fail('a range cannot end with a class escape', this.pos);
        if (to < from) this.fail('range out of order in character class', this.pos);
        set = set.union(CharSet.range(from, to));
      } else {
        set = set.union(fromSet);
      }
    }
    this.pos++;
    return negated ? set.negate() : set;
  }

  /** One member of a class: [code point or -1 for a class escape, its set]. */
  private classChar(): [number, CharSet] {
    const start = this.pos;
    const ch = this.src[this.pos]!;
    if (ch !== '\\') {
      const code = this.src.codePointAt(this.pos)!;
      this.pos += code > 0xffff ? 2 : 1;
      return [code, CharSet.of(code)];
    }
    const e = this.src[this.pos + 1];
    if (e === undefined) this.fail('the pattern ends with a lone backslash');
    this.pos += 2;
    switch (e) {
      case 'd':
        return [-1, DIGITS];
      case 'D':
        return [-1, DIGITS.negate()];
      case 'w':
        return [-1, WORD];
      case 'W':
        return [-1, WORD.negate()];
      case 's':
        return [-1, SPACE];
      case 'S':
        return [-1, CharSet.all()];
      case 'p':
      case 'P':
        this.skipBraced(start);
        return [-1, CharSet.all()];
      case 'x': {
        const c = this.hex(2, start);
        return [c, CharSet.of(c)];
      }
      case 'u': {
        const c = this.src[this.pos] === '{' ? this.braceHex(start) : this.hex(4, start);
        return [c, CharSet.of(c)];
      }
      case 't':
        return [9, CharSet.of(9)];
      case 'n':
        return [10, CharSet.of(10)];
      case 'r':
        return [13, CharSet.of(13)];
      case 'f':
        return [12, CharSet.of(12)];
      case 'v':
        return [11, CharSet.of(11)];
      case 'b':
        return [8, CharSet.of(8)];
      case '0':
        return [0, CharSet.of(0)];
    }
    if (/[A-Za-z0-9]/.test(e)) this.fail(`unknown escape \\${e} in a character class`, start);
    const code = e.charCodeAt(0);
    return [code, CharSet.of(code)];
  }

  private hex(digits: number, start: number): number {
    const text = this.src.slice(this.pos, this.pos + digits);
    if (!new RegExp(`^[0-9A-Fa-f]{${digits}}$`).test(text)) this.fail('bad hexadecimal escape', start);
    this.pos += digits;
    return Number.parseInt(text, 16);
  }

  private braceHex(start: number): number {
    const m = /^\{([0-9A-Fa-f]{1,6})\}/.exec(this.src.slice(this.pos));
    if (!m) this.fail('bad \\u{…} escape', start);
    this.pos += m[0].length;
    return Number.parseInt(m[1]!, 16);
  }

  private skipBraced(start: number): void {
    const m = /^\{[A-Za-z_=]+\}/.exec(this.src.slice(this.pos));
    if (!m) this.fail('\\p needs a property in braces, as in \\p{L}', start);
    this.pos += m[0].length;
  }

  private fail(message: string, index = this.pos): never {
    throw new RegexProblem('syntax', message, index + this.offset);
  }
}

// ---- the safety rules -----------------------------------------------------------------------------------

interface Shape {
  minLen: number;
  maxLen: number;
  /** characters the piece can start with */
  first: CharSet;
  /** every character the piece can consume */
  chars: CharSet;
}

function shapeOf(node: RNode): Shape {
  switch (node.t) {
    case 'atom':
      return { minLen: 1, maxLen: 1, first: node.set, chars: node.set };
    case 'assert':
      return { minLen: 0, maxLen: 0, first: EMPTY, chars: EMPTY };
    case 'seq': {
      let minLen = 0;
      let maxLen = 0;
      let first = EMPTY;
      let chars = EMPTY;
      let open = true; // every piece so far can match the empty string
      for (const item of node.items) {
        const s = shapeOf(item);
        minLen += s.minLen;
        maxLen += s.maxLen;
        chars = chars.union(s.chars);
        if (open) first = first.union(s.first);
        if (s.minLen > 0) open = false;
      }
      return { minLen, maxLen, first, chars };
    }
    case 'alt': {
      const shapes = node.alts.map(shapeOf);
      return {
        minLen: Math.min(...shapes.map((s) => s.minLen)),
        maxLen: Math.max(...shapes.map((s) => s.maxLen)),
        first: shapes.reduce((a, s) => a.union(s.first), EMPTY),
        chars: shapes.reduce((a, s) => a.union(s.chars), EMPTY),
      };
    }
    case 'repeat': {
      const s = shapeOf(node.body);
      return {
        minLen: s.minLen * node.min,
        maxLen: node.max === Number.POSITIVE_INFINITY ? (s.maxLen === 0 ? 0 : node.max) : s.maxLen * node.max,
        first: s.first,
        chars: s.chars,
      };
    }
  }
}

function checkSafety(root: RNode): void {
  checkRepeats(root, false);
  checkChains(root);
}

/** Rules 1 and 2: the body of a repeat must split an input one way only. */
function checkRepeats(node: RNode, underRepeat: boolean): void {
  switch (node.t) {
    case 'seq':
      for (const item of node.items) checkRepeats(item, underRepeat);
      return;
    case 'alt':
      if (underRepeat) {
        const firsts = node.alts.map((a) => shapeOf(a).first);
        for (let i = 0; i < firsts.length; i++) {
          for (let j = i + 1; j < firsts.length; j++) {
            if (firsts[i]!.overlaps(firsts[j]!)) {
              throw new RegexProblem(
                'unsafe',
                'alternatives inside a repeated group can start with the same character, which can take exponential time; make the alternatives start differently or use a character class',
                node.index,
              );
            }
          }
        }
      }
      for (const alt of node.alts) checkRepeats(alt, underRepeat);
      return;
    case 'repeat': {
      if (node.max > 1) {
        const body = shapeOf(node.body);
        if (body.minLen !== body.maxLen) {
          throw new RegexProblem(
            'unsafe',
            'a repeated group contains a quantifier or optional part (nested quantifiers such as (a+)+), which can take exponential time; rewrite it with a single quantifier',
            node.index,
          );
        }
      }
      checkRepeats(node.body, underRepeat || node.max > 1);
      return;
    }
    default:
      return;
  }
}

interface Leaf {
  /** an unbounded (or large) repeat, or a mandatory single character */
  kind: 'repeat' | 'wall';
  set: CharSet;
}

/**
 * Rule 3: polynomial backtracking comes from unbounded repeats that can take the same characters one after
 * the other (.*x.*y), and from the search trying every start position. A mandatory character that the first
 * repeat cannot take is a wall between two repeats. Allowed: one such chain link when the pattern is anchored
 * with ^ (quadratic at worst), none otherwise (a lone unbounded repeat, quadratic with the start positions).
 */
function checkChains(root: RNode): void {
  const leaves: Leaf[] = [];
  flatten(root, true, leaves);
  const repeats: { index: number; set: CharSet }[] = [];
  leaves.forEach((leaf, i) => {
    if (leaf.kind === 'repeat') repeats.push({ index: i, set: leaf.set });
  });
  const anchored = root.t === 'seq' && root.items[0]?.t === 'assert' && root.items[0].start === true;
  const allowed = anchored ? 2 : 1;
  const chain = repeats.map(() => 1);
  for (let j = 0; j < repeats.length; j++) {
    for (let i = 0; i < j; i++) {
      if (linked(leaves, repeats[i]!, repeats[j]!)) chain[j] = Math.max(chain[j]!, chain[i]! + 1);
    }
    if (chain[j]! > allowed) {
      throw new RegexProblem(
        'unsafe',
        anchored
          ? 'three or more unbounded quantifiers that can match the same characters follow one another (like ^.*a.*b.*), which can take too long; make them more specific'
          : 'unbounded quantifiers that can match the same characters follow one another (like .*a.*), which can take too long; anchor the pattern with ^ or make them more specific',
        0,
      );
    }
  }
}

function linked(
  leaves: Leaf[],
  a: { index: number; set: CharSet },
  b: { index: number; set: CharSet },
): boolean {
  if (!a.set.overlaps(b.set)) return false;
  for (let k = a.index + 1; k < b.index; k++) {
    const leaf = leaves[k]!;
    if (leaf.kind === 'wall' && !leaf.set.overlaps(a.set)) return false;
  }
  return true;
}

function flatten(node: RNode, mandatory: boolean, out: Leaf[]): void {
  switch (node.t) {
    case 'atom':
      if (mandatory) out.push({ kind: 'wall', set: node.set });
      return;
    case 'assert':
      return;
    case 'seq':
      for (const item of node.items) flatten(item, mandatory, out);
      return;
    case 'alt':
      for (const alt of node.alts) flatten(alt, false, out);
      return;
    case 'repeat':
      if (node.max > LARGE_COUNT) {
        out.push({ kind: 'repeat', set: shapeOf(node.body).chars });
        return;
      }
      flatten(node.body, mandatory && node.min > 0, out);
      return;
  }
}
