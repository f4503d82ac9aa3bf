// Semantic passes DynamoDB runs after parsing an expression (reserved words, functions,
// #names/:values, overlapping paths, constant operand types) in the order DynamoDB reports them,
// building the AST of ast.ts.
import type { AttributeType, AttributeValue } from '../types.js';
import { validation } from '../errors.js';
import { LONG_TYPE, compareAttributeValues, typeOf } from '../attribute-values.js';
import { isReservedWord } from './reserved.js';
import type { Condition, Operand, Path, UpdateValue } from './ast.js';
import type { ExpressionLabel, ParseFindings, PCall, PNode, PPath, PValue } from './parse-tree.js';

/** Request-wide substitutions plus the record of which ones were used. */
export interface ExpressionContext {
  names: Record<string, string> | undefined;
  values: Record<string, AttributeValue> | undefined;
  usedNames: Set<string>;
  usedValues: Set<string>;
}

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

export class Checker {
  constructor(
    private readonly label: ExpressionLabel,
    private readonly ctx: ExpressionContext,
  ) {}

  err(msg: string): never {
    throw validation(`Invalid ${this.label}: ${msg}`);
  }

  afterParse(p: ParseFindings): void {
    if (p.redundantParens) this.err('The expression has redundant parentheses;');
    if (p.tooManyIn !== undefined) this.err(`The IN operator is provided with too many operands; number of operands: ${p.tooManyIn}`);
    if (p.badIndex !== undefined) this.err(`List index is not within the allowable range; index: [${p.badIndex}]`);
    if (p.deepPath !== undefined) this.err(`The document path has too many nesting levels; nesting levels: ${p.deepPath}`);
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

  /**
   * Resolves the #names and looks up the :values of the given operand trees in textual order (the
   * first undefined one is reported, whichever kind it is).
   */
  prepare(nodes: PNode[]): void {
    const walk = (n: PNode): void => {
      if (n.t === 'path') this.resolve(n);
      else if (n.t === 'value') this.lookupValue(n.name);
      else if (n.t === 'paren') walk(n.inner);
      else if (n.t === 'call') n.args.forEach(walk);
      else if (n.t === 'arith') {
        walk(n.left);
        walk(n.right);
      }
    };
    nodes.forEach(walk);
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
    // Inner functions are checked first (size(:n) inside attribute_exists is size's operand type),
    // then operand distinctness, then the function's own operand kinds and types.
    for (const a of n.args) if (isSizeCall(a)) this.operand(a);
    if (n.args.length === 2) this.distinct(n.name, a0, [n.args[1]!]);
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
        return { kind: 'beginsWith', arg: this.operand(a0), prefix: this.operand(n.args[1]!) };
      }
      case 'contains':
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

  /**
   * Overlapping and conflicting paths, reported the way DynamoDB reports them: any overlap before
   * any conflict (`b[1], b.a, a.b, a` is an overlap of [a, b] and [a]), each in textual order.
   */
  checkOverlaps(paths: Path[]): void {
    for (let i = 1; i < paths.length; i++) {
      const p = paths[i]!;
      let overlapAt = -1;
      for (let j = 0; j < i; j++) if (relation(p, paths[j]!) === 'overlap') overlapAt = j;
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
    for (let i = 1; i < paths.length; i++) {
      for (let j = 0; j < i; j++) {
        if (relation(paths[i]!, paths[j]!) === 'conflict') {
          this.err(`Two document paths conflict with each other; must remove or rewrite one of these paths; path one: ${pathText(paths[j]!)}, path two: ${pathText(paths[i]!)}`);
        }
      }
    }
  }
}

const ORDERED: ReadonlySet<string> = new Set(['N', 'S', 'B']);
const STRINGISH: ReadonlySet<string> = new Set(['S', 'B']);

function isSizeCall(n: PNode): boolean {
  n = unparen(n);
  return n.t === 'call' && n.name === 'size';
}

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

