// The PartiQL lexer: DynamoDB's PartiQL subset tokenised with the character classes and token
// shape of the expression lexer. Strings are 'single quoted' ('' escapes a quote), identifiers
// plain or "double quoted" ("" escapes), numbers decimal with an optional exponent.
import { isAlpha, isDigit, isSpace, isWord, type Token } from '../expressions/lexer.js';

export type PqTokType = 'id' | 'qid' | 'str' | 'num' | 'param' | 'op' | 'kw' | 'eof' | 'bad';
export type PqToken = Token<PqTokType>;

// Words that are keywords wherever they appear; context words (OLD, NEW, ASC, ...) stay identifiers.
const KEYWORDS = new Set([
  'SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'IS', 'MISSING', 'NULL', 'TRUE', 'FALSE',
  'INSERT', 'INTO', 'VALUE', 'VALUES', 'UPDATE', 'SET', 'REMOVE', 'DELETE', 'RETURNING', 'ORDER', 'BY',
  'LIMIT', 'OFFSET', 'DISTINCT', 'AS', 'GROUP', 'HAVING', 'PIVOT',
]);

// Longest first, so '<<' wins over '<'.
const OPERATORS = ['<<', '>>', '<=', '>=', '<>', '!=', '||', '=', '<', '>', '(', ')', '[', ']', '{', '}', ',', '.', ':', '*', '+', '-', '/', '%', ';'];

/** The end of a quoted token starting at i (quote q, doubled to escape); -1 when unterminated. */
function quotedEnd(s: string, i: number, q: number): number {
  for (let j = i + 1; j < s.length; j++) {
    if (s.charCodeAt(j) !== q) continue;
    if (s.charCodeAt(j + 1) === q) {
      j++;
      continue;
    }
    return j + 1;
  }
  return -1;
}

function numberEnd(s: string, i: number): number {
  const n = s.length;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  if (s.charCodeAt(i) === 46 && isDigit(s.charCodeAt(i + 1))) {
    i++;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
  }
  const e = s.charCodeAt(i);
  if (e === 69 || e === 101) {
    let j = i + 1;
    if (s.charCodeAt(j) === 43 || s.charCodeAt(j) === 45) j++;
    if (isDigit(s.charCodeAt(j))) {
      while (j < n && isDigit(s.charCodeAt(j))) j++;
      i = j;
    }
  }
  return i;
}

export function lexPartiql(s: string): PqToken[] {
  const out: PqToken[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === 45 && s.charCodeAt(i + 1) === 45) {
      // -- comment to the end of the line
      while (i < n && s.charCodeAt(i) !== 10) i++;
      continue;
    }
    const start = i;
    if (isAlpha(c) || c === 95) {
      i++;
      while (i < n && (isWord(s.charCodeAt(i)) || s.charCodeAt(i) === 36)) i++;
      const text = s.slice(start, i);
      const up = text.toUpperCase();
      out.push(KEYWORDS.has(up) ? { type: 'kw', text, start, end: i, kw: up } : { type: 'id', text, start, end: i });
      continue;
    }
    if (c === 39 || c === 34) {
      const end = quotedEnd(s, i, c);
      if (end < 0) {
        out.push({ type: 'bad', text: s.slice(start), start, end: n });
        break;
      }
      i = end;
      out.push({ type: c === 39 ? 'str' : 'qid', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(i + 1)))) {
      i = numberEnd(s, i);
      out.push({ type: 'num', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (c === 63) {
      i++;
      out.push({ type: 'param', text: '?', start, end: i });
      continue;
    }
    const op = OPERATORS.find((o) => s.startsWith(o, i));
    if (op) {
      i += op.length;
      out.push({ type: 'op', text: op, start, end: i });
      continue;
    }
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
    out.push({ type: 'bad', text: s.slice(start, i), start, end: i });
  }
  out.push({ type: 'eof', text: '<EOF>', start: n, end: n });
  return out;
}

/** The text of a 'str' or 'qid' token without its quotes and escapes. */
export function unquote(t: PqToken): string {
  const q = t.text[0]!;
  return t.text.slice(1, -1).split(q + q).join(q);
}

/** DynamoDB's position of a token in messages: line:column:length, 1-based. */
export function positionOf(src: string, t: PqToken): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < t.start; i++) {
    if (src.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `${line}:${t.start - lineStart + 1}:${t.end - t.start}`;
}
