// Turning a compiled KeyConditionExpression (or converted KeyConditions) into the hash value and
// optional range restriction a Query needs, with DynamoDB's messages for what keys can't do.
import type { AttributeValue, KeyAttribute, KeySchema } from '../types.js';
import { validation } from '../errors.js';
import { typeOf } from '../attribute-values.js';
import type { Condition, Operand } from './ast.js';

export type RangeOp = 'EQ' | 'LT' | 'LE' | 'GT' | 'GE' | 'BETWEEN' | 'BEGINS_WITH';

export interface KeyCondition {
  hash: AttributeValue;
  range?: { op: RangeOp; values: AttributeValue[] };
}

/**
 * The key restriction of a Query on an index with several key attributes: a value for each HASH
 * attribute, the values the leading RANGE attributes equal, and a condition on the next one.
 */
export interface MultiKeyCondition {
  hash: AttributeValue[];
  prefix: AttributeValue[];
  range?: { op: RangeOp; values: AttributeValue[] };
}

const MSG_MISSED = 'Query condition missed key schema element';
const MSG_NOT_SUPPORTED = 'Query key condition not supported';
const MSG_TYPE = 'One or more parameter values were invalid: Condition parameter type does not match schema type';

interface Leaf {
  name: string;
  op: RangeOp | 'OTHER';
  values: AttributeValue[];
}

function operatorName(c: Condition): string | undefined {
  switch (c.kind) {
    case 'or':
      return 'OR';
    case 'not':
      return 'NOT';
    case 'in':
      return 'IN';
    case 'exists':
      return 'attribute_exists';
    case 'notExists':
      return 'attribute_not_exists';
    case 'contains':
    case 'notContains':
      return 'contains';
    case 'attributeType':
      return 'attribute_type';
    case 'compare':
      return c.op === '<>' ? '<>' : undefined;
    default:
      return undefined;
  }
}

const FLIP: Record<string, RangeOp> = { '=': 'EQ', '<': 'GT', '<=': 'GE', '>': 'LT', '>=': 'LE' };
const DIRECT: Record<string, RangeOp> = { '=': 'EQ', '<': 'LT', '<=': 'LE', '>': 'GT', '>=': 'GE' };

function expressionLeaves(c: Condition, out: Condition[]): void {
  if (c.kind === 'and') {
    for (const x of c.conds) expressionLeaves(x, out);
    return;
  }
  const bad = operatorName(c);
  if (bad !== undefined) throw validation(`Invalid operator used in KeyConditionExpression: ${bad}`);
  out.push(c);
}

function leafFromExpression(c: Condition): Leaf {
  const operands: Operand[] =
    c.kind === 'compare' ? [c.left, c.right] : c.kind === 'between' ? [c.value, c.low, c.high] : c.kind === 'beginsWith' ? [c.arg, c.prefix] : [];
  if (operands.some((o) => o.kind === 'size')) throw validation('KeyConditionExpressions cannot contain nested operations');
  const paths = operands.filter((o) => o.kind === 'path');
  if (paths.length > 1) throw validation('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
  if (paths.length === 0) throw validation('Invalid condition in KeyConditionExpression: No key attribute specified');
  const path = paths[0]!.path;
  if (path.length > 1) {
    throw validation(`Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: ${String(path[0])}`);
  }
  const name = path[0] as string;
  const vals = (os: Operand[]) => os.map((o) => (o as { value: AttributeValue }).value);
  if (c.kind === 'compare') {
    const pathLeft = c.left.kind === 'path';
    return { name, op: (pathLeft ? DIRECT : FLIP)[c.op] ?? 'OTHER', values: vals([pathLeft ? c.right : c.left]) };
  }
  if (c.kind === 'between') {
    if (c.value.kind !== 'path') throw validation('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
    return { name, op: 'BETWEEN', values: vals([c.low, c.high]) };
  }
  if (c.kind === 'beginsWith') {
    if (c.arg.kind !== 'path') throw validation('Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand');
    return { name, op: 'BEGINS_WITH', values: vals([c.prefix]) };
  }
  return { name, op: 'OTHER', values: [] };
}

function leafFromLegacy(c: Condition): Leaf {
  switch (c.kind) {
    case 'compare': {
      const name = (c.left as { path: string[] }).path[0]!;
      const value = (c.right as { value: AttributeValue }).value;
      if (c.op === '<>') return { name, op: 'OTHER', values: [value] };
      return { name, op: DIRECT[c.op]!, values: [value] };
    }
    case 'between':
      return { name: (c.value as { path: string[] }).path[0]!, op: 'BETWEEN', values: [(c.low as { value: AttributeValue }).value, (c.high as { value: AttributeValue }).value] };
    case 'beginsWith':
      return { name: (c.arg as { path: string[] }).path[0]!, op: 'BEGINS_WITH', values: [(c.prefix as { value: AttributeValue }).value] };
    case 'exists':
    case 'notExists':
      return { name: c.path[0] as string, op: 'OTHER', values: [] };
    case 'in':
      return { name: (c.value as { path: string[] }).path[0]!, op: 'OTHER', values: [{ NULL: true }] };
    case 'contains':
    case 'notContains':
      return { name: (c.arg as { path: string[] }).path[0]!, op: 'OTHER', values: [{ NULL: true }] };
    default:
      throw validation(MSG_NOT_SUPPORTED);
  }
}

/**
 * Extracts the key restriction of a Query. The hash key must be compared with '='; the range key
 * (optional) with =, <, <=, >, >=, BETWEEN or begins_with; value types must match the schema.
 */
export function extractKeyCondition(c: Condition, schema: KeySchema): KeyCondition {
  const { legacy, leaves } = keyLeaves(c);
  const hashName = schema.hash.name;
  const rangeName = schema.range?.name;
  let hash: Leaf | undefined;
  let range: Leaf | undefined;
  for (const l of leaves) {
    if (l.name === hashName) hash = l;
    else if (rangeName !== undefined && l.name === rangeName) range = l;
    else throw validation(MSG_MISSED);
  }
  if (hash === undefined) throw validation(MSG_MISSED);
  if (hash.op !== 'EQ') throw validation(MSG_NOT_SUPPORTED);
  if (range !== undefined && range.op === 'OTHER') {
    if (!legacy) throw validation(MSG_NOT_SUPPORTED);
    if (range.values.length === 0) throw validation('Only scalar types can be used as Range Key values');
    throw validation('Attempted conditional constraint is not an indexable operation');
  }
  if (typeOf(hash.values[0]!) !== schema.hash.type) throw validation(MSG_TYPE);
  if (range !== undefined) {
    for (const v of range.values) if (typeOf(v) !== schema.range!.type) throw validation(MSG_TYPE);
    return { hash: hash.values[0]!, range: { op: range.op as RangeOp, values: range.values } };
  }
  return { hash: hash.values[0]! };
}

/** The single-key conditions of a key condition (expression or legacy KeyConditions). */
function keyLeaves(c: Condition): { legacy: boolean; leaves: Leaf[] } {
  const legacy = c.kind === 'and' && c.legacyKeyConditions === true;
  if (legacy) return { legacy, leaves: (c as { conds: Condition[] }).conds.map(leafFromLegacy) };
  const conds: Condition[] = [];
  expressionLeaves(c, conds);
  const leaves = conds.map(leafFromExpression);
  const seen = new Set<string>();
  for (const l of leaves) {
    if (seen.has(l.name)) throw validation('KeyConditionExpressions must only contain one condition per key');
    seen.add(l.name);
  }
  return { legacy, leaves };
}

/**
 * The names DynamoDB lists when attributes lack the equality they need: those without any
 * condition, or when every one has a condition, those whose condition is not '='.
 */
function lackingEquality(attrs: KeyAttribute[], byName: Map<string, Leaf>): string[] {
  const missing = attrs.filter((k) => !byName.has(k.name));
  return (missing.length ? missing : attrs.filter((k) => byName.get(k.name)!.op !== 'EQ')).map((k) => k.name);
}

/**
 * Extracts the key restriction of a Query on an index whose key has several attributes: '=' on
 * every HASH attribute, and on RANGE attributes from the left, the last one restricted may use
 * any key condition (<, BETWEEN, begins_with, ...). Messages are DynamoDB's.
 */
export function extractMultiKeyCondition(c: Condition, hashKeys: KeyAttribute[], rangeKeys: KeyAttribute[]): MultiKeyCondition {
  const { legacy, leaves } = keyLeaves(c);
  const byName = new Map<string, Leaf>();
  for (const l of leaves) {
    if (!hashKeys.some((k) => k.name === l.name) && !rangeKeys.some((k) => k.name === l.name)) throw validation(MSG_MISSED);
    byName.set(l.name, l);
  }
  const badHash = lackingEquality(hashKeys, byName);
  if (badHash.length) throw validation(`HASH key attributes ${badHash.join(', ')} must have equality conditions specified in the query`);
  let last = -1;
  rangeKeys.forEach((k, i) => {
    if (byName.has(k.name)) last = i;
  });
  if (last > 0) {
    const badRange = lackingEquality(rangeKeys.slice(0, last), byName);
    if (badRange.length) {
      throw validation(
        `RANGE key attributes ${badRange.join(', ')} must have equality conditions specified in the query because a condition is present on key attribute ${rangeKeys[last]!.name}`,
      );
    }
  }
  const range = last >= 0 ? byName.get(rangeKeys[last]!.name)! : undefined;
  if (range !== undefined && range.op === 'OTHER') {
    if (!legacy) throw validation(MSG_NOT_SUPPORTED);
    if (range.values.length === 0) throw validation('Only scalar types can be used as Range Key values');
    throw validation('Attempted conditional constraint is not an indexable operation');
  }
  for (const k of [...hashKeys, ...rangeKeys]) {
    for (const v of byName.get(k.name)?.values ?? []) if (typeOf(v) !== k.type) throw validation(MSG_TYPE);
  }
  return {
    hash: hashKeys.map((k) => byName.get(k.name)!.values[0]!),
    prefix: rangeKeys.slice(0, Math.max(last, 0)).map((k) => byName.get(k.name)!.values[0]!),
    ...(range ? { range: { op: range.op as RangeOp, values: range.values } } : {}),
  };
}

function conditionPaths(c: Condition, out: (string | number)[][]): void {
  const op = (o: Operand): void => {
    if (o.kind === 'path') out.push(o.path);
    else if (o.kind === 'size') op(o.arg);
  };
  switch (c.kind) {
    case 'and':
    case 'or':
      for (const x of c.conds) conditionPaths(x, out);
      return;
    case 'not':
      return conditionPaths(c.cond, out);
    case 'exists':
    case 'notExists':
      out.push(c.path);
      return;
    case 'compare':
      op(c.left);
      op(c.right);
      return;
    case 'between':
      op(c.value);
      op(c.low);
      op(c.high);
      return;
    case 'in':
      op(c.value);
      c.list.forEach(op);
      return;
    case 'attributeType':
      op(c.arg);
      return;
    case 'beginsWith':
      op(c.arg);
      op(c.prefix);
      return;
    case 'contains':
    case 'notContains':
      op(c.arg);
      op(c.value);
      return;
  }
}

/**
 * A Query's filter may not use the key attributes of the queried table/index. Call after
 * extractKeyCondition; legacy = the filter came from QueryFilter rather than FilterExpression.
 */
export function checkQueryFilterKeys(filter: Condition, schema: KeySchema | KeyAttribute[], legacy = false): void {
  const attrs = Array.isArray(schema) ? schema : [schema.hash, ...(schema.range ? [schema.range] : [])];
  const keys = new Set(attrs.map((k) => k.name));
  const paths: (string | number)[][] = [];
  conditionPaths(filter, paths);
  for (const p of paths) {
    const name = p[0] as string;
    if (!keys.has(name)) continue;
    if (legacy) throw validation(`QueryFilter can only contain non-primary key attributes: Primary key attribute: ${name}`);
    if (p.length > 1) {
      throw validation(`Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: ${name}`);
    }
    throw validation(`Filter Expression can only contain non-primary key attributes: Primary key attribute: ${name}`);
  }
}
