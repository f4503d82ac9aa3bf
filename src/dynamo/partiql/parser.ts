// Hand-written recursive-descent parser for DynamoDB's PartiQL subset (SELECT, INSERT, UPDATE,
// DELETE) into the plain-data AST of ast.ts. A statement that does not parse gets DynamoDB's one
// syntax message; well-formed PartiQL that DynamoDB does not support gets DynamoDB's own message.
import { validation } from '../errors.js';
import type { AttributeValue } from '../types.js';
import type {
  ParsedStatement,
  Path,
  PqCompareOp,
  PqDelete,
  PqExists,
  PqExpr,
  PqInsert,
  PqReturning,
  PqSelect,
  PqStatement,
  PqUpdate,
  PqUpdateAction,
  PqValue,
} from './ast.js';
import { lexPartiql, positionOf, unquote, type PqToken } from './lexer.js';

export const malformed = (src: string) => validation(`Statement wasn't well formed, can't be processed: ${src}`);

const OPERATIONS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE']);

/** Whether the statement starts with one of the four operations DynamoDB runs, or with EXISTS. */
export function startsWithOperation(src: string): boolean {
  const [first, second] = lexPartiql(src);
  if (first!.type === 'kw' && OPERATIONS.has(first!.kw!)) return true;
  const word = (t: PqToken | undefined) => t?.text.toUpperCase();
  return word(first) === 'EXISTS' || (word(first) === 'NOT' && word(second) === 'EXISTS');
}

// Statements DynamoDB recognises but refuses, by their leading words, with its name for each.
const UNSUPPORTED_OPERATIONS: Record<string, string> = {
  'CREATE TABLE': 'CreateTable',
  'CREATE INDEX': 'CreateIndex',
  'DROP TABLE': 'DropTable',
  'DROP INDEX': 'DropIndex',
  EXEC: 'Exec',
};

const COMPARE_OPS: Record<string, PqCompareOp> = { '=': '=', '<>': '<>', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
const MAX_LIST_INDEX = 2147483647;

class Parser {
  private readonly toks: PqToken[];
  private pos = 0;
  private params = 0;

  constructor(private readonly src: string) {
    this.toks = lexPartiql(src);
  }

  // ---- tokens ----

  private peek(offset = 0): PqToken {
    return this.toks[Math.min(this.pos + offset, this.toks.length - 1)]!;
  }
  private next(): PqToken {
    return this.toks[this.pos++]!;
  }
  private isOp(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.type === 'op' && t.text === text;
  }
  private isKw(kw: string): boolean {
    const t = this.peek();
    return t.type === 'kw' && t.kw === kw;
  }
  /** A context word: an identifier that acts as a keyword in one place only (ALL, OLD, ASC...). */
  private isWord(word: string): boolean {
    const t = this.peek();
    return t.type === 'id' && t.text.toUpperCase() === word;
  }
  private fail(): never {
    throw malformed(this.src);
  }
  private expectOp(text: string): void {
    if (!this.isOp(text)) this.fail();
    this.pos++;
  }
  private expectKw(kw: string): void {
    if (!this.isKw(kw)) this.fail();
    this.pos++;
  }
  private at(t: PqToken): string {
    return positionOf(this.src, t);
  }

  // ---- statements ----

  parse(): ParsedStatement {
    const t = this.peek();
    let statement: PqStatement;
    if (t.type === 'kw' && t.kw === 'SELECT') statement = this.select();
    else if (t.type === 'kw' && t.kw === 'INSERT') statement = this.insert();
    else if (t.type === 'kw' && t.kw === 'UPDATE') statement = this.update();
    else if (t.type === 'kw' && t.kw === 'DELETE') statement = this.delete();
    else if (this.isWord('EXISTS') || (this.isKw('NOT') && this.peek(1).type === 'id' && this.peek(1).text.toUpperCase() === 'EXISTS')) {
      statement = this.exists();
    } else this.unsupportedOperation();
    if (this.isOp(';')) this.pos++;
    if (this.peek().type !== 'eof') this.fail();
    return { statement, parameterCount: this.params };
  }

  private unsupportedOperation(): never {
    const words = [this.peek(), this.peek(1)].map((x) => x.text.toUpperCase());
    const name = UNSUPPORTED_OPERATIONS[`${words[0]} ${words[1]}`] ?? UNSUPPORTED_OPERATIONS[words[0]!];
    if (name) throw validation(`Unsupported operation: ${name}`);
    this.fail();
  }

  private select(): PqSelect {
    this.pos++;
    if (this.isKw('DISTINCT')) throw validation('Unsupported token in expression: DISTINCT');
    if (this.isKw('VALUE') || this.isKw('PIVOT')) throw validation("Select projection doesn't support value or pivot keywords");
    let projection: Path[] | undefined;
    if (this.isOp('*')) this.pos++;
    else {
      projection = [this.projectionPath()];
      while (this.isOp(',')) {
        this.pos++;
        projection.push(this.projectionPath());
      }
    }
    this.expectKw('FROM');
    const table = this.name();
    let index: string | undefined;
    if (this.isOp('.')) {
      this.pos++;
      index = this.name();
    }
    this.noAlias();
    const out: PqSelect = { kind: 'select', table };
    if (index !== undefined) out.index = index;
    if (projection) out.projection = projection;
    if (this.isKw('WHERE')) {
      this.pos++;
      out.where = this.expr();
    }
    if (this.isKw('ORDER')) {
      this.pos++;
      this.expectKw('BY');
      out.orderBy = [this.orderItem()];
      while (this.isOp(',')) {
        this.pos++;
        out.orderBy.push(this.orderItem());
      }
    }
    for (const clause of ['LIMIT', 'OFFSET', 'GROUP', 'HAVING']) {
      if (this.isKw(clause)) {
        // DynamoDB points at the clause's argument.
        const t = this.peek(1);
        throw validation(`Unsupported clause: ${clause === 'GROUP' ? 'GROUP BY' : clause} at ${this.at(t)}`);
      }
    }
    return out;
  }

  /** [NOT] EXISTS(SELECT ...), possibly inside a larger condition, which DynamoDB refuses later. */
  private exists(): PqExists {
    const negated = this.isKw('NOT');
    if (negated) this.pos++;
    this.pos++;
    this.expectOp('(');
    if (!this.isKw('SELECT')) this.fail();
    const select = this.select();
    this.expectOp(')');
    let supported = !negated;
    if (this.isKw('AND') || this.isKw('OR')) {
      this.pos++;
      this.expr();
      supported = false;
    }
    return { kind: 'exists', table: select.table, select, supported };
  }

  private projectionPath(): Path {
    const t = this.peek();
    if (t.type === 'id' && this.isOp('(', 1)) throw validation(`Unexpected path component at ${this.at(t)}`);
    return this.path();
  }

  private noAlias(): void {
    const t = this.peek();
    if (t.type === 'id' || t.type === 'qid' || (t.type === 'kw' && t.kw === 'AS')) throw validation('Aliasing is not supported');
  }

  private orderItem(): { path: Path; descending: boolean } {
    const path = this.path();
    let descending = false;
    if (this.isWord('ASC')) this.pos++;
    else if (this.isWord('DESC')) {
      this.pos++;
      descending = true;
    }
    return { path, descending };
  }

  private insert(): PqInsert {
    this.pos++;
    this.expectKw('INTO');
    const table = this.name();
    if (this.isOp('<<')) throw validation('Unsupported operation: InsertOp');
    this.expectKw('VALUE');
    const item = this.value();
    if (this.isKw('RETURNING')) throw validation('RETURNING is not supported in INSERT');
    return { kind: 'insert', table, item };
  }

  private update(): PqUpdate {
    this.pos++;
    const table = this.name();
    const actions: PqUpdateAction[] = [];
    while (this.isKw('SET') || this.isKw('REMOVE')) {
      const set = this.next().kw === 'SET';
      do {
        if (actions.length > 0 && this.isOp(',')) this.pos++;
        const path = this.path();
        if (set) {
          this.expectOp('=');
          actions.push({ kind: 'set', path, value: this.additive() });
        } else actions.push({ kind: 'remove', path });
      } while (this.isOp(','));
    }
    if (actions.length === 0) this.fail();
    const out: PqUpdate = { kind: 'update', table, actions };
    if (this.isKw('WHERE')) {
      this.pos++;
      out.where = this.expr();
    }
    const returning = this.returning();
    if (returning) out.returning = returning;
    return out;
  }

  private delete(): PqDelete {
    this.pos++;
    this.expectKw('FROM');
    const table = this.name();
    const out: PqDelete = { kind: 'delete', table };
    if (this.isKw('WHERE')) {
      this.pos++;
      out.where = this.expr();
    }
    const start = this.peek();
    const returning = this.returning();
    if (returning) {
      if (returning !== 'ALL_OLD') {
        const text = this.src.slice(start.start, this.toks[this.pos - 1]!.end);
        throw validation(`Invalid returning clause: ${text}. Only RETURNING ALL OLD * is allowed in DELETE statements.`);
      }
      out.returning = returning;
    }
    return out;
  }

  private returning(): PqReturning | undefined {
    if (!this.isKw('RETURNING')) return undefined;
    this.pos++;
    const scope = this.isWord('ALL') ? 'ALL' : this.isWord('MODIFIED') ? 'UPDATED' : this.fail();
    this.pos++;
    const age = this.isWord('OLD') ? 'OLD' : this.isWord('NEW') ? 'NEW' : this.fail();
    this.pos++;
    if (!this.isOp('*')) throw validation("Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause");
    this.pos++;
    return `${scope}_${age}` as PqReturning;
  }

  // ---- names and paths ----

  private name(): string {
    const t = this.peek();
    if (t.type === 'id') {
      this.pos++;
      return t.text;
    }
    if (t.type === 'qid') {
      this.pos++;
      return unquote(t);
    }
    this.fail();
  }

  private path(): Path {
    const path: Path = [this.name()];
    for (;;) {
      if (this.isOp('.')) {
        this.pos++;
        path.push(this.name());
      } else if (this.isOp('[')) {
        this.pos++;
        const t = this.next();
        if (t.type === 'str') path.push(unquote(t));
        else if (t.type === 'num' && /^\d+$/.test(t.text) && Number(t.text) <= MAX_LIST_INDEX) path.push(Number(t.text));
        else this.fail();
        this.expectOp(']');
      } else return path;
    }
  }

  // ---- expressions ----

  private expr(): PqExpr {
    let left = this.and();
    while (this.isKw('OR')) {
      this.pos++;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): PqExpr {
    let left = this.not();
    while (this.isKw('AND')) {
      this.pos++;
      left = { kind: 'and', left, right: this.not() };
    }
    return left;
  }

  private not(): PqExpr {
    if (this.isKw('NOT')) {
      this.pos++;
      return { kind: 'not', expr: this.not() };
    }
    return this.predicate();
  }

  private predicate(): PqExpr {
    const left = this.additive();
    const t = this.peek();
    if (t.type === 'op' && COMPARE_OPS[t.text]) {
      this.pos++;
      return { kind: 'compare', op: COMPARE_OPS[t.text]!, left, right: this.additive() };
    }
    if (this.isKw('IS')) {
      this.pos++;
      let negated = false;
      if (this.isKw('NOT')) {
        this.pos++;
        negated = true;
      }
      const what = this.isKw('MISSING') ? 'MISSING' : this.isKw('NULL') ? 'NULL' : this.fail();
      this.pos++;
      return { kind: 'is', expr: left, what, negated };
    }
    let negated = false;
    if (this.isKw('NOT') && (this.peek(1).kw === 'BETWEEN' || this.peek(1).kw === 'IN')) {
      this.pos++;
      negated = true;
    }
    let out: PqExpr | undefined;
    if (this.isKw('BETWEEN')) {
      this.pos++;
      const low = this.additive();
      this.expectKw('AND');
      out = { kind: 'between', value: left, low, high: this.additive() };
    } else if (this.isKw('IN')) {
      this.pos++;
      const close = this.isOp('[') ? ']' : this.isOp('(') ? ')' : this.fail();
      this.pos++;
      const list = [this.additive()];
      while (this.isOp(',')) {
        this.pos++;
        list.push(this.additive());
      }
      this.expectOp(close);
      out = { kind: 'in', value: left, list };
    }
    if (out) return negated ? { kind: 'not', expr: out } : out;
    return left;
  }

  private additive(): PqExpr {
    let left = this.primary();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.next().text as '+' | '-';
      left = { kind: 'arith', op, left, right: this.primary() };
    }
    return left;
  }

  private primary(): PqExpr {
    const t = this.peek();
    if (t.type === 'op' && t.text === '(') {
      this.pos++;
      const inner = this.expr();
      this.expectOp(')');
      return inner;
    }
    if (t.type === 'id' && this.isOp('(', 1)) {
      this.pos += 2;
      const args: PqExpr[] = [];
      if (!this.isOp(')')) {
        args.push(this.expr());
        while (this.isOp(',')) {
          this.pos++;
          args.push(this.expr());
        }
      }
      this.expectOp(')');
      return { kind: 'call', name: t.text, args };
    }
    if (t.type === 'id' || t.type === 'qid') return { kind: 'path', path: this.path() };
    return { kind: 'value', value: this.value() };
  }

  // ---- values ----

  private value(): PqValue {
    const t = this.next();
    switch (t.type) {
      case 'str':
        return scalar({ S: unquote(t) });
      case 'num':
        return scalar({ N: t.text });
      case 'param':
        return { kind: 'param', index: this.params++ };
      case 'kw':
        if (t.kw === 'TRUE' || t.kw === 'FALSE') return scalar({ BOOL: t.kw === 'TRUE' });
        if (t.kw === 'NULL') return scalar({ NULL: true });
        if (t.kw === 'MISSING') throw validation(`Unsupported data type: MISSING under key root at ${this.at(t)}`);
        break;
      case 'op':
        if (t.text === '-' && this.peek().type === 'num') return scalar({ N: '-' + this.next().text });
        if (t.text === '[') return { kind: 'list', items: this.values(']') };
        if (t.text === '<<') {
          const items = this.values('>>');
          if (items.length === 0) throw validation(`Empty bags are not supported at ${this.at(t)}`);
          return { kind: 'bag', items, at: this.at(t) };
        }
        if (t.text === '{') return this.map();
        break;
      default:
        break;
    }
    this.pos--;
    this.fail();
  }

  private values(close: string): PqValue[] {
    const items: PqValue[] = [];
    if (this.isOp(close)) {
      this.pos++;
      return items;
    }
    items.push(this.value());
    while (this.isOp(',')) {
      this.pos++;
      items.push(this.value());
    }
    this.expectOp(close);
    return items;
  }

  private map(): PqValue {
    const entries: { key: string; value: PqValue }[] = [];
    const seen = new Set<string>();
    if (!this.isOp('}')) {
      do {
        if (entries.length > 0) this.pos++;
        const k = this.peek();
        if (k.type === 'id' || k.type === 'qid') {
          throw validation(`Tuple keys must be of type String. Actual type: VariableReference under root at ${this.at(k)}`);
        }
        if (k.type !== 'str') this.fail();
        this.pos++;
        const key = unquote(k);
        if (seen.has(key)) throw validation(`Duplicate keys in tuple. Key: ${key} under root at ${this.at(k)}`);
        seen.add(key);
        this.expectOp(':');
        entries.push({ key, value: this.value() });
      } while (this.isOp(','));
    }
    this.expectOp('}');
    return { kind: 'map', entries };
  }
}

function scalar(value: AttributeValue): PqValue {
  return { kind: 'scalar', value };
}

/** Parses one statement; throws DynamoDB's ValidationException for anything it refuses. */
export function parseStatement(src: string): ParsedStatement {
  return new Parser(src).parse();
}
