// Compiles all expressions (and legacy parameters) of one request into plain ASTs, once.
import type { AttributeValue } from '../types.js';
import { serialization, validation } from '../errors.js';
import { normalizeExpressionValue } from '../attribute-values.js';
import type { CompiledExpressions } from './ast.js';
import { checkKeyConditionCount, keyConditionsOfExpression } from './key-condition.js';
import {
  compileConditionExpression,
  compileProjectionExpression,
  compileUpdateExpression,
  type ExpressionContext,
  type ExpressionLabel,
} from './parser.js';
import {
  convertAttributesToGet,
  convertAttributeUpdates,
  convertExpected,
  convertFilter,
  convertKeyConditions,
} from './legacy.js';

export type { CompiledExpressions, KeyConditions, Condition, Operand, Path, Update, UpdateValue, SetAction, AddAction, DeleteAction } from './ast.js';
export { evaluateCondition, projectItem, getPath } from './evaluate.js';
export { applyUpdate, blindUpdate, staticUpdateType, updatePathList, updateTouchesAttribute, updatedAttributes } from './update.js';
export {
  extractKeyCondition,
  extractMultiKeyCondition,
  MSG_CONDITION_COUNT,
  checkQueryFilterKeys,
  conditionPathList,
  type KeyCondition,
  type MultiKeyCondition,
  type RangeOp,
} from './key-condition.js';
export { pathText } from './parser.js';
export { convertAttributesToGet, convertFilter } from './legacy.js';

export type ExpressionAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query' | 'Scan' | 'BatchGetItem';

interface ActionParams {
  /** Expression parameters, in the order DynamoDB lists them in the "mixed" message. */
  expr: string[];
  /** Legacy parameters, same. */
  legacy: string[];
  /** Expressions that may use :values (undefined = ExpressionAttributeValues is ignored). */
  valueExprs?: string[];
}

const PARAMS: Record<ExpressionAction, ActionParams> = {
  GetItem: { expr: ['ProjectionExpression'], legacy: ['AttributesToGet'] },
  BatchGetItem: { expr: ['ProjectionExpression'], legacy: ['AttributesToGet'] },
  PutItem: { expr: ['ConditionExpression'], legacy: ['Expected', 'ConditionalOperator'], valueExprs: ['ConditionExpression'] },
  DeleteItem: { expr: ['ConditionExpression'], legacy: ['Expected', 'ConditionalOperator'], valueExprs: ['ConditionExpression'] },
  UpdateItem: {
    expr: ['UpdateExpression', 'ConditionExpression'],
    legacy: ['AttributeUpdates', 'Expected', 'ConditionalOperator'],
    valueExprs: ['UpdateExpression', 'ConditionExpression'],
  },
  Query: {
    expr: ['ProjectionExpression', 'FilterExpression', 'KeyConditionExpression'],
    legacy: ['AttributesToGet', 'QueryFilter', 'ConditionalOperator', 'KeyConditions'],
    valueExprs: ['FilterExpression', 'KeyConditionExpression'],
  },
  Scan: {
    expr: ['ProjectionExpression', 'FilterExpression'],
    legacy: ['AttributesToGet', 'ScanFilter', 'ConditionalOperator'],
    valueExprs: ['FilterExpression'],
  },
};

const MAX_EXPRESSION_BYTES = 4096;
const NAME_KEY = /^#[A-Za-z0-9_]+$/;
const VALUE_KEY = /^:[A-Za-z0-9_]+$/;

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function expressionText(req: Record<string, unknown>, key: string): string | undefined {
  const v = req[key];
  if (!present(v)) return undefined;
  if (typeof v !== 'string') {
    if (typeof v === 'object') throw serialization('Start of structure or map found where not expected.');
    throw serialization(`${typeof v === 'number' ? 'NUMBER_VALUE' : 'TRUE_VALUE'} cannot be converted to String`);
  }
  const size = Buffer.byteLength(v, 'utf8');
  if (size > MAX_EXPRESSION_BYTES) {
    throw validation(`Invalid ${key}: Expression size has exceeded the maximum allowed size; expression size: ${size}`);
  }
  return v;
}

function checkMixing(req: Record<string, unknown>, p: ActionParams): void {
  const expr = p.expr.filter((k) => present(req[k]));
  // DynamoDB accepts KeyConditions alongside the other expressions, but not with
  // KeyConditionExpression (and names it only then).
  const keyExpression = expr.includes('KeyConditionExpression');
  const legacy = p.legacy.filter((k) => present(req[k]) && (keyExpression || k !== 'KeyConditions'));
  if (expr.length === 0 || legacy.length === 0) return;
  throw validation(
    `Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {${legacy.join(', ')}} Expression parameters: {${expr.join(', ')}}`,
  );
}

/**
 * DynamoDB lists unused keys in the iteration order of a java.util.HashMap holding all keys
 * (inserted in request order): by hash bucket, then insertion order. The table starts at 16
 * buckets and doubles when more than 3/4 full, or when a bucket reaches 9 entries while the
 * table is smaller than 64. Reproduced here so the messages match exactly.
 */
function javaHashOrder(all: string[], unused: string[]): string[] {
  const hashes = all.map((s) => {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
    return h ^ (h >>> 16);
  });
  let cap = 16;
  let counts = new Map<number, number>();
  const recount = (n: number) => {
    counts = new Map();
    for (let i = 0; i < n; i++) {
      const b = hashes[i]! & (cap - 1);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
  };
  for (let i = 0; i < all.length; i++) {
    const b = hashes[i]! & (cap - 1);
    const c = (counts.get(b) ?? 0) + 1;
    counts.set(b, c);
    if (c >= 9 && cap < 64) {
      cap *= 2;
      recount(i + 1);
    }
    if (i + 1 > cap * 0.75) {
      cap *= 2;
      recount(i + 1);
    }
  }
  const pos = new Map(all.map((k, i) => [k, i]));
  return unused
    .map((k) => ({ k, i: pos.get(k)!, b: hashes[pos.get(k)!]! & (cap - 1) }))
    .sort((x, y) => x.b - y.b || x.i - y.i)
    .map((x) => x.k);
}

function nullText(keys: string[]): string {
  return keys.length === 1 ? `${keys[0]} is null` : `${keys.slice(0, -1).join(', ')} and ${keys[keys.length - 1]} are null`;
}

/**
 * DynamoDB's first semantic check of a request: expression and legacy parameters are not mixed,
 * and ExpressionAttributeNames/Values come only with expressions that can use them.
 */
export function checkExpressionParameters(req: Record<string, unknown>, action: ExpressionAction): void {
  const p = PARAMS[action];
  checkMixing(req, p);
  const anyExpr = p.expr.some((k) => present(req[k]));
  if (present(req.ExpressionAttributeNames) && !anyExpr) throw validation('ExpressionAttributeNames can only be specified when using expressions');
  if (p.valueExprs && present(req.ExpressionAttributeValues) && !p.valueExprs.some((k) => present(req[k]))) {
    throw validation(`ExpressionAttributeValues can only be specified when using expressions: ${nullText(p.valueExprs)}`);
  }
}

/**
 * Reads every expression and legacy parameter of a request, validates them with DynamoDB's
 * messages (including unused ExpressionAttributeNames/Values across all expressions) and returns
 * the compiled ASTs. For BatchGetItem pass one KeysAndAttributes object as req.
 */
export function compileRequestExpressions(req: Record<string, unknown>, action: ExpressionAction): CompiledExpressions {
  const p = PARAMS[action];
  checkExpressionParameters(req, action);
  const rawNames = req.ExpressionAttributeNames;
  const rawValues = p.valueExprs ? req.ExpressionAttributeValues : undefined;

  let names: Record<string, string> | undefined;
  if (present(rawNames)) {
    if (!isObject(rawNames)) throw serialization('Expected map or null');
    const keys = Object.keys(rawNames);
    if (keys.length === 0) throw validation('ExpressionAttributeNames must not be empty');
    names = {};
    for (const k of keys) {
      if (!NAME_KEY.test(k)) throw validation(`ExpressionAttributeNames contains invalid key: Syntax error; key: "${k}"`);
      const v = rawNames[k];
      if (typeof v !== 'string') throw serialization(`${v === null ? 'null' : typeof v === 'number' ? 'NUMBER_VALUE' : 'STRUCTURE'} cannot be converted to String`);
      if (v.length === 0) throw validation(`ExpressionAttributeNames contains invalid value: Empty attribute name for key ${k}`);
      names[k] = v;
    }
  }
  let values: Record<string, AttributeValue> | undefined;
  if (present(rawValues)) {
    if (!isObject(rawValues)) throw serialization('Expected map or null');
    const keys = Object.keys(rawValues);
    if (keys.length === 0) throw validation('ExpressionAttributeValues must not be empty');
    values = {};
    // Every key is checked before any value, as DynamoDB does.
    for (const k of keys) if (!VALUE_KEY.test(k)) throw validation(`ExpressionAttributeValues contains invalid key: Syntax error; key: "${k}"`);
    for (const k of keys) values[k] = normalizeExpressionValue(rawValues[k], k);
  }

  const ctx: ExpressionContext = { names, values, usedNames: new Set(), usedValues: new Set() };
  const out: CompiledExpressions = {};

  const update = expressionText(req, 'UpdateExpression');
  if (action === 'UpdateItem' && update !== undefined) out.update = compileUpdateExpression(update, ctx);
  const cond = expressionText(req, 'ConditionExpression');
  if ((action === 'PutItem' || action === 'DeleteItem' || action === 'UpdateItem') && cond !== undefined) {
    out.condition = compileConditionExpression(cond, 'ConditionExpression', ctx);
  }
  // DynamoDB validates a Query's KeyConditionExpression, then FilterExpression, then ProjectionExpression.
  const kce = expressionText(req, 'KeyConditionExpression');
  if (action === 'Query' && kce !== undefined) out.keyCondition = compileConditionExpression(kce, 'KeyConditionExpression', ctx);
  const filter = expressionText(req, 'FilterExpression');
  if ((action === 'Query' || action === 'Scan') && filter !== undefined) {
    out.filter = compileConditionExpression(filter, 'FilterExpression' as ExpressionLabel, ctx);
  }
  const projection = expressionText(req, 'ProjectionExpression');
  if (p.expr.includes('ProjectionExpression') && projection !== undefined) out.projection = compileProjectionExpression(projection, ctx);

  if (names) {
    const all = Object.keys(names);
    const unused = all.filter((k) => !ctx.usedNames.has(k));
    if (unused.length) throw validation(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${javaHashOrder(all, unused).join(', ')}}`);
  }
  if (values) {
    const all = Object.keys(values);
    const unused = all.filter((k) => !ctx.usedValues.has(k));
    if (unused.length) throw validation(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${javaHashOrder(all, unused).join(', ')}}`);
  }

  // Legacy parameters (mixing was rejected above, so these never overwrite an expression);
  // DynamoDB checks AttributeUpdates before Expected.
  if (action === 'UpdateItem' && present(req.AttributeUpdates)) out.update = convertAttributeUpdates(req.AttributeUpdates);
  if (action === 'PutItem' || action === 'DeleteItem' || action === 'UpdateItem') {
    if (present(req.Expected) || present(req.ConditionalOperator)) {
      const c = convertExpected(req.Expected, req.ConditionalOperator);
      if (c) out.condition = c;
    }
  }
  if (action === 'Query') {
    // DynamoDB checks QueryFilter before KeyConditions, and the key conditions' structure last.
    if (present(req.QueryFilter) || present(req.ConditionalOperator)) {
      const f = convertFilter(req.QueryFilter, req.ConditionalOperator);
      if (f) out.filter = f;
    }
    if (present(req.KeyConditions)) out.keyConditions = convertKeyConditions(req.KeyConditions);
    else if (out.keyCondition) out.keyConditions = keyConditionsOfExpression(out.keyCondition);
    if (out.keyConditions) checkKeyConditionCount(out.keyConditions, req.IndexName !== undefined);
  }
  if (action === 'Scan' && (present(req.ScanFilter) || present(req.ConditionalOperator))) {
    const f = convertFilter(req.ScanFilter, req.ConditionalOperator);
    if (f) out.filter = f;
  }
  if (p.legacy.includes('AttributesToGet') && present(req.AttributesToGet)) {
    const proj = convertAttributesToGet(req.AttributesToGet);
    if (proj) out.projection = proj;
  }
  return out;
}
