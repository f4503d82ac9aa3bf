// Validation, comparison and sizing of DynamoDB attribute values in wire form.
import type { AttributeType, AttributeValue, Item } from './types.js';
import { serialization, validation } from './errors.js';
import { compareNumbers, normalizeNumber, numberBytes, numbersEqual } from './numbers.js';

// Attribute names and map keys come from clients, so "constructor" or "__proto__" must be read and
// written as own properties only.
const hasOwn = Object.prototype.hasOwnProperty;

/** o[k] when k is an own property, else undefined. */
export function getOwn<T>(o: Record<string, T>, k: string): T | undefined {
  return hasOwn.call(o, k) ? o[k] : undefined;
}

/** o[k] = v, as an own property even for "__proto__". */
export function setOwn<T>(o: Record<string, T>, k: string, v: T): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

export const ATTRIBUTE_TYPES: readonly AttributeType[] = ['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS'];
const TYPE_SET = new Set<string>(ATTRIBUTE_TYPES);

/** The order in which DynamoDB's deserializer holds an AttributeValue's members. */
const MEMBER_ORDER: readonly AttributeType[] = ['S', 'B', 'N', 'BOOL', 'NULL', 'BS', 'NS', 'SS', 'L', 'M'];
const MSG_EMPTY = 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
const MSG_MULTI = 'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes';
const MSG_NULL_ITEM = 'The supplied Item contains a null AttributeValue';
const INVALID = 'One or more parameter values were invalid: ';

/** The single type key of a (valid) attribute value. */
export function typeOf(v: AttributeValue): AttributeType {
  for (const k in v) if (TYPE_SET.has(k)) return k as AttributeType;
  throw new Error('not an AttributeValue');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Wrong JSON types are rejected by DynamoDB's deserializer, before any validation.
function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'structure';
  if (typeof v === 'number') return 'NUMBER_VALUE';
  if (typeof v === 'boolean') return v ? 'TRUE_VALUE' : 'FALSE_VALUE';
  return 'STRING_VALUE';
}

function wrongJson(v: unknown, expected: string): never {
  const k = jsonKind(v);
  if (k === 'structure') throw serialization('Start of structure or map found where not expected.');
  if (k === 'list') throw serialization('Start of list found where not expected');
  throw serialization(`${k} cannot be converted to ${expected}`);
}

function expectString(v: unknown): string {
  if (typeof v !== 'string') wrongJson(v, 'String');
  return v;
}

function expectList(v: unknown): unknown[] {
  if (!Array.isArray(v)) {
    if (isPlainObject(v)) throw serialization('Start of structure or map found where not expected.');
    throw serialization('Expected list or null');
  }
  return v;
}

function expectMap(v: unknown): Record<string, unknown> {
  if (!isPlainObject(v)) {
    if (Array.isArray(v)) throw serialization('Start of list found where not expected');
    throw serialization('Expected map or null');
  }
  return v;
}

const B64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** Validates a base64 string and returns its canonical encoding. */
export function normalizeBase64(s: unknown): string {
  const str = expectString(s);
  if (str.length % 4 !== 0 || !B64_CHARS.test(str)) {
    throw serialization('Base64 encoded length is expected a multiple of 4 bytes but found: ' + str.length);
  }
  // Re-encoding drops non-zero padding bits so equal bytes always have equal strings.
  return Buffer.from(str, 'base64').toString('base64');
}

/** Raw byte length of a base64 string without decoding it. */
export function base64ByteLength(s: string): number {
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  return (s.length / 4) * 3 - pad;
}

function setWithoutDuplicates(kind: 'SS' | 'BS', raw: unknown[], values: string[]): void {
  if (new Set(values).size !== values.length) {
    if (kind === 'SS') throw validation(`${INVALID}Input collection [${raw.join(', ')}] contains duplicates.`);
    throw validation(`${INVALID}Input collection [${raw.join(', ')}]of type BS contains duplicates.`);
  }
}

/**
 * Validates an untrusted JSON value as an AttributeValue and returns its normalized copy
 * (canonical numbers and base64). Errors carry DynamoDB's messages; name (the attribute or map
 * key holding the value, if any) only appears in the message for a null value.
 */
export function normalizeAttributeValue(v: unknown, name?: string): AttributeValue {
  return normalizeValue(v, name, ITEM_NESTING);
}

// An item may hold 32 levels counting itself, so an attribute value 31 levels of M/L; an
// expression value may go one level deeper (DynamoDB then rejects the resulting item instead).
const ITEM_NESTING = 31;
const EXPRESSION_NESTING = 32;
export const MSG_NESTING = 'Nesting Levels have exceeded supported limits';
export const MSG_NESTING_ITEM = `${MSG_NESTING}: Attributes in the item have nested levels beyond supported limit`;

/** Number of nested M/L levels in a value (a scalar or set is 0). */
export function nestingDepth(v: AttributeValue): number {
  let d = 0;
  if ('M' in v) for (const k in v.M) d = Math.max(d, nestingDepth(v.M[k]!));
  else if ('L' in v) for (const e of v.L) d = Math.max(d, nestingDepth(e));
  else return 0;
  return d + 1;
}

/** Whether a value fits in an item (see ITEM_NESTING). */
export function fitsItemNesting(v: AttributeValue): boolean {
  return nestingDepth(v) <= ITEM_NESTING;
}

function normalizeValue(v: unknown, name: string | undefined, levelsLeft: number): AttributeValue {
  if (v === null || v === undefined) throw validation(name === undefined ? MSG_NULL_ITEM : `${MSG_NULL_ITEM}: ${name} is null`);
  if (!isPlainObject(v)) wrongJson(v, 'AttributeValue');
  let type: AttributeType | undefined;
  let count = 0;
  for (const k in v) {
    // DynamoDB's deserializer ignores unknown members and explicit nulls.
    if (TYPE_SET.has(k) && v[k] !== null && v[k] !== undefined) {
      count++;
      type = k as AttributeType;
    }
  }
  if (count === 0 || type === undefined) throw validation(MSG_EMPTY);
  if (count > 1) {
    // DynamoDB checks each member's content (in its member order) before refusing the mix.
    for (const k of MEMBER_ORDER) if (v[k] !== null && v[k] !== undefined) normalizeValue({ [k]: v[k] }, name, levelsLeft);
    throw validation(MSG_MULTI);
  }
  const raw = v[type];
  switch (type) {
    case 'S':
      return { S: expectString(raw) };
    case 'N':
      return { N: normalizeNumber(expectString(raw)) };
    case 'B':
      return { B: normalizeBase64(raw) };
    case 'BOOL':
      if (typeof raw !== 'boolean') wrongJson(raw, 'Boolean');
      return { BOOL: raw };
    case 'NULL':
      if (typeof raw !== 'boolean') wrongJson(raw, 'Boolean');
      if (raw !== true) throw validation(`${INVALID}Null attribute value types must have the value of true`);
      return { NULL: true };
    case 'SS': {
      const list = expectList(raw);
      if (list.length === 0) throw validation(`${INVALID}An string set  may not be empty`);
      const out = list.map(expectString);
      setWithoutDuplicates('SS', list, out);
      return { SS: out };
    }
    case 'NS': {
      const list = expectList(raw);
      if (list.length === 0) throw validation(`${INVALID}An number set  may not be empty`);
      const out: string[] = [];
      const seen = new Set<string>();
      // Checked one element at a time, like DynamoDB: a duplicate can be reported before a
      // later element that is not a number.
      for (const e of list) {
        const n = normalizeNumber(expectString(e));
        if (seen.has(n)) throw validation('Input collection contains duplicates');
        seen.add(n);
        out.push(n);
      }
      return { NS: out };
    }
    case 'BS': {
      const list = expectList(raw);
      if (list.length === 0) throw validation(`${INVALID}Binary sets should not be empty`);
      const out = list.map(normalizeBase64);
      setWithoutDuplicates('BS', list, out);
      return { BS: out };
    }
    case 'M': {
      if (levelsLeft <= 0) throw validation(MSG_NESTING_ITEM);
      const m = expectMap(raw);
      const out: Record<string, AttributeValue> = {};
      for (const k of Object.keys(m)) {
        if (k === '') throw validation('Empty attribute name');
        setOwn(out, k, normalizeValue(m[k], k, levelsLeft - 1));
      }
      return { M: out };
    }
    case 'L': {
      if (levelsLeft <= 0) throw validation(MSG_NESTING_ITEM);
      const list = expectList(raw);
      return { L: list.map((e) => normalizeValue(e, undefined, levelsLeft - 1)) };
    }
  }
}

/** Validates an untrusted JSON object as an Item (attribute name -> AttributeValue). */
export function normalizeItem(v: unknown): Item {
  const m = expectMap(v);
  const out: Item = {};
  for (const k of Object.keys(m)) {
    if (k === '') throw validation('Empty attribute name');
    setOwn(out, k, normalizeAttributeValue(m[k], k));
  }
  return out;
}

/** Validates one ExpressionAttributeValues entry, with DynamoDB's wrapping of the message. */
export function normalizeExpressionValue(v: unknown, key: string): AttributeValue {
  try {
    return normalizeValue(v, undefined, EXPRESSION_NESTING);
  } catch (e) {
    if (e instanceof Error && (e as { name?: string }).name === 'ValidationException') {
      throw validation(`ExpressionAttributeValues contains invalid value: ${e.message} for key ${key}`);
    }
    throw e;
  }
}

// ---- sizes ----------------------------------------------------------------------------------

function utf8Length(s: string): number {
  // ASCII fast path; Buffer.byteLength otherwise.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/** Size of a value without its attribute name, per AWS's "Item sizes and formats". */
export function attributeValueSize(v: AttributeValue): number {
  if ('S' in v) return utf8Length(v.S);
  if ('N' in v) return numberBytes(v.N);
  if ('B' in v) return base64ByteLength(v.B);
  if ('BOOL' in v || 'NULL' in v) return 1;
  if ('SS' in v) {
    let t = 0;
    for (const s of v.SS) t += utf8Length(s);
    return t;
  }
  if ('NS' in v) {
    let t = 0;
    for (const s of v.NS) t += numberBytes(s);
    return t;
  }
  if ('BS' in v) {
    let t = 0;
    for (const s of v.BS) t += base64ByteLength(s);
    return t;
  }
  if ('L' in v) {
    // 3 bytes for the list plus 1 byte per element
    let t = 3;
    for (const e of v.L) t += 1 + attributeValueSize(e);
    return t;
  }
  let t = 3;
  for (const k in v.M) t += 1 + utf8Length(k) + attributeValueSize(v.M[k]!);
  return t;
}

/** DynamoDB's size of an item in bytes (attribute names count). */
export function itemSize(item: Item): number {
  let t = 0;
  for (const k in item) t += utf8Length(k) + attributeValueSize(item[k]!);
  return t;
}

// ---- equality and ordering ------------------------------------------------------------------

/** Compares two JS strings in UTF-8 byte order (= code point order, unlike UTF-16 order). */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800..DFFF) encode code points above U+FFFF: move them above U+E000..FFFF.
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/** Compares two base64 strings as unsigned byte sequences. */
export function compareBinary(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'base64'), Buffer.from(b, 'base64'));
}

/** Orders two values of the same scalar type (S, N, B); undefined when not comparable. */
export function compareAttributeValues(a: AttributeValue, b: AttributeValue): number | undefined {
  if ('S' in a) return 'S' in b ? compareUtf8(a.S, b.S) : undefined;
  if ('N' in a) return 'N' in b ? compareNumbers(a.N, b.N) : undefined;
  if ('B' in a) return 'B' in b ? compareBinary(a.B, b.B) : undefined;
  return undefined;
}

function sameNumberSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  outer: for (const x of a) {
    for (const y of b) if (numbersEqual(x, y)) continue outer;
    return false;
  }
  return true;
}

function sameStringSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(b);
  for (const x of a) if (!s.has(x)) return false;
  return true;
}

/** Deep equality: sets order-insensitive, numbers compared numerically. */
export function attributeValuesEqual(a: AttributeValue, b: AttributeValue): boolean {
  if ('S' in a) return 'S' in b && a.S === b.S;
  if ('N' in a) return 'N' in b && numbersEqual(a.N, b.N);
  if ('B' in a) return 'B' in b && a.B === b.B;
  if ('BOOL' in a) return 'BOOL' in b && a.BOOL === b.BOOL;
  if ('NULL' in a) return 'NULL' in b;
  if ('SS' in a) return 'SS' in b && sameStringSet(a.SS, b.SS);
  if ('NS' in a) return 'NS' in b && sameNumberSet(a.NS, b.NS);
  if ('BS' in a) return 'BS' in b && sameStringSet(a.BS, b.BS);
  if ('L' in a) {
    if (!('L' in b) || a.L.length !== b.L.length) return false;
    for (let i = 0; i < a.L.length; i++) if (!attributeValuesEqual(a.L[i]!, b.L[i]!)) return false;
    return true;
  }
  if (!('M' in b)) return false;
  const ka = Object.keys(a.M);
  if (ka.length !== Object.keys(b.M).length) return false;
  for (const k of ka) {
    const y = getOwn(b.M, k);
    if (y === undefined || !attributeValuesEqual(a.M[k]!, y)) return false;
  }
  return true;
}

/** DynamoDB's long type names, used in operand type messages. */
export const LONG_TYPE: Record<AttributeType, string> = {
  S: 'STRING',
  N: 'NUMBER',
  B: 'BINARY',
  BOOL: 'BOOLEAN',
  NULL: 'NULL',
  M: 'MAP',
  L: 'LIST',
  SS: 'STRING_SET',
  NS: 'NUMBER_SET',
  BS: 'BINARY_SET',
};
