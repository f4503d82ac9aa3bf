// Applying a compiled update to an item (copy-on-write: the input item is never modified).
import type { AttributeValue, Item } from '../types.js';
import { validation } from '../errors.js';
import { addNumbers, numbersEqual, subtractNumbers } from '../numbers.js';
import { fitsItemNesting, getOwn, MSG_NESTING, setOwn } from '../attribute-values.js';
import type { Path, Update, UpdateValue } from './ast.js';
import { getPath } from './evaluate.js';

const MSG_MISSING = 'The provided expression refers to an attribute that does not exist in the item';
const MSG_BAD_TYPE = 'An operand in the update expression has an incorrect data type';
const MSG_BAD_PATH = 'The document path provided in the update expression is invalid for update';
const MSG_LEGACY_TYPE = 'Type mismatch for attribute to update';

function evalValue(v: UpdateValue, old: Item): AttributeValue {
  switch (v.kind) {
    case 'value':
      return v.value;
    case 'path': {
      const x = getPath(old, v.path);
      if (x === undefined) throw validation(MSG_MISSING);
      return x;
    }
    case 'ifNotExists':
      return getPath(old, v.path) ?? evalValue(v.fallback, old);
    case 'listAppend': {
      const a = evalValue(v.first, old);
      const b = evalValue(v.second, old);
      if (!('L' in a) || !('L' in b)) throw validation(MSG_BAD_TYPE);
      return { L: [...a.L, ...b.L] };
    }
    case 'plus':
    case 'minus': {
      const a = evalValue(v.left, old);
      const b = evalValue(v.right, old);
      if (!('N' in a) || !('N' in b)) throw validation(MSG_BAD_TYPE);
      return { N: v.kind === 'plus' ? addNumbers(a.N, b.N) : subtractNumbers(a.N, b.N) };
    }
  }
}

function clone(v: AttributeValue): AttributeValue {
  if ('M' in v) {
    const m: Record<string, AttributeValue> = {};
    for (const k in v.M) setOwn(m, k, clone(v.M[k]!));
    return { M: m };
  }
  if ('L' in v) return { L: v.L.map(clone) };
  if ('SS' in v) return { SS: [...v.SS] };
  if ('NS' in v) return { NS: [...v.NS] };
  if ('BS' in v) return { BS: [...v.BS] };
  return v;
}

/** Working copy: top-level attributes are cloned the first time an action touches them. */
class Draft {
  readonly item: Item;
  private owned = new Set<string>();
  constructor(old: Item) {
    this.item = { ...old };
  }

  own(top: string): void {
    if (this.owned.has(top)) return;
    this.owned.add(top);
    const v = getOwn(this.item, top);
    if (v !== undefined) setOwn(this.item, top, clone(v));
  }

  /** The container holding the last element of path, or undefined when a step is missing. */
  parent(path: Path): AttributeValue | undefined {
    return getPath(this.item, path.slice(0, -1));
  }
}

/** Checks that the parent can hold the path's last element (map key or list index). */
function parentFits(parent: AttributeValue | undefined, last: string | number): parent is AttributeValue {
  if (parent === undefined) return false;
  return typeof last === 'number' ? 'L' in parent : 'M' in parent;
}

function read(d: Draft, path: Path): AttributeValue | undefined {
  if (path.length === 1) return getOwn(d.item, path[0] as string);
  const parent = d.parent(path);
  const last = path[path.length - 1]!;
  if (!parentFits(parent, last)) throw validation(MSG_BAD_PATH);
  return typeof last === 'number' ? (parent as { L: AttributeValue[] }).L[last] : getOwn((parent as { M: Record<string, AttributeValue> }).M, last);
}

function write(d: Draft, path: Path, v: AttributeValue): void {
  if (path.length === 1) {
    setOwn(d.item, path[0] as string, v);
    return;
  }
  const parent = d.parent(path);
  const last = path[path.length - 1]!;
  if (!parentFits(parent, last)) throw validation(MSG_BAD_PATH);
  if (typeof last === 'number') {
    const list = (parent as { L: AttributeValue[] }).L;
    // An index past the end appends.
    if (last < list.length) list[last] = v;
    else list.push(v);
  } else {
    setOwn((parent as { M: Record<string, AttributeValue> }).M, last, v);
  }
}

function erase(d: Draft, path: Path): void {
  if (path.length === 1) {
    delete d.item[path[0] as string];
    return;
  }
  const parent = d.parent(path);
  const last = path[path.length - 1]!;
  if (!parentFits(parent, last)) throw validation(MSG_BAD_PATH);
  if (typeof last === 'number') {
    const list = (parent as { L: AttributeValue[] }).L;
    if (last < list.length) list.splice(last, 1);
  } else {
    delete (parent as { M: Record<string, AttributeValue> }).M[last];
  }
}

function unionSet(a: AttributeValue, b: AttributeValue): AttributeValue | undefined {
  if ('SS' in a && 'SS' in b) return { SS: [...a.SS, ...b.SS.filter((x) => !a.SS.includes(x))] };
  if ('BS' in a && 'BS' in b) return { BS: [...a.BS, ...b.BS.filter((x) => !a.BS.includes(x))] };
  if ('NS' in a && 'NS' in b) return { NS: [...a.NS, ...b.NS.filter((x) => !a.NS.some((y) => numbersEqual(x, y)))] };
  return undefined;
}

function minusSet(a: AttributeValue, b: AttributeValue): AttributeValue | undefined | 'empty' {
  let rest: string[];
  if ('SS' in a && 'SS' in b) rest = a.SS.filter((x) => !b.SS.includes(x));
  else if ('BS' in a && 'BS' in b) rest = a.BS.filter((x) => !b.BS.includes(x));
  else if ('NS' in a && 'NS' in b) rest = a.NS.filter((x) => !b.NS.some((y) => numbersEqual(x, y)));
  else return undefined;
  if (rest.length === 0) return 'empty';
  if ('SS' in a) return { SS: rest };
  if ('BS' in a) return { BS: rest };
  return { NS: rest };
}

/**
 * Applies an update to an item (undefined = no item yet) and returns the new item plus the
 * paths the update wrote or removed, in the order written. All SET values are computed from the
 * old item; actions then run in the order SET, REMOVE, ADD, DELETE.
 */
export function applyUpdate(u: Update, item: Item | undefined): { item: Item; updatedPaths: Path[] } {
  const old = item ?? {};
  const values = u.set.map((s) => evalValue(s.value, old));
  const d = new Draft(old);
  const typeMsg = u.legacy ? MSG_LEGACY_TYPE : MSG_BAD_TYPE;

  for (const i of listIndexOrder(u.set.map((s) => s.path))) {
    const s = u.set[i]!;
    d.own(s.path[0] as string);
    write(d, s.path, values[i]!);
  }

  // REMOVE list elements from the highest index down, so indexes refer to the old list.
  const removes = [...u.remove].sort((a, b) => {
    const la = a[a.length - 1];
    const lb = b[b.length - 1];
    if (typeof la === 'number' && typeof lb === 'number' && samePrefix(a, b)) return lb - la;
    return 0;
  });
  for (const p of removes) {
    d.own(p[0] as string);
    erase(d, p);
  }

  for (const i of listIndexOrder(u.add.map((a) => a.path))) {
    const a = u.add[i]!;
    d.own(a.path[0] as string);
    const cur = read(d, a.path);
    if (cur === undefined) {
      write(d, a.path, a.value);
      continue;
    }
    let next: AttributeValue | undefined;
    if ('N' in cur && 'N' in a.value) next = { N: addNumbers(cur.N, a.value.N) };
    else if (a.legacy && 'L' in cur && 'L' in a.value) next = { L: [...cur.L, ...a.value.L] };
    else next = unionSet(cur, a.value);
    if (next === undefined) throw validation(typeMsg);
    write(d, a.path, next);
  }

  for (const x of u.delete) {
    d.own(x.path[0] as string);
    const cur = read(d, x.path);
    if (cur === undefined) continue;
    const next = minusSet(cur, x.value);
    if (next === undefined) throw validation(typeMsg);
    if (next === 'empty') erase(d, x.path);
    else write(d, x.path, next);
  }

  // Written documents may have grown too deep (expression values may nest one level more).
  for (const s of u.set) {
    const v = getOwn(d.item, s.path[0] as string);
    if (v !== undefined && !fitsItemNesting(v)) throw validation(MSG_NESTING);
  }

  const updatedPaths: Path[] = [...u.set.map((s) => s.path), ...u.remove, ...u.add.map((a) => a.path), ...u.delete.map((x) => x.path)];
  return { item: d.item, updatedPaths };
}

/**
 * The order to apply actions in: writes to elements of one list in index order (those past the
 * end append in that order, as DynamoDB appends them), the others as written.
 */
function listIndexOrder(paths: Path[]): number[] {
  const order = paths.map((_, i) => i);
  if (!paths.some((p) => typeof p[p.length - 1] === 'number')) return order;
  return order.sort((a, b) => {
    const pa = paths[a]!;
    const pb = paths[b]!;
    const la = pa[pa.length - 1];
    const lb = pb[pb.length - 1];
    if (typeof la === 'number' && typeof lb === 'number' && samePrefix(pa, pb)) return la - lb;
    return a - b;
  });
}

function samePrefix(a: Path, b: Path): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length - 1; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The attributes ReturnValues UPDATED_OLD / UPDATED_NEW report, the way DynamoDB Local does:
 * the whole top-level attribute for every updated path that resolves in the given item
 * (pass the old item for UPDATED_OLD, the new one for UPDATED_NEW).
 */
export function updatedAttributes(item: Item | undefined, paths: Path[]): Item {
  const out: Item = {};
  if (item === undefined) return out;
  for (const p of paths) {
    const top = p[0] as string;
    if (getOwn(out, top) === undefined && getPath(item, p) !== undefined) setOwn(out, top, getOwn(item, top)!);
  }
  return out;
}

/** True when any action of the update writes or removes the top-level attribute name. */
export function updateTouchesAttribute(u: Update, name: string): boolean {
  for (const s of u.set) if (s.path[0] === name) return true;
  for (const p of u.remove) if (p[0] === name) return true;
  for (const a of u.add) if (a.path[0] === name) return true;
  for (const x of u.delete) if (x.path[0] === name) return true;
  return false;
}

/**
 * The update as plain top-level writes when it needs no read of the old item: only
 * `SET name = :literal` and `REMOVE name`. Otherwise undefined.
 */
export function blindUpdate(u: Update): { set: Item; remove: string[] } | undefined {
  if (u.add.length > 0 || u.delete.length > 0) return undefined;
  const set: Item = {};
  const remove: string[] = [];
  for (const s of u.set) {
    if (s.path.length !== 1 || s.value.kind !== 'value') return undefined;
    setOwn(set, s.path[0] as string, s.value.value);
  }
  for (const p of u.remove) {
    if (p.length !== 1) return undefined;
    remove.push(p[0] as string);
  }
  return { set, remove };
}

/** Every document path an update names: its targets and the paths its SET values read. */
export function updatePathList(u: Update): Path[] {
  const out: Path[] = [];
  const read = (v: UpdateValue): void => {
    if (v.kind === 'path') out.push(v.path);
    else if (v.kind === 'ifNotExists') {
      out.push(v.path);
      read(v.fallback);
    } else if (v.kind === 'listAppend') {
      read(v.first);
      read(v.second);
    } else if (v.kind === 'plus' || v.kind === 'minus') {
      read(v.left);
      read(v.right);
    }
  };
  for (const s of u.set) {
    out.push(s.path);
    read(s.value);
  }
  out.push(...u.remove);
  for (const a of [...u.add, ...u.delete]) out.push(a.path);
  return out;
}

/**
 * The type an action gives the top-level attribute `name` when it is known without the item (a
 * literal, arithmetic, list_append, an ADD or DELETE operand); undefined otherwise.
 */
export function staticUpdateType(u: Update, name: string): string | undefined {
  const typeOfValue = (v: UpdateValue): string | undefined =>
    v.kind === 'value' ? Object.keys(v.value)[0] : v.kind === 'plus' || v.kind === 'minus' ? 'N' : v.kind === 'listAppend' ? 'L' : undefined;
  for (const s of u.set) if (s.path.length === 1 && s.path[0] === name) return typeOfValue(s.value);
  for (const a of [...u.add, ...u.delete]) if (a.path.length === 1 && a.path[0] === name) return Object.keys(a.value)[0];
  return undefined;
}
