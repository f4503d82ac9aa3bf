// The plain-data AST of DynamoDB's PartiQL subset, as the parser builds it. Values stay
// unresolved (parameters, nested literals) until the request's Parameters are bound.
import type { AttributeValue } from '../types.js';
import type { Path } from '../expressions/ast.js';

export type { Path };

/** A value as written: a scalar literal, a '?' parameter, or a collection of values. */
export type PqValue =
  | { kind: 'scalar'; value: AttributeValue }
  | { kind: 'param'; index: number }
  | { kind: 'list'; items: PqValue[] }
  | { kind: 'map'; entries: { key: string; value: PqValue }[] }
  | { kind: 'bag'; items: PqValue[]; at: string };

export type PqCompareOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

/** WHERE conditions and SET values share one expression tree. */
export type PqExpr =
  | { kind: 'path'; path: Path }
  | { kind: 'value'; value: PqValue }
  | { kind: 'compare'; op: PqCompareOp; left: PqExpr; right: PqExpr }
  | { kind: 'between'; value: PqExpr; low: PqExpr; high: PqExpr }
  | { kind: 'in'; value: PqExpr; list: PqExpr[] }
  | { kind: 'and' | 'or'; left: PqExpr; right: PqExpr }
  | { kind: 'not'; expr: PqExpr }
  | { kind: 'is'; expr: PqExpr; what: 'MISSING' | 'NULL'; negated: boolean }
  | { kind: 'call'; name: string; args: PqExpr[] }
  | { kind: 'arith'; op: '+' | '-'; left: PqExpr; right: PqExpr };

/** RETURNING (ALL|MODIFIED) (OLD|NEW) *, as UpdateItem's ReturnValues. */
export type PqReturning = 'ALL_OLD' | 'UPDATED_OLD' | 'ALL_NEW' | 'UPDATED_NEW';

export interface PqSelect {
  kind: 'select';
  table: string;
  index?: string;
  /** undefined: SELECT * */
  projection?: Path[];
  where?: PqExpr;
  orderBy?: { path: Path; descending: boolean }[];
}

export interface PqInsert {
  kind: 'insert';
  table: string;
  item: PqValue;
}

export type PqUpdateAction = { kind: 'set'; path: Path; value: PqExpr } | { kind: 'remove'; path: Path };

export interface PqUpdate {
  kind: 'update';
  table: string;
  actions: PqUpdateAction[];
  where?: PqExpr;
  returning?: PqReturning;
}

export interface PqDelete {
  kind: 'delete';
  table: string;
  where?: PqExpr;
  returning?: PqReturning;
}

/**
 * EXISTS(SELECT ...): ExecuteTransaction's ConditionCheck. `supported` is false for forms DynamoDB
 * parses but refuses in transactions (NOT EXISTS, EXISTS inside a larger condition).
 */
export interface PqExists {
  kind: 'exists';
  table: string;
  select: PqSelect;
  supported: boolean;
}

export type PqStatement = PqSelect | PqInsert | PqUpdate | PqDelete | PqExists;

export interface ParsedStatement {
  statement: PqStatement;
  /** Number of '?' placeholders, which the request's Parameters must match. */
  parameterCount: number;
}
