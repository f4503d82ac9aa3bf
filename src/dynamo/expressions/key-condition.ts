// Turning a compiled KeyConditionExpression (or converted KeyConditions) into the hash value and
// optional range restriction a Query needs, with DynamoDB's messages for what keys can't do.
import type { AttributeValue, KeyAttribute, KeySchema } from '../types.js';
import { validation } from '../errors.js';
import { typeOf } from '../attribute-values.js';
import type { Condition, KeyConditions, Operand } from './ast.js';

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
export const MSG_CONDITION_COUNT = 'Conditions can be of length 1 or 2 only';
const MSG_NOT_SUPPORTED = 'Query key condition not supported';
const MSG_TYPE = 'One or more parameter values were invalid: Condition parameter type does not match schema type';
const MSG_NOT_INDEXABLE = 'Attempted conditional constraint is not an indexable operation';
const NOT_INDEXABLE = new Set(['NULL', 'NOT_NULL', 'NE', 'CONTAINS', 'NOT_CONTAINS', 'IN']);


const invalidOperator = (op: string) => validation(`Invalid operator used in KeyConditionExpression: ${op}`);
const notFirst = (op: string) => validation(`Invalid condition in KeyConditionExpression: ${op} operator must have the key attribute as its first operand`);
const FLIP: Record<string, string> = { '=': 'EQ', '<': 'GT', '<=': 'GE', '>': 'LT', '>=': 'LE' };
const DIRECT: Record<string, string> = { '=': 'EQ', '<': 'LT', '<=': 'LE', '>': 'GT', '>=': 'GE' };

/** Walks a KeyConditionExpression depth first, left to right, as DynamoDB checks it. */
function walk(c: Condition, out: KeyConditions): void {
  let operands: Operand[];
  switch (c.kind) {
    case 'and':
      for (const x of c.conds) walk(x, out);
      return;
    case 'or':
      throw invalidOperator('OR');
    case 'not':
      throw invalidOperator('NOT');
    case 'in':
      throw invalidOperator('IN');
    case 'exists':
      throw invalidOperator('attribute_exists');
    case 'notExists':
      throw invalidOperator('attribute_not_exists');
    case 'attributeType':
      throw invalidOperator('attribute_type');
    case 'contains':
    case 'notContains':
      throw invalidOperator('contains');
    case 'compare':
      if (c.op === '<>') throw invalidOperator('<>');
      operands = [c.left, c.right];
      break;
    case 'between':
      if (c.value.kind !== 'path') throw notFirst('BETWEEN');
      operands = [c.value, c.low, c.high];
      break;
    case 'beginsWith':
      if (c.arg.kind !== 'path') throw notFirst('begins_with');
      operands = [c.arg, c.prefix];
      break;
  }
  let name: string | undefined;
  let at = 0;
  operands.forEach((o, i) => {
    if (o.kind === 'size') throw validation('KeyConditionExpressions cannot contain nested operations');
    if (o.kind !== 'path') return;
    if (name !== undefined) throw validation('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
    if (o.path.length > 1) {
      // A lone nested path is refused as a key that is not a scalar (DynamoDB Local); beside another
      // path, as a nested condition (dynalite's recordings of DynamoDB).
      if (operands.filter((x) => x.kind === 'path').length === 1) {
        throw validation(`Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: ${String(o.path[0])}`);
      }
      throw validation('KeyConditionExpressions cannot have conditions on nested attributes');
    }
    name = o.path[0] as string;
    at = i;
  });
  if (name === undefined) throw validation('Invalid condition in KeyConditionExpression: No key attribute specified');
  if (out.has(name)) throw validation('KeyConditionExpressions must only contain one condition per key');
  const values = operands.filter((_, i) => i !== at).map((o) => (o as { value: AttributeValue }).value);
  const op = c.kind === 'compare' ? (at === 0 ? DIRECT : FLIP)[c.op]! : c.kind === 'between' ? 'BETWEEN' : 'BEGINS_WITH';
  out.set(name, { op, values });
}

/**
 * The key conditions of a KeyConditionExpression, with DynamoDB's checks of its structure (which
 * need no table): only AND, comparisons, BETWEEN and begins_with on top-level attributes.
 */
export function keyConditionsOfExpression(c: Condition): KeyConditions {
  const out: KeyConditions = new Map();
  walk(c, out);
  return out;
}

/**
 * A Query has one or two key conditions (checked before the table is looked up), except on an
 * index, whose key may have up to 4 HASH and 4 RANGE attributes: there the index's own rules apply
 * once it is known.
 */
export function checkKeyConditionCount(conds: KeyConditions, onIndex: boolean): void {
  if (conds.size === 0 || conds.size > (onIndex ? 8 : 2)) throw validation(MSG_CONDITION_COUNT);
}

/**
 * Checks the key conditions against the queried key schema, key attribute by key attribute, and
 * returns the hash value and range restriction. `visit` runs first for each key attribute (the
 * start key's checks interleave with these in DynamoDB).
 */
export function extractKeyCondition(conds: KeyConditions, schema: KeySchema, visit?: (k: KeyAttribute, isHash: boolean) => void): KeyCondition {
  for (const [k, isHash] of [[schema.hash, true], [schema.range, false]] as const) {
    if (!k) continue;
    visit?.(k, isHash);
    if (isHash && !schema.range && conds.size > 1) throw validation(MSG_NOT_SUPPORTED);
    const c = conds.get(k.name);
    if (!c) {
      if (isHash || conds.size > 1) throw validation(`${MSG_MISSED}: ${k.name}`);
      continue;
    }
    if (NOT_INDEXABLE.has(c.op)) throw validation(MSG_NOT_INDEXABLE);
    if (c.values.some((v) => typeOf(v) !== k.type)) throw validation(MSG_TYPE);
    if (isHash && c.op !== 'EQ') throw validation(MSG_NOT_SUPPORTED);
  }
  const hash = conds.get(schema.hash.name)!.values[0]!;
  const range = schema.range && conds.get(schema.range.name);
  return range ? { hash, range: { op: range.op as RangeOp, values: range.values } } : { hash };
}

/**
 * The names DynamoDB lists when attributes lack the equality they need: those without any
 * condition, or when every one has a condition, those whose condition is not '='.
 */
function lackingEquality(attrs: KeyAttribute[], byName: KeyConditions): string[] {
  const missing = attrs.filter((k) => !byName.has(k.name));
  return (missing.length ? missing : attrs.filter((k) => byName.get(k.name)!.op !== 'EQ')).map((k) => k.name);
}

/**
 * Extracts the key restriction of a Query on an index whose key has several attributes: '=' on
 * every HASH attribute, and on RANGE attributes from the left, the last one restricted may use
 * any key condition (<, BETWEEN, begins_with, ...). Messages are DynamoDB's.
 */
export function extractMultiKeyCondition(
  byName: KeyConditions,
  hashKeys: KeyAttribute[],
  rangeKeys: KeyAttribute[],
  visit?: (k: KeyAttribute, isHash: boolean) => void,
): MultiKeyCondition {
  for (const k of hashKeys) visit?.(k, true);
  for (const k of rangeKeys) visit?.(k, false);
  for (const name of byName.keys()) {
    if (!hashKeys.some((k) => k.name === name) && !rangeKeys.some((k) => k.name === name)) throw validation(MSG_MISSED);
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
  if (range !== undefined && NOT_INDEXABLE.has(range.op)) throw validation(MSG_NOT_INDEXABLE);
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

/** Every document path a condition reads. */
export function conditionPathList(c: Condition): (string | number)[][] {
  const paths: (string | number)[][] = [];
  conditionPaths(c, paths);
  return paths;
}

/**
 * A Query's filter may not read the key attributes of the queried table or index, not even inside
 * them. legacy = the filter came from QueryFilter rather than FilterExpression.
 */
export function checkQueryFilterKeys(filter: Condition, schema: KeySchema | KeyAttribute[], legacy = false): void {
  const keys = Array.isArray(schema) ? schema : [schema.hash, ...(schema.range ? [schema.range] : [])];
  const heads = new Set(conditionPathList(filter).map((p) => p[0]));
  for (const { name } of keys) {
    if (heads.has(name)) throw validation(`${legacy ? 'QueryFilter' : 'Filter Expression'} can only contain non-primary key attributes: Primary key attribute: ${name}`);
  }
}
