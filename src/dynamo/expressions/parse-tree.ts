// The parse tree of DynamoDB's expression language: what the parser builds and the semantic
// checks read, before names and values are substituted into the AST of ast.ts.
import type { CompareOp, Path } from './ast.js';

export type ExpressionLabel =
  | 'ConditionExpression'
  | 'FilterExpression'
  | 'KeyConditionExpression'
  | 'UpdateExpression'
  | 'ProjectionExpression';

export type PathElem = { kind: 'id'; text: string } | { kind: 'name'; text: string } | { kind: 'index'; value: number; text: string };

export interface PPath {
  t: 'path';
  elems: PathElem[];
  resolved?: Path;
}
export interface PValue {
  t: 'value';
  name: string;
}
export interface PCall {
  t: 'call';
  name: string;
  args: PNode[];
}
export interface PParen {
  t: 'paren';
  inner: PNode;
}
export type PNode =
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

export interface PUpdate {
  /** Every action in textual order (sections interleaved as written). */
  actions: { path: PPath; value?: PNode }[];
  set: { path: PPath; value: PNode }[];
  remove: PPath[];
  add: { path: PPath; value: PValue }[];
  delete: { path: PPath; value: PValue }[];
  duplicateSection?: string;
}


/** What the parser noticed that DynamoDB reports only after a successful parse. */
export interface ParseFindings {
  redundantParens: boolean;
  badIndex: string | undefined;
  /** Operand count of the first IN with more than 100 operands. */
  tooManyIn: number | undefined;
  /** Levels of the first document path deeper than DynamoDB's 32. */
  deepPath: number | undefined;
}
