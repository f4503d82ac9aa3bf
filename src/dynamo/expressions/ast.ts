// Compiled expressions: plain data, with #names and :values already substituted, so evaluation
// never looks at the request again.
import type { AttributeType, AttributeValue } from '../types.js';

/** A document path: strings are attribute/map keys, numbers are list indexes. */
export type Path = (string | number)[];

export type Operand =
  | { kind: 'path'; path: Path }
  | { kind: 'value'; value: AttributeValue }
  | { kind: 'size'; arg: Operand };

export type CompareOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

export type Condition =
  | { kind: 'compare'; op: CompareOp; left: Operand; right: Operand }
  | { kind: 'between'; value: Operand; low: Operand; high: Operand }
  | { kind: 'in'; value: Operand; list: Operand[] }
  | { kind: 'and'; conds: Condition[] }
  | { kind: 'or'; conds: Condition[] }
  | { kind: 'not'; cond: Condition }
  | { kind: 'exists'; path: Path }
  | { kind: 'notExists'; path: Path }
  | { kind: 'attributeType'; arg: Operand; type: AttributeType }
  | { kind: 'beginsWith'; arg: Operand; prefix: Operand }
  | { kind: 'contains'; arg: Operand; value: Operand }
  /** Legacy NOT_CONTAINS: true only when the attribute exists and does not contain the value. */
  | { kind: 'notContains'; arg: Operand; value: Operand };

/** Right-hand side of a SET action. */
export type UpdateValue =
  | { kind: 'path'; path: Path }
  | { kind: 'value'; value: AttributeValue }
  | { kind: 'ifNotExists'; path: Path; fallback: UpdateValue }
  | { kind: 'listAppend'; first: UpdateValue; second: UpdateValue }
  | { kind: 'plus'; left: UpdateValue; right: UpdateValue }
  | { kind: 'minus'; left: UpdateValue; right: UpdateValue };

export interface SetAction {
  path: Path;
  value: UpdateValue;
}

export interface AddAction {
  path: Path;
  value: AttributeValue;
  /** Legacy AttributeUpdates ADD also appends lists. */
  legacy?: boolean;
}

export interface DeleteAction {
  path: Path;
  value: AttributeValue;
}

export interface Update {
  set: SetAction[];
  remove: Path[];
  add: AddAction[];
  delete: DeleteAction[];
  /** Legacy AttributeUpdates DELETE with a value on a missing attribute is a no-op; PUT etc. keep order. */
  legacy?: boolean;
}

/** One key condition in KeyConditions' terms: a ComparisonOperator and its values. */
export interface KeyConditionEntry {
  op: string;
  values: AttributeValue[];
}
/** A Query's key conditions by attribute name, whether given as KeyConditions or as an expression. */
export type KeyConditions = Map<string, KeyConditionEntry>;

export interface CompiledExpressions {
  condition?: Condition;
  update?: Update;
  projection?: Path[];
  filter?: Condition;
  keyCondition?: Condition;
  /** A Query's key conditions (from KeyConditionExpression or KeyConditions), checked in structure. */
  keyConditions?: KeyConditions;
}
