// ExclusiveStartKey of Query and Scan, checked in DynamoDB's order and with its words: first its
// values (before the table is looked up), then its shape against the table's and index's keys.
import { normalizeItem } from '../dynamo/attribute-values.js';
import { DynamoError, validation } from '../dynamo/errors.js';
import type { Item, KeyAttribute, KeySchema } from '../dynamo/types.js';
import type { IndexDefinition } from '../storage/indexes.js';
import { indexHashKeys, indexKeyAttributes } from '../storage/index-keys.js';
import { checkKeyValue } from './item-common.js';

export const INVALID_START = 'The provided starting key is invalid';
const NO_MATCH = 'The provided key element does not match the schema';
// DynamoDB adds its "starting key is invalid" prefix to some value errors only.
const UNPREFIXED = /contains duplicates|number set|numeric value|significant digits|number with magnitude/;

/** The start key's attribute values, validated as in any key (before the table is known). */
export function startKeyValues(raw: unknown): Item {
  try {
    return normalizeItem(raw);
  } catch (e) {
    if (e instanceof DynamoError && e.name === 'ValidationException' && !UNPREFIXED.test(e.message)) {
      throw validation(`${INVALID_START}: ${e.message}`);
    }
    throw e;
  }
}

/** One key attribute of the start key: present with the schema's type, not empty, not too big. */
export function checkStartKeyPiece(key: Item, k: KeyAttribute, isHash: boolean, index?: string): void {
  const v = key[k.name];
  if (!v || !(k.type in v)) throw validation(NO_MATCH);
  // An index key's empty value is worded as in any index key, after DynamoDB's prefix.
  if (index) checkKeyValue(k.name, v, isHash, { index, emptyPrefix: `${INVALID_START}: ` });
  else checkKeyValue(k.name, v, isHash, { lookup: true });
}

/** Prefixes a table-key error with DynamoDB's "starting key is invalid". */
function asStartKeyError(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (e instanceof DynamoError && e.name === 'ValidationException') throw validation(`${INVALID_START}: ${e.message}`);
    throw e;
  }
}

/** The table's key in a start key, checked after the queried key's; returns the start key normalized. */
export function tableStartKey(raw: Item, schema: KeySchema): Item {
  const key = normalizeItem(raw);
  asStartKeyError(() => {
    checkStartKeyPiece(key, schema.hash, true);
    if (schema.range) checkStartKeyPiece(key, schema.range, false);
  });
  return key;
}

/** Scan's start key against the table's key and the index's key. */
export function checkScanStartKey(raw: Item, schema: KeySchema, ix?: IndexDefinition, afterIndexKey?: () => void): Item {
  const key = normalizeItem(raw);
  const ixHashes = ix ? indexHashKeys(ix) : [];
  const ixKeys = ix ? indexKeyAttributes(ix) : [];
  const names = new Set([schema.hash.name, schema.range?.name, ...ixKeys.map((k) => k.name)].filter((n) => n !== undefined));
  if (Object.keys(key).length !== names.size) throw validation(ix ? INVALID_START : `${INVALID_START}: ${NO_MATCH}`);
  if (ix) {
    for (const k of ixKeys) {
      if (!key[k.name]) throw validation(INVALID_START);
      checkStartKeyPiece(key, k, ixHashes.includes(k));
    }
  }
  afterIndexKey?.();
  asStartKeyError(() => {
    checkStartKeyPiece(key, schema.hash, true);
    if (schema.range) checkStartKeyPiece(key, schema.range, false);
  });
  return key;
}
