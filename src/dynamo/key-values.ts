// Rules DynamoDB applies to key attribute values (of tables and indexes): not empty, and at most
// 2048 bytes for a partition key, 1024 for a sort key. Cassandra refuses empty partition keys and
// keys over 64 KiB, so every key value must pass these before it reaches CQL.
import type { AttributeValue } from './types.js';

export const HASH_KEY_LIMIT = 2048;
export const RANGE_KEY_LIMIT = 1024;

/** The size DynamoDB counts for a key value (S as UTF-8, B decoded; N is never over the limits). */
export function keyBytes(value: AttributeValue): number {
  const v = value as Record<string, string>;
  return 'S' in v ? Buffer.byteLength(v.S, 'utf8') : 'B' in v ? Buffer.from(v.B, 'base64').length : 0;
}

/**
 * DynamoDB's complaint about an empty string or binary as a key value (of the table, or of the
 * index `index`), or undefined when the value is not empty.
 */
export function emptyKeyValue(name: string, value: AttributeValue, index?: string, lookup = false): string | undefined {
  const v = value as Record<string, string>;
  if ((v.S ?? v.B) !== '') return undefined;
  const kind = 'S' in v ? 'string' : 'binary';
  // A key given to look an item up is worded differently from a key inside a written item.
  if (lookup && index === undefined) return `One or more parameter values were invalid: The AttributeValue for a key attribute cannot contain an empty ${kind} value. Key: ${name}`;
  return index === undefined
    ? `One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty ${kind} value. Key: ${name}`
    : `One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty ${kind} value. IndexName: ${index}, IndexKey: ${name}`;
}
