/**
 * The config text as the API shows it and takes it back: every secret-looking value shown as "set"
 * (GET /config), and a proposed config whose secrets are still "set" given the running config's values
 * again (POST /config/validate), so a proposal edited from what GET /config showed keeps its secrets.
 */
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { redact } from '../core/redact.js';

/** Keys whose value is a secret wherever they are (a password, a client secret, a token, a key): shown as "set". */
const SECRET_KEY = /passw|secret|token|apikey|api_key|privatekey|private_key|credential|^key$|bindcredentials/i;

/** what GET /config shows in place of a secret */
export const SHOWN_SECRET = 'set';

/** The config text with every secret-looking value (and any ${env:}/${file:} reference's target left as written) shown as "set". */
export function redactedYaml(text: string): string {
  const doc = parseDocument(text);
  const walk = (node: unknown): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        if (SECRET_KEY.test(key) && (isScalar(pair.value) || isSeq(pair.value) || isMap(pair.value))) pair.value = doc.createNode(SHOWN_SECRET);
        else walk(pair.value);
      }
    } else if (isSeq(node)) for (const item of node.items) walk(item);
  };
  walk(doc.contents);
  return redact(doc.toString());
}

/**
 * `proposed` with each secret-looking key whose value is "set" given the value the running config's text has
 * at the same path, as written there (a `${env:}` reference or a literal). The text is changed only in those
 * places, so the line and column of every problem found in it stay those of the text as proposed.
 */
export function withSecretsKept(proposed: string, current: string): string {
  const doc = parseDocument(proposed);
  const now = parseDocument(current);
  const edits: { from: number; to: number; text: string }[] = [];
  const walk = (node: unknown, path: (string | number)[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        const value = pair.value;
        if (SECRET_KEY.test(key) && isScalar(value) && value.value === SHOWN_SECRET && value.range) {
          const was = now.getIn([...path, key], true) as { range?: [number, number, number] } | undefined;
          if (was?.range) edits.push({ from: value.range[0], to: value.range[1], text: current.slice(was.range[0], was.range[1]) });
        } else walk(value, [...path, key]);
      }
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) walk(item, [...path, i]);
    }
  };
  walk(doc.contents, []);
  let out = proposed;
  for (const e of edits.sort((a, b) => b.from - a.from)) out = out.slice(0, e.from) + e.text + out.slice(e.to);
  return out;
}
