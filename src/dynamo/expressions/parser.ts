// Hand-written lexer and recursive-descent parser for DynamoDB's expression language, followed by
// the semantic passes DynamoDB runs (reserved words, functions, #names/:values, overlapping paths,
// constant operand types) in the order DynamoDB reports them.
import type { AttributeType, AttributeValue } from '../types.js';
import { validation } from '../errors.js';
import { LONG_TYPE, compareAttributeValues, typeOf } from '../attribute-values.js';
import { isReservedWord } from './reserved.js';
import type { Condition, Operand, Path, Update, UpdateValue, CompareOp } from './ast.js';

export type ExpressionLabel =
  | 'ConditionExpression'
  | 'FilterExpression'
  | 'KeyConditionExpression'
  | 'UpdateExpression'
  | 'ProjectionExpression';

/** Request-wide substitutions plus the record of which ones were used. */
export interface ExpressionContext {
  names: Record<string, string> | undefined;
  values: Record<string, AttributeValue> | undefined;
  usedNames: Set<string>;
  usedValues: Set<string>;
}

// ---- lexer ----------------------------------------------------------------------------------

type TokType = 'id' | 'name' | 'value' | 'int' | 'op' | 'kw' | 'eof' | 'bad';

interface Token {
  type: TokType;
  text: string;
  start: number;
  end: number;
  /** Upper-cased keyword for 'kw' tokens. */
  kw?: string;
}

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'SET', 'REMOVE', 'ADD', 'DELETE']);

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isWord(c: number): boolean {
  return isAlpha(c) || isDigit(c) || c === 95;
}

function lex(s: string): Token[] {
  const out: Token[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
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

// ---- parse tree -----------------------------------------------------------------------------

type PathElem = { kind: 'id'; text: string } | { kind: 'name'; text: string } | { kind: 'index'; value: number; text: string };

interface PPath {
  t: 'path';
  elems: PathElem[];
  resolved?: Path;
}
interface PValue {
  t: 'value';
  name: string;
}
interface PCall {
  t: 'call';
  name: string;
  args: PNode[];
}
interface PParen {
  t: 'paren';
  inner: PNode;
}
type PNode =
  | PPath
  | PValue
  | PCall
  | PParen
  | { t: 'cmp'; op: CompareOp; left: PNode; right: PNode }
  | { t: 'between'; value: PNode; low: PNode; high: PNode }
  | { t: 'in'; value: PNode; list: PNode[] }
  | { t: 'and' | 'or'; left: PNode; right: PNode }
  | { t: 'not'; cond: PNode }
  | { t: 'arith'; op: '+' | '-'; left: PNode; right: PNode };

interface PUpdate {
  /** Every action in textual order (sections interleaved as written). */
  actions: { path: PPath; value?: PNode }[];
  set: { path: PPath; value: PNode }[];
  remove: PPath[];
  add: { path: PPath; value: PValue }[];
  delete: { path: PPath; value: PValue }[];
  duplicateSection?: string;
}

const MAX_INDEX = 2147483647;

class Parser {
  private toks: Token[];
  private pos = 0;
  redundantParens = false;
  badIndex: string | undefined;
  /** Operand count of the first IN with more than 100 operands. */
  tooManyIn: number | undefined;
  /** Every path and value reference, in textual order, for the semantic passes. */
  paths: PPath[] = [];
  valueRefs: PValue[] = [];

  constructor(
    private readonly src: string,
    private readonly label: ExpressionLabel,
  ) {
    this.toks = lex(src);
  }

  private peek(): Token {
    return this.toks[this.pos]!;
  }
  private next(): Token {
    return this.toks[this.pos++]!;
  }
  private isOp(text: string): boolean {
    const t = this.peek();
    return t.type === 'op' && t.text === text;
  }
  private isKw(kw: string): boolean {
    const t = this.peek();
    return t.type === 'kw' && t.kw === kw;
  }

  fail(): never {
    const i = this.pos;
    const tok = this.toks[i]!;
    const prev = i > 0 ? this.toks[i - 1] : undefined;
    const next = tok.type === 'eof' ? undefined : this.toks[i + 1];
    const start = prev ? prev.start : 0;
    const end = next && next.type !== 'eof' ? next.end : this.src.length;
    throw validation(`Invalid ${this.label}: Syntax error; token: "${tok.text}", near: "${this.src.slice(start, end)}"`);
  }

  private expectOp(text: string): void {
    if (!this.isOp(text)) this.fail();
    this.pos++;
  }

  expectEnd(): void {
    if (this.peek().type !== 'eof') this.fail();
  }

  // path := (id | #name) ( '.' (id | #name) | '[' int ']' )*
  parsePath(): PPath {
    const elems: PathElem[] = [];
    const first = this.peek();
    if (first.type === 'id') elems.push({ kind: 'id', text: first.text });
    else if (first.type === 'name') elems.push({ kind: 'name', text: first.text });
    else this.fail();
    this.pos++;
    for (;;) {
      if (this.isOp('.')) {
        this.pos++;
        const t = this.peek();
        if (t.type === 'id') elems.push({ kind: 'id', text: t.text });
        else if (t.type === 'name') elems.push({ kind: 'name', text: t.text });
        else this.fail();
        this.pos++;
      } else if (this.isOp('[')) {
        this.pos++;
        const t = this.peek();
        if (t.type !== 'int') this.fail();
        this.pos++;
        this.expectOp(']');
        const v = t.text.length > 10 ? Infinity : Number(t.text);
        if (v > MAX_INDEX && this.badIndex === undefined) this.badIndex = t.text;
        elems.push({ kind: 'index', value: v, text: t.text });
      } else break;
    }
    const p: PPath = { t: 'path', elems };
    this.paths.push(p);
    return p;
  }

  private parseValueRef(): PValue {
    const t = this.peek();
    if (t.type !== 'value') this.fail();
    this.pos++;
    const v: PValue = { t: 'value', name: t.text };
    this.valueRefs.push(v);
    return v;
  }

  private paren(inner: PNode): PParen {
    if (inner.t === 'paren') this.redundantParens = true;
    return { t: 'paren', inner };
  }

  // operand := path | :value | id '(' operand (',' operand)* ')' | '(' operand ')'
  parseOperand(): PNode {
    const t = this.peek();
    if (t.type === 'op' && t.text === '(') {
      this.pos++;
      const inner = this.parseOperand();
      this.expectOp(')');
      return this.paren(inner);
    }
    if (t.type === 'value') return this.parseValueRef();
    if (t.type === 'id' && this.toks[this.pos + 1]!.type === 'op' && this.toks[this.pos + 1]!.text === '(') {
      this.pos += 2;
      const args: PNode[] = [this.parseOperand()];
      while (this.isOp(',')) {
        this.pos++;
        args.push(this.parseOperand());
      }
      this.expectOp(')');
      return { t: 'call', name: t.text, args };
    }
    if (t.type === 'id' || t.type === 'name') return this.parsePath();
    this.fail();
  }

  // ---- conditions ----

  private depth = 0;

  parseOr(): PNode {
    let left = this.parseAnd();
    while (this.isKw('OR')) {
      this.pos++;
      left = { t: 'or', left: this.asCondition(left), right: this.asCondition(this.parseAnd()) };
    }
    return left;
  }

  private parseAnd(): PNode {
    let left = this.parseNot();
    while (this.isKw('AND')) {
      this.pos++;
      left = { t: 'and', left: this.asCondition(left), right: this.asCondition(this.parseNot()) };
    }
    return left;
  }

  private parseNot(): PNode {
    if (this.isKw('NOT')) {
      this.pos++;
      return { t: 'not', cond: this.asCondition(this.parseNot()) };
    }
    return this.parsePredicate();
  }

  /** A bare operand only survives inside parentheses, e.g. "(a) = :v". */
  private asCondition(n: PNode): PNode {
    if (isOperandNode(n) && !isCallLike(n)) this.fail();
    return n;
  }

  private parsePredicate(): PNode {
    let left: PNode;
    if (this.isOp('(')) {
      this.pos++;
      this.depth++;
      const inner = this.parseOr();
      this.depth--;
      this.expectOp(')');
      left = this.paren(inner);
      if (!isOperandNode(inner)) return left;
    } else {
      left = this.parseOperand();
    }
    const t = this.peek();
    if (t.type === 'op' && (t.text === '=' || t.text === '<>' || t.text === '<' || t.text === '<=' || t.text === '>' || t.text === '>=')) {
      this.pos++;
      return { t: 'cmp', op: t.text as CompareOp, left, right: this.parseOperand() };
    }
    if (t.type === 'kw' && t.kw === 'BETWEEN') {
      this.pos++;
      const low = this.parseOperand();
      if (!this.isKw('AND')) this.fail();
      this.pos++;
      const high = this.parseOperand();
      return { t: 'between', value: left, low, high };
    }
    if (t.type === 'kw' && t.kw === 'IN') {
      this.pos++;
      this.expectOp('(');
      const list = [this.parseOperand()];
      while (this.isOp(',')) {
        this.pos++;
        list.push(this.parseOperand());
      }
      this.expectOp(')');
      if (list.length > 100 && this.tooManyIn === undefined) this.tooManyIn = list.length;
      return { t: 'in', value: left, list };
    }
    if (isCallLike(left)) return left;
    if (this.depth > 0 && this.isOp(')')) return left;
    this.fail();
  }

  parseConditionExpression(): PNode {
    const n = this.asCondition(this.parseOr());
    this.expectEnd();
    return n;
  }

  // ---- update ----

  // setValue := operand [('+'|'-') operand] | '(' setValue ')' [('+'|'-') operand, if it held an operand]
  private parseSetValue(): PNode {
    if (this.isOp('(')) {
      this.pos++;
      const inner = this.parseSetValue();
      this.expectOp(')');
      const node = this.paren(inner);
      if (inner.t !== 'arith' && (this.isOp('+') || this.isOp('-'))) {
        const op = this.next().text as '+' | '-';
        return { t: 'arith', op, left: node, right: this.parseOperand() };
      }
      return node;
    }
    const left = this.parseOperand();
    if (this.isOp('+') || this.isOp('-')) {
      const op = this.next().text as '+' | '-';
      return { t: 'arith', op, left, right: this.parseOperand() };
    }
    return left;
  }

  parseUpdateExpression(): PUpdate {
    const u: PUpdate = { actions: [], set: [], remove: [], add: [], delete: [] };
    const seen = new Set<string>();
    do {
      const t = this.peek();
      if (t.type !== 'kw' || !(t.kw === 'SET' || t.kw === 'REMOVE' || t.kw === 'ADD' || t.kw === 'DELETE')) this.fail();
      this.pos++;
      const section = t.kw;
      if (seen.has(section) && u.duplicateSection === undefined) u.duplicateSection = section;
      seen.add(section);
      for (;;) {
        if (section === 'SET') {
          const path = this.parsePath();
          this.expectOp('=');
          const value = this.parseSetValue();
          u.set.push({ path, value });
          u.actions.push({ path, value });
        } else if (section === 'REMOVE') {
          const path = this.parsePath();
          u.remove.push(path);
          u.actions.push({ path });
        } else {
          const path = this.parsePath();
          const value = this.parseValueRef();
          (section === 'ADD' ? u.add : u.delete).push({ path, value });
          u.actions.push({ path, value });
        }
        if (!this.isOp(',')) break;
        this.pos++;
      }
    } while (this.peek().type !== 'eof');
    return u;
  }

  parseProjectionExpression(): PPath[] {
    const out = [this.parsePath()];
    while (this.isOp(',')) {
      this.pos++;
      out.push(this.parsePath());
    }
    this.expectEnd();
    return out;
  }
}

function isOperandNode(n: PNode): boolean {
  if (n.t === 'paren') return isOperandNode(n.inner);
  return n.t === 'path' || n.t === 'value' || n.t === 'call';
}

function isCallLike(n: PNode): boolean {
  if (n.t === 'paren') return isCallLike(n.inner);
  return n.t === 'call';
}

// ---- semantic passes --------------------------------------------------------------------------

const CONDITION_FUNCTIONS: Record<string, number> = {
  attribute_exists: 1,
  attribute_not_exists: 1,
  attribute_type: 2,
  begins_with: 2,
  contains: 2,
  size: 1,
};
const UPDATE_FUNCTIONS: Record<string, number> = { if_not_exists: 2, list_append: 2 };
const BOOLEAN_FUNCTIONS = new Set(['attribute_exists', 'attribute_not_exists', 'attribute_type', 'begins_with', 'contains']);

const VALID_TYPES_TEXT = '{N,BS,L,B,NULL,M,S,SS,NS,BOOL}';
const PATH_TYPE_SET_TEXT = '{S,M,NS,NULL,FLOAT,DOUBLESET,BS,DECIMALSET,DOUBLE,INT,SS,B,INTSET,L,HDS,N,HD,DICT,BOOL,DECIMAL,FS}';
const TYPE_NAMES = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);

class Checker {
  constructor(
    private readonly label: ExpressionLabel,
    private readonly ctx: ExpressionContext,
  ) {}

  err(msg: string): never {
    throw validation(`Invalid ${this.label}: ${msg}`);
  }

  afterParse(p: Parser): void {
    if (p.redundantParens) this.err('The expression has redundant parentheses;');
    if (p.tooManyIn !== undefined) this.err(`The IN operator is provided with too many operands; number of operands: ${p.tooManyIn}`);
    if (p.badIndex !== undefined) this.err(`List index is not within the allowable range; index: [${p.badIndex}]`);
  }

  reserved(path: PPath): void {
    for (const e of path.elems) {
      if (e.kind === 'id' && isReservedWord(e.text)) this.err(`Attribute name is a reserved keyword; reserved keyword: ${e.text}`);
    }
  }

  /** Substitutes #names (once); an undefined name is an error. */
  resolve(p: PPath): Path {
    if (p.resolved === undefined) p.resolved = this.resolvePath(p);
    return p.resolved;
  }

  /** Operand counts of the calls nested in an operand tree. */
  arities(n: PNode): void {
    n = unparen(n);
    if (n.t !== 'call') return;
    this.arity(n);
    for (const a of n.args) this.arities(a);
  }

  /** Resolves every path, then every value, used by the given operand trees (textual order). */
  prepare(nodes: PNode[]): void {
    const paths: PPath[] = [];
    const values: PValue[] = [];
    const walk = (n: PNode): void => {
      if (n.t === 'path') paths.push(n);
      else if (n.t === 'value') values.push(n);
      else if (n.t === 'paren') walk(n.inner);
      else if (n.t === 'call') n.args.forEach(walk);
      else if (n.t === 'arith') {
        walk(n.left);
        walk(n.right);
      }
    };
    nodes.forEach(walk);
    for (const x of paths) this.resolve(x);
    for (const v of values) this.lookupValue(v.name);
  }

  private resolvePath(p: PPath): Path {
    const out: Path = [];
    for (const e of p.elems) {
      if (e.kind === 'id') out.push(e.text);
      else if (e.kind === 'index') out.push(e.value);
      else {
        const n = this.ctx.names?.[e.text];
        if (n === undefined) this.err(`An expression attribute name used in the document path is not defined; attribute name: ${e.text}`);
        this.ctx.usedNames.add(e.text);
        out.push(n);
      }
    }
    return out;
  }

  lookupValue(name: string): AttributeValue {
    const v = this.ctx.values?.[name];
    if (v === undefined) this.err(`An expression attribute value used in expression is not defined; attribute value: ${name}`);
    this.ctx.usedValues.add(name);
    return v;
  }

  // Reserved words and function name/placement, in textual order; outer call before inner.
  // (Operand counts are checked later, node by node, with names and values.)
  checkConditionFunctions(n: PNode, conditionPosition: boolean): void {
    switch (n.t) {
      case 'path':
        return this.reserved(n);
      case 'paren':
        return this.checkConditionFunctions(n.inner, conditionPosition);
      case 'and':
      case 'or':
        this.checkConditionFunctions(n.left, true);
        return this.checkConditionFunctions(n.right, true);
      case 'not':
        return this.checkConditionFunctions(n.cond, true);
      case 'cmp':
        this.checkConditionFunctions(n.left, false);
        return this.checkConditionFunctions(n.right, false);
      case 'between':
        this.checkConditionFunctions(n.value, false);
        this.checkConditionFunctions(n.low, false);
        return this.checkConditionFunctions(n.high, false);
      case 'in':
        this.checkConditionFunctions(n.value, false);
        for (const x of n.list) this.checkConditionFunctions(x, false);
        return;
      case 'call': {
        if (CONDITION_FUNCTIONS[n.name] === undefined) {
          if (UPDATE_FUNCTIONS[n.name] !== undefined) this.err(`The function is not allowed in a condition expression; function: ${n.name}`);
          this.err(`Invalid function name; function: ${n.name}`);
        }
        if (BOOLEAN_FUNCTIONS.has(n.name) !== conditionPosition) {
          this.err(`The function is not allowed to be used this way in an expression; function: ${n.name}`);
        }
        for (const a of n.args) this.checkConditionFunctions(a, false);
        return;
      }
      default:
        return;
    }
  }

  /** top: the node is the whole SET value (list_append may only appear there). */
  checkUpdateFunctions(n: PNode, top = true): void {
    switch (n.t) {
      case 'path':
        return this.reserved(n);
      case 'paren':
        return this.checkUpdateFunctions(n.inner, top);
      case 'arith':
        this.checkUpdateFunctions(n.left, false);
        return this.checkUpdateFunctions(n.right, false);
      case 'call': {
        if (UPDATE_FUNCTIONS[n.name] === undefined) {
          if (CONDITION_FUNCTIONS[n.name] !== undefined) this.err(`The function is not allowed in an update expression; function: ${n.name}`);
          this.err(`Invalid function name; function: ${n.name}`);
        }
        if (!top && n.name === 'list_append') {
          this.err(`The function is not allowed to be used this way in an expression; function: ${n.name}`);
        }
        for (const a of n.args) this.checkUpdateFunctions(a, false);
        return;
      }
      default:
        return;
    }
  }

  // ---- building the AST with DynamoDB's static operand checks ----

  private arity(n: PCall): void {
    const want = CONDITION_FUNCTIONS[n.name] ?? UPDATE_FUNCTIONS[n.name];
    if (n.args.length !== want) {
      this.err(`Incorrect number of operands for operator or function; operator or function: ${n.name}, number of operands: ${n.args.length}`);
    }
  }

  private operandType(n: PNode): AttributeType | undefined {
    n = unparen(n);
    if (n.t === 'value') return typeOf(this.lookupValue(n.name));
    if (n.t === 'call' && n.name === 'size') return 'N';
    return undefined;
  }

  private typeErr(fn: string, type: string): never {
    this.err(`Incorrect operand type for operator or function; operator or function: ${fn}, operand type: ${type}`);
  }

  private requireTypes(fn: string, n: PNode, allowed: ReadonlySet<string>): void {
    const t = this.operandType(n);
    if (t !== undefined && !allowed.has(t)) this.typeErr(fn, t);
  }

  private distinct(op: string, first: PNode, rest: PNode[]): void {
    const f = unparen(first);
    if (f.t !== 'path') return;
    for (const r of rest) {
      const x = unparen(r);
      if (x.t === 'path' && samePath(f.resolved!, x.resolved!)) {
        this.err(`The first operand must be distinct from the remaining operands for this operator or function; operator: ${op}, first operand: ${pathText(f.resolved!)}`);
      }
    }
  }

  operand(n: PNode): Operand {
    n = unparen(n);
    if (n.t === 'path') return { kind: 'path', path: n.resolved! };
    if (n.t === 'value') return { kind: 'value', value: this.lookupValue(n.name) };
    if (n.t === 'call' && n.name === 'size') {
      const t = this.operandType(n.args[0]!);
      if (t === 'N' || t === 'BOOL' || t === 'NULL') this.typeErr('size', t);
      return { kind: 'size', arg: this.operand(n.args[0]!) };
    }
    throw new Error('unexpected operand node');
  }

  condition(n: PNode): Condition {
    switch (n.t) {
      case 'paren':
        return this.condition(n.inner);
      case 'and':
      case 'or': {
        const a = this.condition(n.left);
        const b = this.condition(n.right);
        const conds: Condition[] = [];
        for (const c of [a, b]) {
          if (c.kind === n.t) conds.push(...c.conds);
          else conds.push(c);
        }
        return n.t === 'and' ? { kind: 'and', conds } : { kind: 'or', conds };
      }
      case 'not':
        return { kind: 'not', cond: this.condition(n.cond) };
      case 'cmp': {
        this.prepare([n.left, n.right]);
        this.arities(n.left);
        this.arities(n.right);
        if (n.op !== '=' && n.op !== '<>') {
          this.requireTypes(n.op, n.left, ORDERED);
          this.requireTypes(n.op, n.right, ORDERED);
        }
        this.distinct(n.op, n.left, [n.right]);
        return { kind: 'compare', op: n.op, left: this.operand(n.left), right: this.operand(n.right) };
      }
      case 'between': {
        this.prepare([n.value, n.low, n.high]);
        [n.value, n.low, n.high].forEach((x) => this.arities(x));
        this.requireTypes('BETWEEN', n.value, ORDERED);
        this.requireTypes('BETWEEN', n.low, ORDERED);
        this.requireTypes('BETWEEN', n.high, ORDERED);
        this.distinct('BETWEEN', n.value, [n.low, n.high]);
        const low = this.operand(n.low);
        const high = this.operand(n.high);
        if (low.kind === 'value' && high.kind === 'value') {
          const lt = typeOf(low.value);
          const ht = typeOf(high.value);
          const desc = `lower bound operand: AttributeValue: ${avText(low.value)}, upper bound operand: AttributeValue: ${avText(high.value)}`;
          if (lt !== ht) this.err(`The BETWEEN operator requires same data type for lower and upper bounds; ${desc}`);
          if ((compareAttributeValues(low.value, high.value) ?? 0) > 0) {
            this.err(`The BETWEEN operator requires upper bound to be greater than or equal to lower bound; ${desc}`);
          }
        }
        return { kind: 'between', value: this.operand(n.value), low, high };
      }
      case 'in': {
        this.prepare([n.value, ...n.list]);
        [n.value, ...n.list].forEach((x) => this.arities(x));
        this.distinct('IN', n.value, n.list);
        return { kind: 'in', value: this.operand(n.value), list: n.list.map((x) => this.operand(x)) };
      }
      case 'call':
        return this.functionCondition(n);
      default:
        throw new Error('unexpected condition node');
    }
  }

  private functionCondition(n: PCall): Condition {
    const a0 = n.args[0]!;
    this.prepare(n.args);
    this.arity(n);
    for (const a of n.args) this.arities(a);
    if ((n.name === 'attribute_exists' || n.name === 'attribute_not_exists') && unparen(a0).t !== 'path') {
      this.err(`Operator or function requires a document path; operator or function: ${n.name}`);
    }
    switch (n.name) {
      case 'attribute_exists':
        return { kind: 'exists', path: (unparen(a0) as PPath).resolved! };
      case 'attribute_not_exists':
        return { kind: 'notExists', path: (unparen(a0) as PPath).resolved! };
      case 'attribute_type': {
        const a1 = unparen(n.args[1]!);
        if (a1.t === 'path') this.typeErr('attribute_type', PATH_TYPE_SET_TEXT);
        const t = this.operandType(a1);
        if (t !== 'S') this.typeErr('attribute_type', t ?? 'N');
        const name = (this.lookupValue((a1 as PValue).name) as { S: string }).S;
        if (!TYPE_NAMES.has(name)) this.err(`Invalid attribute type name found; type: ${name}, valid types: ${VALID_TYPES_TEXT}`);
        return { kind: 'attributeType', arg: this.operand(a0), type: name as AttributeType };
      }
      case 'begins_with': {
        this.requireTypes('begins_with', a0, STRINGISH);
        this.requireTypes('begins_with', n.args[1]!, STRINGISH);
        this.distinct('begins_with', a0, [n.args[1]!]);
        return { kind: 'beginsWith', arg: this.operand(a0), prefix: this.operand(n.args[1]!) };
      }
      case 'contains':
        this.distinct('contains', a0, [n.args[1]!]);
        return { kind: 'contains', arg: this.operand(a0), value: this.operand(n.args[1]!) };
      default:
        throw new Error('unexpected function ' + n.name);
    }
  }

  private updateType(n: PNode): AttributeType | undefined {
    n = unparen(n);
    if (n.t === 'value') return typeOf(this.lookupValue(n.name));
    if (n.t === 'arith') return 'N';
    if (n.t === 'call' && n.name === 'list_append') return 'L';
    return undefined;
  }

  updateValue(n: PNode): UpdateValue {
    n = unparen(n);
    switch (n.t) {
      case 'path':
        return { kind: 'path', path: n.resolved! };
      case 'value':
        return { kind: 'value', value: this.lookupValue(n.name) };
      case 'arith': {
        for (const side of [n.left, n.right]) {
          const t = this.updateType(side);
          if (t !== undefined && t !== 'N') this.typeErr(n.op, t);
        }
        const left = this.updateValue(n.left);
        const right = this.updateValue(n.right);
        return n.op === '+' ? { kind: 'plus', left, right } : { kind: 'minus', left, right };
      }
      case 'call': {
        this.arity(n);
        if (n.name === 'list_append') {
          for (const side of n.args) {
            const t = this.updateType(side);
            if (t !== undefined && t !== 'L') this.typeErr('list_append', t);
          }
          return { kind: 'listAppend', first: this.updateValue(n.args[0]!), second: this.updateValue(n.args[1]!) };
        }
        const target = unparen(n.args[0]!);
        if (target.t !== 'path') this.err(`Operator or function requires a document path; operator or function: ${n.name}`);
        return { kind: 'ifNotExists', path: target.resolved!, fallback: this.updateValue(n.args[1]!) };
      }
      default:
        throw new Error('unexpected update value');
    }
  }

  addDeleteValue(section: 'ADD' | 'DELETE', v: PValue): AttributeValue {
    const value = this.lookupValue(v.name);
    const t = typeOf(value);
    const ok = section === 'ADD' ? t === 'N' || t === 'SS' || t === 'NS' || t === 'BS' : t === 'SS' || t === 'NS' || t === 'BS';
    if (!ok) {
      this.err(`Incorrect operand type for operator or function; operator: ${section}, operand type: ${LONG_TYPE[t]}, typeSet: ALLOWED_FOR_${section}_OPERAND`);
    }
    return value;
  }

  /** Overlapping and conflicting paths, reported the way DynamoDB reports them. */
  checkOverlaps(paths: Path[]): void {
    for (let i = 1; i < paths.length; i++) {
      const p = paths[i]!;
      let overlapAt = -1;
      for (let j = 0; j < i; j++) {
        const q = paths[j]!;
        const rel = relation(p, q);
        if (rel === 'conflict') {
          this.err(`Two document paths conflict with each other; must remove or rewrite one of these paths; path one: ${pathText(q)}, path two: ${pathText(p)}`);
        }
        if (rel === 'overlap') overlapAt = j;
      }
      if (overlapAt >= 0) {
        const q = paths[overlapAt]!;
        // DynamoDB names, as "path two", the greatest path at the level where the overlap was
        // found among those listed after path one (the new path itself included).
        const level = Math.min(p.length, q.length) - 1;
        let two = p;
        for (let j = overlapAt + 1; j < i; j++) {
          const c = paths[j]!;
          if (c.length <= level || !samePrefix(c, p, level)) continue;
          if (compareElem(c[level]!, two[level]!) > 0) two = c;
        }
        this.err(`Two document paths overlap with each other; must remove or rewrite one of these paths; path one: ${pathText(q)}, path two: ${pathText(two)}`);
      }
    }
  }
}

const ORDERED: ReadonlySet<string> = new Set(['N', 'S', 'B']);
const STRINGISH: ReadonlySet<string> = new Set(['S', 'B']);

function unparen(n: PNode): PNode {
  while (n.t === 'paren') n = n.inner;
  return n;
}

function samePath(a: Path, b: Path): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function samePrefix(a: Path, b: Path, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compareElem(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function relation(a: Path, b: Path): 'overlap' | 'conflict' | 'none' {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x !== typeof y) return 'conflict';
    return 'none';
  }
  return 'overlap';
}

/** DynamoDB's rendering of a path in messages: [a, [1], b]. */
export function pathText(p: Path): string {
  return '[' + p.map((e) => (typeof e === 'number' ? `[${e}]` : e)).join(', ') + ']';
}

/** DynamoDB's rendering of a scalar value in messages: {N:5}. */
function avText(v: AttributeValue): string {
  const t = typeOf(v);
  return `{${t}:${String((v as Record<string, unknown>)[t])}}`;
}

// ---- entry points ---------------------------------------------------------------------------

function checkNotEmpty(text: string, label: ExpressionLabel): void {
  if (text.length === 0) throw validation(`Invalid ${label}: The expression can not be empty;`);
}

export function compileConditionExpression(text: string, label: ExpressionLabel, ctx: ExpressionContext): Condition {
  checkNotEmpty(text, label);
  const p = new Parser(text, label);
  const tree = p.parseConditionExpression();
  const c = new Checker(label, ctx);
  c.afterParse(p);
  c.checkConditionFunctions(tree, true);
  // Names, values, operand types: node by node, in textual order.
  return c.condition(tree);
}

export function compileUpdateExpression(text: string, ctx: ExpressionContext): Update {
  const label = 'UpdateExpression';
  checkNotEmpty(text, label);
  const p = new Parser(text, label);
  const tree = p.parseUpdateExpression();
  const c = new Checker(label, ctx);
  c.afterParse(p);
  for (const a of tree.actions) {
    c.reserved(a.path);
    if (a.value) c.checkUpdateFunctions(a.value);
  }
  if (tree.duplicateSection) c.err(`The "${tree.duplicateSection}" section can only be used once in an update expression;`);
  // Target paths are resolved before the overlap check, operands after it.
  for (const a of tree.actions) c.resolve(a.path);
  c.checkOverlaps([
    ...tree.set.map((s) => s.path.resolved!),
    ...tree.remove.map((r) => r.resolved!),
    ...tree.add.map((a) => a.path.resolved!),
    ...tree.delete.map((d) => d.path.resolved!),
  ]);
  for (const x of p.paths) c.resolve(x);
  for (const v of p.valueRefs) c.lookupValue(v.name);
  return {
    set: tree.set.map((s) => ({ path: s.path.resolved!, value: c.updateValue(s.value) })),
    remove: tree.remove.map((r) => r.resolved!),
    add: tree.add.map((a) => ({ path: a.path.resolved!, value: c.addDeleteValue('ADD', a.value) })),
    delete: tree.delete.map((d) => ({ path: d.path.resolved!, value: c.addDeleteValue('DELETE', d.value) })),
  };
}

export function compileProjectionExpression(text: string, ctx: ExpressionContext): Path[] {
  const label = 'ProjectionExpression';
  checkNotEmpty(text, label);
  const p = new Parser(text, label);
  const tree = p.parseProjectionExpression();
  const c = new Checker(label, ctx);
  c.afterParse(p);
  for (const x of tree) c.reserved(x);
  const paths = tree.map((x) => c.resolve(x));
  c.checkOverlaps(paths);
  return paths;
}
