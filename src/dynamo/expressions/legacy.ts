// Legacy (pre-expression) request parameters converted into the same AST as expressions:
// Expected, QueryFilter/ScanFilter, KeyConditions, AttributeUpdates, AttributesToGet.
import type { AttributeType, AttributeValue } from '../types.js';
import { validation } from '../errors.js';
import { compareAttributeValues, normalizeAttributeValue, typeOf } from '../attribute-values.js';
import type { Condition, KeyConditions, Path, Update } from './ast.js';

const INVALID = 'One or more parameter values were invalid: ';

const OPERATORS = new Set([
  'EQ', 'NE', 'IN', 'LE', 'LT', 'GE', 'GT', 'BETWEEN', 'NOT_NULL', 'NULL', 'CONTAINS', 'NOT_CONTAINS', 'BEGINS_WITH',
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function argCount(op: string): [number, number] {
  switch (op) {
    case 'NULL':
    case 'NOT_NULL':
      return [0, 0];
    case 'BETWEEN':
      return [2, 2];
    case 'IN':
      return [1, Infinity];
    default:
      return [1, 1];
  }
}

/** Which value types each operator accepts (undefined = any). */
function allowedTypes(op: string): ReadonlySet<string> | undefined {
  switch (op) {
    case 'LT':
    case 'LE':
    case 'GT':
    case 'GE':
    case 'BETWEEN':
      return SCALAR_ORDERED;
    case 'BEGINS_WITH':
      return STRINGISH;
    case 'CONTAINS':
    case 'NOT_CONTAINS':
      return NOT_COLLECTION;
    case 'IN':
      return SCALAR_ORDERED;
    default:
      return undefined;
  }
}
const SCALAR_ORDERED: ReadonlySet<string> = new Set(['S', 'N', 'B']);
const STRINGISH: ReadonlySet<string> = new Set(['S', 'B']);
const NOT_COLLECTION: ReadonlySet<string> = new Set(['S', 'N', 'B', 'BOOL', 'NULL']);

function valueList(raw: unknown): AttributeValue[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw validation(`${INVALID}AttributeValueList must be a list`);
  return raw.map((v) => normalizeAttributeValue(v));
}

/** One ComparisonOperator + values applied to a top-level attribute, as an AST condition. */
export function legacyComparison(name: string, op: string, values: AttributeValue[]): Condition {
  if (!OPERATORS.has(op)) throw validation('Comparison type does not exist in DynamoDB');
  const [min, max] = argCount(op);
  if (values.length < min || values.length > max) throw validation(`${INVALID}Invalid number of argument(s) for the ${op} ComparisonOperator`);
  const allowed = allowedTypes(op);
  if (allowed) {
    for (const v of values) {
      const t = typeOf(v);
      if (!allowed.has(t)) throw validation(`${INVALID}ComparisonOperator ${op} is not valid for ${t} AttributeValue type`);
    }
  }
  if ((op === 'BETWEEN' || op === 'IN') && values.some((v) => typeOf(v) !== typeOf(values[0]!))) {
    throw validation(`${INVALID}AttributeValues inside AttributeValueList must be of same type`);
  }
  if (op === 'BETWEEN' && (compareAttributeValues(values[0]!, values[1]!) ?? 0) > 0) {
    throw validation('The BETWEEN condition was provided a range where the lower bound is greater than the upper bound');
  }
  const path: Path = [name];
  const arg = { kind: 'path', path } as const;
  const val = (i: number) => ({ kind: 'value', value: values[i]! }) as const;
  switch (op) {
    case 'EQ':
      return { kind: 'compare', op: '=', left: arg, right: val(0) };
    case 'NE':
      return { kind: 'compare', op: '<>', left: arg, right: val(0) };
    case 'LT':
      return { kind: 'compare', op: '<', left: arg, right: val(0) };
    case 'LE':
      return { kind: 'compare', op: '<=', left: arg, right: val(0) };
    case 'GT':
      return { kind: 'compare', op: '>', left: arg, right: val(0) };
    case 'GE':
      return { kind: 'compare', op: '>=', left: arg, right: val(0) };
    case 'BETWEEN':
      return { kind: 'between', value: arg, low: val(0), high: val(1) };
    case 'IN':
      return { kind: 'in', value: arg, list: values.map((_, i) => val(i)) };
    case 'NULL':
      return { kind: 'notExists', path };
    case 'NOT_NULL':
      return { kind: 'exists', path };
    case 'CONTAINS':
      return { kind: 'contains', arg, value: val(0) };
    case 'NOT_CONTAINS':
      return { kind: 'notContains', arg, value: val(0) };
    default:
      return { kind: 'beginsWith', arg, prefix: val(0) };
  }
}

function combine(conds: Condition[], operator: unknown): Condition {
  if (conds.length === 1) return conds[0]!;
  return operator === 'OR' ? { kind: 'or', conds } : { kind: 'and', conds };
}

function checkConditionalOperator(op: unknown, count: number): void {
  if (op === undefined || op === null) return;
  if (op !== 'AND' && op !== 'OR') {
    throw validation(`1 validation error detected: Value '${String(op)}' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]`);
  }
  if (count === 0) throw validation('ConditionalOperator cannot be used without Filter or Expected');
  if (count < 2) throw validation('ConditionalOperator can only be used when Filter or Expected has two or more elements');
}

/** Expected (+ ConditionalOperator) as a condition; undefined when Expected is absent/empty. */
export function convertExpected(expected: unknown, conditionalOperator: unknown): Condition | undefined {
  const entries = isObject(expected) ? Object.entries(expected) : [];
  const conds: Condition[] = [];
  for (const [name, raw] of entries) {
    const e = isObject(raw) ? raw : {};
    const hasValue = e.Value !== undefined && e.Value !== null;
    const hasList = e.AttributeValueList !== undefined && e.AttributeValueList !== null;
    const exists = e.Exists;
    const op = e.ComparisonOperator;
    if (hasValue && hasList) throw validation(`${INVALID}Value and AttributeValueList cannot be used together for Attribute: ${name}`);
    if (op !== undefined && op !== null) {
      if (exists !== undefined && exists !== null) throw validation(`${INVALID}Exists and ComparisonOperator cannot be used together for Attribute: ${name}`);
      const opName = String(op);
      if (!hasValue && !hasList && opName !== 'NULL' && opName !== 'NOT_NULL' && OPERATORS.has(opName)) {
        throw validation(`${INVALID}Value or AttributeValueList must be used with ComparisonOperator: ${opName} for Attribute: ${name}`);
      }
      const values = hasValue ? [normalizeAttributeValue(e.Value)] : valueList(e.AttributeValueList);
      conds.push(legacyComparison(name, opName, values));
      continue;
    }
    if (hasList) throw validation(`${INVALID}AttributeValueList can only be used with a ComparisonOperator for Attribute: ${name}`);
    if (exists === false) {
      if (hasValue) throw validation(`${INVALID}Value cannot be used when Exists is false for Attribute: ${name}`);
      conds.push({ kind: 'notExists', path: [name] });
      continue;
    }
    if (!hasValue) {
      const state = exists === true ? 'true' : 'null';
      throw validation(`${INVALID}Value must be provided when Exists is ${state} for Attribute: ${name}`);
    }
    conds.push({ kind: 'compare', op: '=', left: { kind: 'path', path: [name] }, right: { kind: 'value', value: normalizeAttributeValue(e.Value) } });
  }
  checkConditionalOperator(conditionalOperator, conds.length);
  return conds.length ? combine(conds, conditionalOperator) : undefined;
}

/** QueryFilter / ScanFilter (+ ConditionalOperator) as a condition. */
export function convertFilter(filter: unknown, conditionalOperator: unknown): Condition | undefined {
  const entries = isObject(filter) ? Object.entries(filter) : [];
  const conds: Condition[] = [];
  for (const [name, raw] of entries) {
    const e = isObject(raw) ? raw : {};
    const op = e.ComparisonOperator;
    if (typeof op !== 'string') throw validation('Comparison type does not exist in DynamoDB');
    conds.push(legacyComparison(name, op, valueList(e.AttributeValueList)));
  }
  checkConditionalOperator(conditionalOperator, conds.length);
  return conds.length ? combine(conds, conditionalOperator) : undefined;
}

/** KeyConditions, each checked as a comparison, by attribute name (their count is checked later). */
export function convertKeyConditions(keyConditions: unknown): KeyConditions {
  const out: KeyConditions = new Map();
  for (const [name, raw] of isObject(keyConditions) ? Object.entries(keyConditions) : []) {
    const e = isObject(raw) ? raw : {};
    const op = e.ComparisonOperator;
    if (typeof op !== 'string') throw validation('Comparison type does not exist in DynamoDB');
    const values = valueList(e.AttributeValueList);
    legacyComparison(name, op, values);
    out.set(name, { op, values });
  }
  return out;
}

/** AttributeUpdates as an Update (legacy semantics: ADD also appends lists). */
export function convertAttributeUpdates(updates: unknown): Update {
  const u: Update = { set: [], remove: [], add: [], delete: [], legacy: true };
  const entries = isObject(updates) ? Object.entries(updates) : [];
  for (const [name, raw] of entries) {
    const e = isObject(raw) ? raw : {};
    const action = e.Action === undefined || e.Action === null ? 'PUT' : e.Action;
    if (action !== 'PUT' && action !== 'ADD' && action !== 'DELETE') {
      throw validation(`1 validation error detected: Value '${String(action)}' at 'attributeUpdates.${name}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, DELETE, PUT]`);
    }
    const hasValue = e.Value !== undefined && e.Value !== null;
    if (!hasValue) {
      if (action !== 'DELETE') throw validation(`${INVALID}Only DELETE action is allowed when no attribute value is specified`);
      u.remove.push([name]);
      continue;
    }
    const value = normalizeAttributeValue(e.Value);
    const t = typeOf(value);
    if (action === 'PUT') u.set.push({ path: [name], value: { kind: 'value', value } });
    else if (action === 'ADD') {
      if (t !== 'N' && t !== 'SS' && t !== 'NS' && t !== 'BS' && t !== 'L') {
        throw validation(`${INVALID}ADD action is not supported for the type ${t}`);
      }
      u.add.push({ path: [name], value, legacy: true });
    } else {
      if (t !== 'SS' && t !== 'NS' && t !== 'BS') throw validation(`${INVALID}DELETE action with value is not supported for the type ${t}`);
      u.delete.push({ path: [name], value });
    }
  }
  return u;
}

/** AttributesToGet as projection paths. */
export function convertAttributesToGet(names: unknown): Path[] | undefined {
  if (!Array.isArray(names) || names.length === 0) return undefined;
  const seen = new Set<string>();
  for (const n of names) {
    if (typeof n !== 'string') throw validation(`${INVALID}AttributesToGet must contain strings`);
    if (seen.has(n)) throw validation(`${INVALID}Duplicate value in attribute name: ${n}`);
    seen.add(n);
  }
  return [...seen].map((n) => [n]);
}
