// The lexer of DynamoDB's expression language. Its token shape and character classes are shared
// with the PartiQL lexer (src/dynamo/partiql/lexer.ts).

export type TokType = 'id' | 'name' | 'value' | 'int' | 'op' | 'kw' | 'eof' | 'bad';

export interface Token<T extends string = TokType> {
  type: T;
  text: string;
  start: number;
  end: number;
  /** Upper-cased keyword for 'kw' tokens. */
  kw?: string;
}

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'SET', 'REMOVE', 'ADD', 'DELETE']);

export function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
export function isWord(c: number): boolean {
  return isAlpha(c) || isDigit(c) || c === 95;
}

export function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

export function lex(s: string): Token[] {
  const out: Token[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    if (isAlpha(c)) {
      i++;
      while (i < n && isWord(s.charCodeAt(i))) i++;
      const text = s.slice(start, i);
      const up = text.toUpperCase();
      if (KEYWORDS.has(up)) out.push({ type: 'kw', text, start, end: i, kw: up });
      else out.push({ type: 'id', text, start, end: i });
      continue;
    }
    if ((c === 35 || c === 58) && i + 1 < n && isWord(s.charCodeAt(i + 1))) {
      i++;
      while (i < n && isWord(s.charCodeAt(i))) i++;
      out.push({ type: c === 35 ? 'name' : 'value', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (isDigit(c)) {
      // '0' stands alone: "01" lexes as "0" "1", as in DynamoDB's grammar.
      i++;
      if (c !== 48) while (i < n && isDigit(s.charCodeAt(i))) i++;
      out.push({ type: 'int', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (c === 60) {
      // < <= <>
      const d = s.charCodeAt(i + 1);
      i += d === 61 || d === 62 ? 2 : 1;
      out.push({ type: 'op', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (c === 62) {
      i += s.charCodeAt(i + 1) === 61 ? 2 : 1;
      out.push({ type: 'op', text: s.slice(start, i), start, end: i });
      continue;
    }
    if (c === 61 || c === 40 || c === 41 || c === 91 || c === 93 || c === 44 || c === 46 || c === 43 || c === 45) {
      i++;
      out.push({ type: 'op', text: s[start]!, start, end: i });
      continue;
    }
    // Anything else is a one-character token the parser will reject (surrogate pairs kept whole).
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
    out.push({ type: 'bad', text: s.slice(start, i), start, end: i });
  }
  out.push({ type: 'eof', text: '<EOF>', start: n, end: n });
  return out;
}
