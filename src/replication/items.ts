// Items as the AWS SDK hands them over (binaries as Uint8Array) turned into our wire form (base64
// strings, canonical numbers), plus the canonical text and digests that `verify` compares.
import { createHash } from 'node:crypto';
import { normalizeNumber } from '../dynamo/numbers.js';
import type { AttributeValue, Item, KeySchema } from '../dynamo/types.js';

type SdkValue = Record<string, unknown>;

const b64 = (v: unknown): string => Buffer.from(v as Uint8Array).toString('base64');

/** One SDK AttributeValue in wire form. Throws on a type this program does not know. */
export function fromSdkValue(v: SdkValue): AttributeValue {
  if (v.S !== undefined) return { S: v.S as string };
  if (v.N !== undefined) return { N: normalizeNumber(v.N as string) };
  if (v.B !== undefined) return { B: b64(v.B) };
  if (v.BOOL !== undefined) return { BOOL: v.BOOL as boolean };
  if (v.NULL !== undefined) return { NULL: true };
  if (v.M !== undefined) return { M: fromSdkItem(v.M as Record<string, SdkValue>) };
  if (v.L !== undefined) return { L: (v.L as SdkValue[]).map(fromSdkValue) };
  if (v.SS !== undefined) return { SS: [...(v.SS as string[])] };
  if (v.NS !== undefined) return { NS: (v.NS as string[]).map(normalizeNumber) };
  if (v.BS !== undefined) return { BS: (v.BS as unknown[]).map(b64) };
  // DynamoDB Local's stream records write an empty map as {} instead of {"M":{}}.
  if (Object.keys(v).length === 0) return { M: {} };
  throw new Error(`unsupported attribute value from the source: ${JSON.stringify(Object.keys(v))}`);
}

export function fromSdkItem(item: Record<string, unknown>): Item {
  const out: Item = {};
  for (const name in item) out[name] = fromSdkValue(item[name] as SdkValue);
  return out;
}

/** Wire form back to what the SDK sends (Uint8Array binaries), for GetItem keys. */
export function toSdkItem(item: Item): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const conv = (v: AttributeValue): unknown => {
    if ('B' in v) return { B: Buffer.from(v.B, 'base64') };
    if ('BS' in v) return { BS: v.BS.map((s) => Buffer.from(s, 'base64')) };
    if ('M' in v) return { M: toSdkItem(v.M) };
    if ('L' in v) return { L: v.L.map(conv) };
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const name in item) out[name] = conv(item[name]!);
  return out;
}

/**
 * A text that is equal for two items exactly when DynamoDB considers them equal: map members in
 * name order, set elements sorted (sets have no order), numbers and binaries already canonical.
 */
export function canonicalText(item: Item): string {
  return canonicalMap(item);
}

function canonicalMap(m: Record<string, AttributeValue>): string {
  const names = Object.keys(m).sort();
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    if (i) out += ',';
    out += JSON.stringify(names[i]) + ':' + canonicalValue(m[names[i]!]!);
  }
  return out + '}';
}

function canonicalValue(v: AttributeValue): string {
  if ('M' in v) return '{"M":' + canonicalMap(v.M) + '}';
  if ('L' in v) return '{"L":[' + v.L.map(canonicalValue).join(',') + ']}';
  if ('SS' in v) return JSON.stringify({ SS: [...v.SS].sort() });
  if ('NS' in v) return JSON.stringify({ NS: [...v.NS].sort() });
  if ('BS' in v) return JSON.stringify({ BS: [...v.BS].sort() });
  return JSON.stringify(v);
}

/** The key attributes of an item as a string, in schema order: groups records and items by key. */
export function keyText(item: Item, schema: KeySchema): string {
  const hash = JSON.stringify(item[schema.hash.name]);
  return schema.range ? hash + '|' + JSON.stringify(item[schema.range.name]) : hash;
}

/** The key item from keyText (inverse of keyText). */
export function keyFromText(text: string, schema: KeySchema): Item {
  if (!schema.range) return { [schema.hash.name]: JSON.parse(text) };
  // JSON of an attribute value never contains a bare '|' outside a string, but strings may: the
  // hash part is a complete JSON object, so find where it ends by parsing prefixes at each '|'.
  for (let i = text.indexOf('|'); i >= 0; i = text.indexOf('|', i + 1)) {
    try {
      const hash = JSON.parse(text.slice(0, i));
      return { [schema.hash.name]: hash, [schema.range.name]: JSON.parse(text.slice(i + 1)) };
    } catch {
      /* the '|' was inside a string */
    }
  }
  throw new Error('malformed key text');
}

/** A 16-byte digest of an item's canonical text. */
export function itemDigest(item: Item): Buffer {
  return createHash('sha256').update(canonicalText(item)).digest().subarray(0, 16);
}

/** A bucket number in [0, buckets) from the key, the same on both sides of a comparison. */
export function keyBucket(key: string, buckets: number): number {
  return createHash('sha1').update(key).digest().readUInt32BE(0) % buckets;
}
