// The key attributes of a secondary index and the CQL columns that hold them. Since November 2025
// a GSI key may have up to four partition (HASH) and four sort (RANGE) attributes; an index with one
// of each keeps the original layout (ipk, isk), and further attributes get columns ipk1..ipk3 and
// isk1..isk3, so that existing index tables read and write exactly as before.
import type { AttributeValue, Item, KeyAttribute, KeySchema } from '../dynamo/types.js';

/** What this module needs of an index definition (see IndexDefinition in indexes.ts). */
export interface IndexKeyed {
  key: KeySchema;
  /** Every HASH attribute, in key schema order; absent when there is one. */
  hashKeys?: KeyAttribute[];
  /** Every RANGE attribute, in key schema order; absent when there are at most one. */
  rangeKeys?: KeyAttribute[];
}

export const indexHashKeys = (ix: IndexKeyed): KeyAttribute[] => ix.hashKeys ?? [ix.key.hash];
export const indexRangeKeys = (ix: IndexKeyed): KeyAttribute[] => ix.rangeKeys ?? (ix.key.range ? [ix.key.range] : []);
/** Every key attribute of the index: partition attributes, then sort attributes. */
export const indexKeyAttributes = (ix: IndexKeyed): KeyAttribute[] => [...indexHashKeys(ix), ...indexRangeKeys(ix)];

const column = (prefix: string, i: number) => (i === 0 ? prefix : `${prefix}${i}`);
/** The partition key columns of an index table: ipk, ipk1, ... */
export const indexPartitionColumns = (ix: IndexKeyed): string[] => indexHashKeys(ix).map((_, i) => column('ipk', i));
/** The index sort key columns of an index table: isk, isk1, ... (before the base key columns). */
export const indexSortColumns = (ix: IndexKeyed): string[] => indexRangeKeys(ix).map((_, i) => column('isk', i));

/** An item's values of the index partition attributes, in column order. */
export const indexHashValues = (ix: IndexKeyed, item: Item): AttributeValue[] => indexHashKeys(ix).map((k) => item[k.name]!);
/** An item's values of the index sort attributes, in column order. */
export const indexSortValues = (ix: IndexKeyed, item: Item): AttributeValue[] => indexRangeKeys(ix).map((k) => item[k.name]!);

/** The KeySchema member DynamoDB describes: the HASH attributes, then the RANGE attributes. */
export const indexKeySchemaElements = (ix: IndexKeyed) => [
  ...indexHashKeys(ix).map((k) => ({ AttributeName: k.name, KeyType: 'HASH' })),
  ...indexRangeKeys(ix).map((k) => ({ AttributeName: k.name, KeyType: 'RANGE' })),
];
