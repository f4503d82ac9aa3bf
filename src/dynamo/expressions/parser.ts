// Hand-written recursive-descent parser for DynamoDB's expression language (tokens from lexer.ts),
// and the entry points that run it and then the semantic passes of checks.ts.
import { validation } from '../errors.js';
import type { CompareOp, Condition, Path, Update } from './ast.js';
import { lex, type Token } from './lexer.js';
import type { ExpressionLabel, ParseFindings, PathElem, PNode, PParen, PPath, PUpdate, PValue } from './parse-tree.js';
import { Checker, type ExpressionContext } from './checks.js';

export type { ExpressionLabel } from './parse-tree.js';
export type { ExpressionContext } from './checks.js';
export { pathText } from './checks.js';

const MAX_INDEX = 2147483647;
/** DynamoDB's limits: operators (AND, OR, NOT, comparisons, BETWEEN, IN) per expression, path levels. */
const MAX_OPERATORS = 300;
const MAX_PATH_LEVELS = 32;

class Parser implements ParseFindings {
  private toks: Token[];
  private pos = 0;
  redundantParens = false;
  badIndex: string | undefined;
  /** Operand count of the first IN with more than 100 operands. */
  tooManyIn: number | undefined;
  deepPath: number | undefined;
  private operators = 0;
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

  /**
   * Counts an operator; past DynamoDB's limit the parse stops at once (DynamoDB reports the count
   * at which it stopped, 301), which also bounds the recursion of long NOT chains.
   */
  private countOperator(): void {
    if (++this.operators > MAX_OPERATORS) {
      throw validation(`Invalid ${this.label}: The expression contains too many operators; operator count: ${this.operators}`);
    }
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
    const p: PPath = { t: 'path', elems };
    this.paths.push(p);
    this.parsePathTail(p);
    return p;
  }

  /** The '.name' and '[n]' elements after a path's first (or after a parenthesized path). */
  private parsePathTail(p: PPath): void {
    const elems = p.elems;
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
    if (elems.length > MAX_PATH_LEVELS && this.deepPath === undefined) this.deepPath = elems.length;
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
      // DynamoDB parses "(a.b).c" as the path a.b.c, with redundant parentheses.
      const path = unparen(inner);
      if (path.t === 'path' && (this.isOp('.') || this.isOp('['))) {
        this.redundantParens = true;
        this.parsePathTail(path);
        return path;
      }
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
      this.countOperator();
      left = { t: 'or', left: this.asCondition(left), right: this.asCondition(this.parseAnd()) };
    }
    return left;
  }

  private parseAnd(): PNode {
    let left = this.parseNot();
    while (this.isKw('AND')) {
      this.pos++;
      this.countOperator();
      left = { t: 'and', left: this.asCondition(left), right: this.asCondition(this.parseNot()) };
    }
    return left;
  }

  private parseNot(): PNode {
    if (this.isKw('NOT')) {
      this.pos++;
      this.countOperator();
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
      const path = unparen(inner);
      if (path.t === 'path' && (this.isOp('.') || this.isOp('['))) {
        this.redundantParens = true;
        this.parsePathTail(path);
        left = path;
      }
    } else {
      left = this.parseOperand();
    }
    const t = this.peek();
    if (t.type === 'op' && (t.text === '=' || t.text === '<>' || t.text === '<' || t.text === '<=' || t.text === '>' || t.text === '>=')) {
      this.pos++;
      this.countOperator();
      return { t: 'cmp', op: t.text as CompareOp, left, right: this.parseOperand() };
    }
    if (t.type === 'kw' && t.kw === 'BETWEEN') {
      this.pos++;
      const low = this.parseOperand();
      if (!this.isKw('AND')) this.fail();
      this.pos++;
      const high = this.parseOperand();
      this.countOperator();
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
      this.countOperator();
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

function unparen(n: PNode): PNode {
  while (n.t === 'paren') n = n.inner;
  return n;
}

function isOperandNode(n: PNode): boolean {
  if (n.t === 'paren') return isOperandNode(n.inner);
  return n.t === 'path' || n.t === 'value' || n.t === 'call';
}

function isCallLike(n: PNode): boolean {
  if (n.t === 'paren') return isCallLike(n.inner);
  return n.t === 'call';
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
  // In textual order, whatever the sections (`remove a.c set a[1] = x`: path one is [a, c]).
  c.checkOverlaps(tree.actions.map((a) => a.path.resolved!));
  for (const x of p.paths) c.resolve(x);
  for (const v of p.valueRefs) c.lookupValue(v.name);
  // ADD's and DELETE's operand types are checked before SET's functions and operands.
  const add = tree.add.map((a) => ({ path: a.path.resolved!, value: c.addDeleteValue('ADD', a.value) }));
  const del = tree.delete.map((d) => ({ path: d.path.resolved!, value: c.addDeleteValue('DELETE', d.value) }));
  return {
    set: tree.set.map((s) => ({ path: s.path.resolved!, value: c.updateValue(s.value) })),
    remove: tree.remove.map((r) => r.resolved!),
    add,
    delete: del,
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
