// Turns a parsed PartiQL statement into the request of the DynamoDB action that runs it
// (GetItem, Query, Scan, PutItem, UpdateItem, DeleteItem) with generated expressions, so that
// PartiQL shares those actions' behaviour, indexes and atomicity.
import { validation } from '../errors.js';
import { compareAttributeValues, typeOf } from '../attribute-values.js';
import { pathText } from '../expressions/index.js';
import type { AttributeValue, Item, KeySchema } from '../types.js';
import type { Path, PqDelete, PqExists, PqExpr, PqInsert, PqSelect, PqStatement, PqUpdate } from './ast.js';
import { bindValue } from './bind.js';

/** What translation needs to know of the table. */
export interface PqTable {
  name: string;
  key: KeySchema;
  /** composite: a GSI with more than one HASH or RANGE attribute (multi-attribute keys). */
  indexes: { name: string; key: KeySchema; composite?: boolean }[];
}

export interface PqOptions {
  params: readonly unknown[];
  consistentRead?: boolean;
  limit?: number;
  exclusiveStartKey?: Item;
  returnValuesOnConditionCheckFailure?: string;
  returnConsumedCapacity?: string;
}

/**
 * A Query per hash key value (`hash IN [...]`, `hash = a OR hash = b`): the request's value `ref`
 * takes each of `values` in turn, in key order, and `name` finds where a NextToken resumes. With
 * `sort` (`... AND sort IN [...]`), a Query per pair of values: per-key reads.
 */
export interface PqEachHash {
  name: string;
  ref: string;
  values: AttributeValue[];
  sort?: { name: string; ref: string; values: AttributeValue[] };
}

export type PqPlan =
  | { action: 'Query'; request: Record<string, unknown>; flatten?: Path[]; each?: PqEachHash }
  | { action: 'Scan'; request: Record<string, unknown>; flatten?: Path[] }
  | { action: 'GetItem'; request: Record<string, unknown>; flatten?: Path[] }
  | { action: 'PutItem' | 'UpdateItem' | 'DeleteItem'; request: Record<string, unknown> };

/** EXISTS as ExecuteTransaction runs it: a ConditionCheck. */
export type PqCheckPlan = { action: 'ConditionCheck'; request: Record<string, unknown> };

export const MSG_EXISTS_OUTSIDE_TRANSACTION = 'EXISTS can only be used in ExecuteTransaction write requests.';
export const MSG_EXISTS_SHAPE = 'EXISTS() must contain a single item read with additional condition';
export const MSG_INDEX_IN_TRANSACTION = 'Operations on indices are not supported in transactions';
export const MSG_UNSUPPORTED_IN_TRANSACTION = 'Unsupported operation in transaction.';

const MSG_MANDATORY_KEYS = 'Where clause does not contain a mandatory equality on all key attributes';
export const MSG_COMPOSITE_KEYS = 'PartiQL statements cannot be executed on tables with composite HASH keys or composite RANGE keys.';
const MSG_ORDER_BY_WITHOUT_WHERE = 'Must have WHERE clause in the statement when using ORDER BY clause.';

/** Generated ExpressionAttributeNames and ExpressionAttributeValues of one request. */
class Expressions {
  private readonly names = new Map<string, string>();
  private readonly values: Record<string, AttributeValue> = {};
  private valueCount = 0;

  constructor(private readonly params: readonly unknown[]) {}

  name(n: string): string {
    let ref = this.names.get(n);
    if (ref === undefined) {
      ref = `#n${this.names.size}`;
      this.names.set(n, ref);
    }
    return ref;
  }

  path(p: Path): string {
    let out = '';
    for (const e of p) out += typeof e === 'number' ? `[${e}]` : (out ? '.' : '') + this.name(e);
    return out;
  }

  value(v: AttributeValue): string {
    const ref = `:v${this.valueCount++}`;
    this.values[ref] = v;
    return ref;
  }

  bind(e: PqExpr & { kind: 'value' }): AttributeValue {
    return bindValue(e.value, this.params);
  }

  /** The request fields for the names and values used so far. */
  fields(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (this.names.size > 0) out.ExpressionAttributeNames = Object.fromEntries([...this.names].map(([n, ref]) => [ref, n]));
    if (this.valueCount > 0) out.ExpressionAttributeValues = this.values;
    return out;
  }

  // ---- conditions ----

  condition(e: PqExpr): string {
    switch (e.kind) {
      case 'compare':
        return `${this.operand(e.left)} ${e.op} ${this.operand(e.right)}`;
      case 'between':
        return `${this.operand(e.value)} BETWEEN ${this.operand(e.low)} AND ${this.operand(e.high)}`;
      case 'in':
        return `${this.operand(e.value)} IN (${e.list.map((x) => this.operand(x)).join(', ')})`;
      case 'and':
      case 'or':
        return `${this.nested(e.left)} ${e.kind.toUpperCase()} ${this.nested(e.right)}`;
      case 'not':
        return `NOT ${this.nested(e.expr)}`;
      case 'is': {
        const path = this.operand(e.expr);
        if (e.what === 'MISSING') return `${e.negated ? 'attribute_exists' : 'attribute_not_exists'}(${path})`;
        return `${e.negated ? 'NOT ' : ''}attribute_type(${path}, ${this.value({ S: 'NULL' })})`;
      }
      case 'call':
        return this.call(e, 'condition');
      case 'arith':
        throw validation(`Unsupported operator in Condition Expression. Operator: ${e.op}`);
      default:
        throw validation('Unsupported expression in the WHERE clause');
    }
  }

  /** A sub-condition inside AND/OR/NOT: parenthesised when compound, never twice. */
  private nested(e: PqExpr): string {
    const text = this.condition(e);
    return e.kind === 'and' || e.kind === 'or' || e.kind === 'not' ? `(${text})` : text;
  }

  private call(e: PqExpr & { kind: 'call' }, mode: OperandMode): string {
    const name = e.name.toLowerCase();
    if (!FUNCTIONS[mode].has(name)) throw validation(`Unrecognized function: ${e.name}`);
    return `${name}(${e.args.map((a) => this.operand(a, mode)).join(', ')})`;
  }

  /** An operand of a condition, or a SET value ('update': arithmetic and update functions). */
  operand(e: PqExpr, mode: OperandMode = 'condition'): string {
    switch (e.kind) {
      case 'path':
        return this.path(e.path);
      case 'value':
        return this.value(this.bind(e));
      case 'call':
        return this.call(e, mode);
      case 'arith':
        if (mode === 'condition') throw validation(`Unsupported operator in Condition Expression. Operator: ${e.op}`);
        return `${this.operand(e.left, mode)} ${e.op} ${this.operand(e.right, mode)}`;
      default:
        throw validation(`Unsupported expression in the ${mode === 'condition' ? 'WHERE' : 'SET'} clause`);
    }
  }
}

type OperandMode = 'condition' | 'update';

const FUNCTIONS: Record<OperandMode, ReadonlySet<string>> = {
  condition: new Set(['begins_with', 'contains', 'attribute_type', 'size', 'attribute_exists', 'attribute_not_exists']),
  update: new Set(['list_append', 'if_not_exists']),
};

// ---- WHERE analysis ---------------------------------------------------------------------------

function conjuncts(e: PqExpr | undefined): PqExpr[] {
  if (!e) return [];
  if (e.kind === 'and') return [...conjuncts(e.left), ...conjuncts(e.right)];
  return [e];
}

function isAttribute(e: PqExpr, name: string): boolean {
  return e.kind === 'path' && e.path.length === 1 && e.path[0] === name;
}

/** The value side of `name = value` (either way round), if the conjunct is one. */
function equalityOn(c: PqExpr, name: string): (PqExpr & { kind: 'value' }) | undefined {
  if (c.kind !== 'compare' || c.op !== '=') return undefined;
  if (isAttribute(c.left, name) && c.right.kind === 'value') return c.right;
  if (isAttribute(c.right, name) && c.left.kind === 'value') return c.left;
  return undefined;
}

/** DynamoDB's limit on the operands of one IN. */
const MAX_IN_OPERANDS = 100;

/** The values of `name IN [...]` or of `name = a OR name = b ...`, if the conjunct is one. */
function alternativesOn(c: PqExpr, name: string): (PqExpr & { kind: 'value' })[] | undefined {
  if (c.kind === 'in') {
    if (!isAttribute(c.value, name) || !c.list.every((v) => v.kind === 'value')) return undefined;
    if (c.list.length > MAX_IN_OPERANDS) throw validation(`The IN operator is provided with too many operands; number of operands: ${c.list.length}`);
    return c.list as (PqExpr & { kind: 'value' })[];
  }
  if (c.kind !== 'or') return undefined;
  const sides = [c.left, c.right].map((side) => (side.kind === 'or' ? alternativesOn(side, name) : equalityOn(side, name) && [equalityOn(side, name)!]));
  return sides[0] && sides[1] ? [...sides[0], ...sides[1]] : undefined;
}

/** A well-formed key value for a request that will not run (an IN without a usable value). */
const placeholder = (type: string) => ({ [type]: type === 'N' ? '0' : type === 'S' ? '-' : 'AA==' }) as AttributeValue;

/**
 * The distinct key values worth a read, in key order (as DynamoDB answers an IN): a value of
 * another type names no item; an empty one is refused as in an equality.
 */
function keyValues(values: AttributeValue[], key: KeySchema['hash']): AttributeValue[] {
  const usable = values.filter((v) => typeOf(v) === key.type).map((v) => checkedKeyValue(key.name, key.type, v));
  const sorted = usable.sort((a, b) => compareAttributeValues(a, b)!);
  return sorted.filter((v, i) => i === 0 || compareAttributeValues(v, sorted[i - 1]!) !== 0);
}

function mentions(e: PqExpr, name: string): boolean {
  switch (e.kind) {
    case 'path':
      return e.path[0] === name;
    case 'value':
      return false;
    case 'compare':
    case 'and':
    case 'or':
    case 'arith':
      return mentions(e.left, name) || mentions(e.right, name);
    case 'between':
      return mentions(e.value, name) || mentions(e.low, name) || mentions(e.high, name);
    case 'in':
      return mentions(e.value, name) || e.list.some((x) => mentions(x, name));
    case 'not':
    case 'is':
      return mentions(e.expr, name);
    case 'call':
      return e.args.some((x) => mentions(x, name));
  }
}

function and(parts: string[]): string | undefined {
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : parts.map((p) => `(${p})`).join(' AND ');
}

function keyAttributes(key: KeySchema) {
  return key.range ? [key.hash, key.range] : [key.hash];
}

/** A key value bound and checked against the key's type, with DynamoDB's PartiQL messages. */
function checkedKeyValue(name: string, type: string, v: AttributeValue): AttributeValue {
  if (typeOf(v) !== type) throw validation(`Key attribute's data type should match its data type in table's schema: Key ${name}`);
  if ((type === 'S' && (v as { S: string }).S === '') || (type === 'B' && (v as { B: string }).B === '')) {
    throw validation(
      `One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty ${type === 'S' ? 'string' : 'binary'} value. Key: ${name}`,
    );
  }
  return v;
}

/** UPDATE and DELETE name exactly one item: one equality per key attribute, the rest a condition. */
function singleItemWhere(table: PqTable, where: PqExpr | undefined, x: Expressions): { key: Item; rest: PqExpr[] } {
  const all = conjuncts(where);
  const key: Item = {};
  const used = new Set<PqExpr>();
  for (const k of keyAttributes(table.key)) {
    const matches = all.filter((c) => equalityOn(c, k.name));
    if (matches.length === 0) throw validation(MSG_MANDATORY_KEYS);
    if (matches.length > 1) throw validation(`Multiple conditions on same key ${k.name}. Only single item Update/Insert/Delete are supported`);
    used.add(matches[0]!);
    key[k.name] = checkedKeyValue(k.name, k.type, x.bind(equalityOn(matches[0]!, k.name)!));
  }
  return { key, rest: all.filter((c) => !used.has(c)) };
}

// ---- statements -------------------------------------------------------------------------------

function targetKey(table: PqTable, index: string | undefined): KeySchema {
  if (index === undefined) return table.key;
  const found = table.indexes.find((i) => i.name === index);
  if (!found) throw validation(`The table does not have the specified index: ${index}`);
  return found.key;
}

function projection(table: PqTable, paths: Path[] | undefined, x: Expressions): { text?: string; flatten?: Path[] } {
  if (!paths) return {};
  for (const p of paths) {
    if (p.length > 1 && keyAttributes(table.key).some((k) => k.name === p[0])) {
      throw validation(`Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: ${p[0]}`);
    }
  }
  for (let j = 1; j < paths.length; j++) {
    for (let i = 0; i < j; i++) {
      const [a, b] = [paths[i]!, paths[j]!];
      const n = Math.min(a.length, b.length);
      if (a.slice(0, n).every((e, k) => e === b[k])) {
        throw validation(`Two document paths overlap with each other; must remove or rewrite one of these paths; path one: ${pathText(b)}, path two: ${pathText(a)}`);
      }
    }
  }
  if (!paths.some((p) => p.length > 1)) return { text: paths.map((p) => x.path(p)).join(', ') };
  // Nested paths are read whole (their top-level attributes) and picked out after the read, as a
  // projected list would lose its element positions.
  const roots = [...new Set(paths.map((p) => p[0] as string))];
  return { text: roots.map((r) => x.name(r)).join(', '), flatten: paths };
}

/** A sort key condition usable in a KeyConditionExpression, if the conjunct is one. */
function sortKeyCondition(c: PqExpr, name: string): boolean {
  if (c.kind === 'compare' && c.op !== '<>') {
    return (isAttribute(c.left, name) && c.right.kind === 'value') || (isAttribute(c.right, name) && c.left.kind === 'value');
  }
  if (c.kind === 'between') return isAttribute(c.value, name) && c.low.kind === 'value' && c.high.kind === 'value';
  if (c.kind === 'call' && c.name.toLowerCase() === 'begins_with') {
    return c.args.length === 2 && isAttribute(c.args[0]!, name) && c.args[1]!.kind === 'value';
  }
  return false;
}

function translateSelect(s: PqSelect, table: PqTable, o: PqOptions, x: Expressions): PqPlan {
  const key = targetKey(table, s.index);
  // DynamoDB Local 3.3.1 refuses every statement on an index with a multi-attribute key, whatever
  // its WHERE, after only the ORDER BY check below (no DynamoDB document says PartiQL reads them).
  if (table.indexes.find((i) => i.name === s.index)?.composite) {
    if (s.orderBy && !s.where) throw validation(MSG_ORDER_BY_WITHOUT_WHERE);
    throw validation(MSG_COMPOSITE_KEYS);
  }
  const all = conjuncts(s.where);
  const hashEq = all.find((c) => equalityOn(c, key.hash.name));
  const hashIn = hashEq ? undefined : all.find((c) => alternativesOn(c, key.hash.name));
  const hashCond = hashEq ?? hashIn;
  if (s.orderBy) {
    if (!s.where) throw validation(MSG_ORDER_BY_WITHOUT_WHERE);
    for (const item of s.orderBy) {
      const name = item.path[0];
      if (item.path.length !== 1 || !keyAttributes(key).some((k) => k.name === name)) {
        throw validation(`Variable reference ${String(name)} in ORDER BY clause must be part of the primary key`);
      }
    }
    if (!hashCond) throw validation('Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause.');
  }
  const proj = projection(table, s.projection, x);
  const request: Record<string, unknown> = { TableName: table.name };
  if (s.index !== undefined) request.IndexName = s.index;
  if (o.consistentRead !== undefined) request.ConsistentRead = o.consistentRead;
  if (o.limit !== undefined) request.Limit = o.limit;
  if (o.exclusiveStartKey) request.ExclusiveStartKey = o.exclusiveStartKey;
  if (o.returnConsumedCapacity !== undefined) request.ReturnConsumedCapacity = o.returnConsumedCapacity;
  if (proj.text) request.ProjectionExpression = proj.text;

  let rangeCond = hashCond && key.range ? all.find((c) => c !== hashCond && sortKeyCondition(c, key.range!.name)) : undefined;
  // `sort IN [...]` (or `sort = a OR sort = b`) beside the hash condition: one read per key.
  const rangeIn = hashCond && key.range && !rangeCond ? all.find((c) => c !== hashCond && alternativesOn(c, key.range!.name)) : undefined;
  rangeCond ??= rangeIn;
  const rest = all.filter((c) => c !== hashCond && c !== rangeCond);
  // A Query's filter may not name key attributes: such statements scan with the whole WHERE.
  const queryable = hashCond && !rest.some((c) => keyAttributes(key).some((k) => mentions(c, k.name)));
  if (queryable) {
    let each: PqEachHash | undefined;
    let hashValue: AttributeValue;
    if (hashEq && !rangeIn) hashValue = checkedKeyValue(key.hash.name, key.hash.type, x.bind(equalityOn(hashEq, key.hash.name)!));
    else {
      // One Query per value, not a Scan: the request is written for the first and run for each.
      const values = hashEq
        ? [checkedKeyValue(key.hash.name, key.hash.type, x.bind(equalityOn(hashEq, key.hash.name)!))]
        : keyValues(alternativesOn(hashIn!, key.hash.name)!.map((v) => x.bind(v)), key.hash);
      hashValue = values[0] ?? placeholder(key.hash.type);
      each = { name: key.hash.name, ref: '', values };
    }
    const hashRef = x.value(hashValue);
    if (each) each.ref = hashRef;
    const keyParts = [`${x.name(key.hash.name)} = ${hashRef}`];
    if (rangeIn) {
      const values = keyValues(alternativesOn(rangeIn, key.range!.name)!.map((v) => x.bind(v)), key.range!);
      const ref = x.value(values[0] ?? placeholder(key.range!.type));
      each!.sort = { name: key.range!.name, ref, values };
      keyParts.push(`${x.name(key.range!.name)} = ${ref}`);
    } else if (rangeCond) keyParts.push(x.condition(rangeCond));
    request.KeyConditionExpression = keyParts.join(' AND ');
    const filter = and(rest.map((c) => x.condition(c)));
    if (filter) request.FilterExpression = filter;
    const sortItem = s.orderBy?.find((i) => i.path[0] === key.range?.name) ?? s.orderBy?.[0];
    if (sortItem?.descending) request.ScanIndexForward = false;
    Object.assign(request, x.fields());
    return { action: 'Query', request, ...(proj.flatten ? { flatten: proj.flatten } : {}), ...(each ? { each } : {}) };
  }
  if (s.where) request.FilterExpression = x.condition(s.where);
  Object.assign(request, x.fields());
  return { action: 'Scan', request, ...(proj.flatten ? { flatten: proj.flatten } : {}) };
}

function translateInsert(s: PqInsert, table: PqTable, o: PqOptions, x: Expressions): PqPlan {
  const bound = bindValue(s.item, o.params);
  if (!('M' in bound)) throw validation('Unsupported data type: the value of INSERT must be a tuple');
  const item = bound.M;
  for (const k of keyAttributes(table.key)) {
    const v = item[k.name];
    if (v === undefined) throw validation(`Key attribute should be present in the item: Key ${k.name}`);
    checkedKeyValue(k.name, k.type, v);
  }
  const request: Record<string, unknown> = {
    TableName: table.name,
    Item: item,
    ConditionExpression: `attribute_not_exists(${x.name(table.key.hash.name)})`,
    ...x.fields(),
  };
  if (o.returnConsumedCapacity !== undefined) request.ReturnConsumedCapacity = o.returnConsumedCapacity;
  return { action: 'PutItem', request };
}

function writeRequest(table: PqTable, key: Item, o: PqOptions, returning: string | undefined): Record<string, unknown> {
  const request: Record<string, unknown> = { TableName: table.name, Key: key };
  if (returning) request.ReturnValues = returning;
  if (o.returnValuesOnConditionCheckFailure !== undefined) request.ReturnValuesOnConditionCheckFailure = o.returnValuesOnConditionCheckFailure;
  if (o.returnConsumedCapacity !== undefined) request.ReturnConsumedCapacity = o.returnConsumedCapacity;
  return request;
}

function translateUpdate(s: PqUpdate, table: PqTable, o: PqOptions, x: Expressions): PqPlan {
  const { key, rest } = singleItemWhere(table, s.where, x);
  const sections: Record<'SET' | 'REMOVE' | 'ADD' | 'DELETE', string[]> = { SET: [], REMOVE: [], ADD: [], DELETE: [] };
  for (const a of s.actions) {
    const path = x.path(a.path);
    if (a.kind === 'remove') {
      sections.REMOVE.push(path);
      continue;
    }
    const fn = a.value.kind === 'call' ? a.value.name.toLowerCase() : undefined;
    if (fn === 'set_add' || fn === 'set_delete') {
      // set_add(path, <<...>>) and set_delete(path, <<...>>) are UpdateItem's ADD and DELETE.
      const arg = (a.value as PqExpr & { kind: 'call' }).args[1];
      if (!arg || arg.kind !== 'value') throw validation(`Invalid arguments to function ${fn}`);
      sections[fn === 'set_add' ? 'ADD' : 'DELETE'].push(`${path} ${x.value(x.bind(arg))}`);
    } else sections.SET.push(`${path} = ${x.operand(a.value, 'update')}`);
  }
  const update = (Object.keys(sections) as (keyof typeof sections)[])
    .filter((k) => sections[k].length > 0)
    .map((k) => `${k} ${sections[k].join(', ')}`)
    .join(' ');
  // UPDATE only changes an item that exists.
  const condition = and([`attribute_exists(${x.name(table.key.hash.name)})`, ...rest.map((c) => x.condition(c))]);
  const request = writeRequest(table, key, o, s.returning);
  Object.assign(request, { UpdateExpression: update, ConditionExpression: condition }, x.fields());
  return { action: 'UpdateItem', request };
}

function translateDelete(s: PqDelete, table: PqTable, o: PqOptions, x: Expressions): PqPlan {
  const { key, rest } = singleItemWhere(table, s.where, x);
  const request = writeRequest(table, key, o, s.returning);
  const condition = and(rest.map((c) => x.condition(c)));
  if (condition) request.ConditionExpression = condition;
  Object.assign(request, x.fields());
  return { action: 'DeleteItem', request };
}

export function translateStatement(s: PqStatement, table: PqTable, o: PqOptions): PqPlan {
  const x = new Expressions(o.params);
  switch (s.kind) {
    case 'select':
      return translateSelect(s, table, o, x);
    case 'insert':
      return translateInsert(s, table, o, x);
    case 'update':
      return translateUpdate(s, table, o, x);
    case 'delete':
      return translateDelete(s, table, o, x);
    case 'exists':
      throw validation(MSG_EXISTS_OUTSIDE_TRANSACTION);
  }
}

/**
 * EXISTS(SELECT * FROM t WHERE <full key> AND <condition>): the item must exist and meet the
 * condition. As DynamoDB does, the first equality on each key attribute names the item and every
 * other conjunct (even one on a key attribute) is the condition; the projection and ORDER BY are
 * ignored, and so is ReturnValuesOnConditionCheckFailure (DynamoDB Local returns no item).
 */
export function translateExists(s: PqExists, table: PqTable, o: PqOptions): PqCheckPlan {
  if (!s.supported) throw validation(MSG_UNSUPPORTED_IN_TRANSACTION);
  if (s.select.index !== undefined) throw validation(MSG_INDEX_IN_TRANSACTION);
  const x = new Expressions(o.params);
  const all = conjuncts(s.select.where);
  const keyConjuncts = new Set<PqExpr>();
  const key: Item = {};
  for (const k of keyAttributes(table.key)) {
    const eq = all.find((c) => !keyConjuncts.has(c) && equalityOn(c, k.name));
    if (!eq) throw validation(MSG_EXISTS_SHAPE);
    keyConjuncts.add(eq);
    key[k.name] = checkedKeyValue(k.name, k.type, x.bind(equalityOn(eq, k.name)!));
  }
  const rest = all.filter((c) => !keyConjuncts.has(c));
  if (rest.length === 0) throw validation(MSG_EXISTS_SHAPE);
  const condition = and([`attribute_exists(${x.name(table.key.hash.name)})`, ...rest.map((c) => x.condition(c))])!;
  return { action: 'ConditionCheck', request: { TableName: table.name, Key: key, ConditionExpression: condition, ...x.fields() } };
}

/**
 * A batch read must name one item by its full key and nothing else, and becomes a GetItem.
 * (DynamoDB reads batches with BatchGetItem.)
 */
export function translateBatchRead(s: PqSelect, table: PqTable, o: PqOptions): PqPlan {
  const x = new Expressions(o.params);
  const all = conjuncts(s.where);
  const key: Item = {};
  for (const k of keyAttributes(table.key)) {
    const eq = all.find((c) => equalityOn(c, k.name));
    if (!eq) throw validation('Only single item select is supported');
    key[k.name] = checkedKeyValue(k.name, k.type, x.bind(equalityOn(eq, k.name)!));
  }
  if (all.length !== keyAttributes(table.key).length) throw validation('Only single item select is supported');
  const proj = projection(table, s.projection, x);
  const request: Record<string, unknown> = { TableName: table.name, Key: key };
  if (proj.text) request.ProjectionExpression = proj.text;
  if (o.consistentRead !== undefined) request.ConsistentRead = o.consistentRead;
  if (o.returnConsumedCapacity !== undefined) request.ReturnConsumedCapacity = o.returnConsumedCapacity;
  Object.assign(request, x.fields());
  return { action: 'GetItem', request, ...(proj.flatten ? { flatten: proj.flatten } : {}) };
}

/** DynamoDB's PartiQL result for a nested projection: each path under its last name, e.g. "m[1]". */
export function flattenedName(p: Path): string {
  let i = p.length - 1;
  while (typeof p[i] === 'number') i--;
  return String(p[i]) + p.slice(i + 1).map((n) => `[${n}]`).join('');
}
