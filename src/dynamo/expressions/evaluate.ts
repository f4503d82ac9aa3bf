// Evaluation of compiled conditions and projections against an item.
import type { AttributeValue, Item } from '../types.js';
import { attributeValuesEqual, compareAttributeValues, getOwn, setOwn } from '../attribute-values.js';
import { numbersEqual } from '../numbers.js';
import type { Condition, Operand, Path } from './ast.js';

/** The value at a document path, or undefined when any step is missing or of the wrong type. */
export function getPath(item: Item | undefined, path: Path): AttributeValue | undefined {
  if (item === undefined) return undefined;
  let cur: AttributeValue | undefined = getOwn(item, path[0] as string);
  for (let i = 1; i < path.length && cur !== undefined; i++) {
    const e = path[i]!;
    if (typeof e === 'number') cur = 'L' in cur ? cur.L[e] : undefined;
    else cur = 'M' in cur ? getOwn(cur.M, e) : undefined;
  }
  return cur;
}

function sizeOf(v: AttributeValue): number | undefined {
  // String size counts UTF-16 code units, as DynamoDB does.
  if ('S' in v) return v.S.length;
  if ('B' in v) return Buffer.byteLength(v.B, 'base64');
  if ('SS' in v) return v.SS.length;
  if ('NS' in v) return v.NS.length;
  if ('BS' in v) return v.BS.length;
  if ('L' in v) return v.L.length;
  if ('M' in v) return Object.keys(v.M).length;
  return undefined;
}

function operandValue(o: Operand, item: Item | undefined): AttributeValue | undefined {
  switch (o.kind) {
    case 'value':
      return o.value;
    case 'path':
      return getPath(item, o.path);
    case 'size': {
      const v = operandValue(o.arg, item);
      if (v === undefined) return undefined;
      const n = sizeOf(v);
      return n === undefined ? undefined : { N: String(n) };
    }
  }
}

function bytesStartWith(a: string, prefix: string): boolean {
  const x = Buffer.from(a, 'base64');
  const p = Buffer.from(prefix, 'base64');
  return p.length <= x.length && x.subarray(0, p.length).equals(p);
}

function containsValue(target: AttributeValue, v: AttributeValue): boolean {
  if ('S' in target) return 'S' in v && target.S.includes(v.S);
  if ('SS' in target) return 'S' in v && target.SS.includes(v.S);
  if ('NS' in target) return 'N' in v && target.NS.some((x) => numbersEqual(x, v.N));
  if ('BS' in target) return 'B' in v && target.BS.includes(v.B);
  if ('L' in target) return target.L.some((x) => attributeValuesEqual(x, v));
  if ('B' in target) return 'B' in v && Buffer.from(target.B, 'base64').includes(Buffer.from(v.B, 'base64'));
  return false;
}

function typeMatches(v: AttributeValue, type: string): boolean {
  return type in v;
}

/** Evaluates a condition; an undefined item means the item does not exist. */
export function evaluateCondition(c: Condition, item: Item | undefined): boolean {
  switch (c.kind) {
    case 'and':
      for (const x of c.conds) if (!evaluateCondition(x, item)) return false;
      return true;
    case 'or':
      for (const x of c.conds) if (evaluateCondition(x, item)) return true;
      return false;
    case 'not':
      return !evaluateCondition(c.cond, item);
    case 'exists':
      return getPath(item, c.path) !== undefined;
    case 'notExists':
      return getPath(item, c.path) === undefined;
    case 'compare': {
      const a = operandValue(c.left, item);
      const b = operandValue(c.right, item);
      if (c.op === '=') return a !== undefined && b !== undefined && attributeValuesEqual(a, b);
      if (c.op === '<>') return a === undefined || b === undefined || !attributeValuesEqual(a, b);
      if (a === undefined || b === undefined) return false;
      const r = compareAttributeValues(a, b);
      if (r === undefined || !sameType(a, b)) return false;
      switch (c.op) {
        case '<':
          return r < 0;
        case '<=':
          return r <= 0;
        case '>':
          return r > 0;
        default:
          return r >= 0;
      }
    }
    case 'between': {
      const v = operandValue(c.value, item);
      const lo = operandValue(c.low, item);
      const hi = operandValue(c.high, item);
      if (v === undefined || lo === undefined || hi === undefined) return false;
      if (!sameType(v, lo) || !sameType(v, hi)) return false;
      const a = compareAttributeValues(v, lo);
      const b = compareAttributeValues(v, hi);
      return a !== undefined && b !== undefined && a >= 0 && b <= 0;
    }
    case 'in': {
      const v = operandValue(c.value, item);
      if (v === undefined) return false;
      for (const o of c.list) {
        const x = operandValue(o, item);
        if (x !== undefined && attributeValuesEqual(v, x)) return true;
      }
      return false;
    }
    case 'attributeType': {
      const v = operandValue(c.arg, item);
      return v !== undefined && typeMatches(v, c.type);
    }
    case 'beginsWith': {
      const v = operandValue(c.arg, item);
      const p = operandValue(c.prefix, item);
      if (v === undefined || p === undefined) return false;
      if ('S' in v) return 'S' in p && v.S.startsWith(p.S);
      if ('B' in v) return 'B' in p && bytesStartWith(v.B, p.B);
      return false;
    }
    case 'contains': {
      const v = operandValue(c.arg, item);
      const x = operandValue(c.value, item);
      return v !== undefined && x !== undefined && containsValue(v, x);
    }
    case 'notContains': {
      const v = operandValue(c.arg, item);
      const x = operandValue(c.value, item);
      return v !== undefined && x !== undefined && !containsValue(v, x);
    }
  }
}

function sameType(a: AttributeValue, b: AttributeValue): boolean {
  return ('S' in a && 'S' in b) || ('N' in a && 'N' in b) || ('B' in a && 'B' in b);
}

// ---- projection -------------------------------------------------------------------------------

/** Copies the value at path[i..] of src into dst (a container of the same shape). */
function projectInto(dst: AttributeValue, src: AttributeValue, path: Path, i: number): void {
  const e = path[i]!;
  const last = i === path.length - 1;
  if (typeof e === 'number') {
    if (!('L' in src) || !('L' in dst)) return;
    const v = src.L[e];
    if (v === undefined) return;
    // List elements keep their relative order; collect them by source index and compact later.
    const slots = listSlots(dst);
    if (last) {
      slots.set(e, v);
      return;
    }
    let child = slots.get(e);
    if (child === undefined) {
      child = emptyLike(v);
      if (child === undefined) return;
      slots.set(e, child);
    }
    projectInto(child, v, path, i + 1);
  } else {
    if (!('M' in src) || !('M' in dst)) return;
    const v = getOwn(src.M, e);
    if (v === undefined) return;
    if (last) {
      setOwn(dst.M, e, v);
      return;
    }
    let child: AttributeValue | undefined = getOwn(dst.M, e);
    if (child === undefined) {
      child = emptyLike(v);
      if (child === undefined) return;
      setOwn(dst.M, e, child);
    }
    projectInto(child, v, path, i + 1);
  }
}

// Projected lists are built sparsely (source index -> value) and compacted at the end.
const SLOTS = new WeakMap<AttributeValue, Map<number, AttributeValue>>();

function listSlots(v: AttributeValue): Map<number, AttributeValue> {
  let m = SLOTS.get(v);
  if (m === undefined) {
    m = new Map();
    SLOTS.set(v, m);
  }
  return m;
}

function emptyLike(v: AttributeValue): AttributeValue | undefined {
  if ('M' in v) return { M: {} };
  if ('L' in v) return { L: [] };
  return undefined;
}

function compact(v: AttributeValue): AttributeValue {
  if ('L' in v) {
    const slots = SLOTS.get(v);
    if (slots !== undefined) {
      const idx = [...slots.keys()].sort((a, b) => a - b);
      return { L: idx.map((k) => compact(slots.get(k)!)) };
    }
    return v;
  }
  if ('M' in v) {
    for (const k in v.M) v.M[k] = compact(v.M[k]!);
  }
  return v;
}

/**
 * Applies a projection: top-level paths copy the attribute; nested paths keep the enclosing
 * maps/lists with only the selected members (list elements compacted in index order), and paths
 * that do not resolve are left out — DynamoDB's result shape.
 */
export function projectItem(item: Item, paths: Path[]): Item {
  const out: Item = {};
  const built = new Set<string>();
  for (const p of paths) {
    const top = p[0] as string;
    const v = getOwn(item, top);
    if (v === undefined) continue;
    if (p.length === 1) {
      setOwn(out, top, v);
      continue;
    }
    let dst = getOwn(out, top);
    if (dst === undefined) {
      const e = emptyLike(v);
      if (e === undefined) continue;
      // Only keep the container if something inside resolves.
      if (getPath(item, p) === undefined) continue;
      dst = e;
      setOwn(out, top, dst);
      built.add(top);
    } else if (getPath(item, p) === undefined) continue;
    projectInto(dst, v, p, 1);
  }
  for (const k of built) out[k] = compact(out[k]!);
  return out;
}
