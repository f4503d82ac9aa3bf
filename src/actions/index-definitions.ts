// Secondary index declarations: CreateTable's LocalSecondaryIndexes and GlobalSecondaryIndexes,
// UpdateTable's GlobalSecondaryIndexUpdates, and their DescribeTable form.
import { randomBytes } from 'node:crypto';
import { validation } from '../dynamo/errors.js';
import type { KeySchema, KeyType } from '../dynamo/types.js';
import { list, long, obj, oneOf, str } from '../dynamo/validation.js';
import type { TableDefinition } from '../storage/catalog.js';
import type { IndexDefinition } from '../storage/indexes.js';
import { indexKeyAttributes, indexKeySchemaElements } from '../storage/index-keys.js';
import { tableArn, type ActionContext } from './context.js';

const INDEX_NAME = str({ min: 3, max: 255, pattern: '[a-zA-Z0-9_.-]+' });
/** A key schema; `keyTypes` false for index key schemas, whose KeyType DynamoDB checks later. */
export const keySchemaShape = (keyTypes = true, max: number | null = 2) =>
  list(obj({ AttributeName: str({ min: 1, max: 255 }), KeyType: keyTypes ? oneOf(['HASH', 'RANGE']) : str() }, ['AttributeName', 'KeyType'], 'KeySchemaElement'), { min: 1, max: max ?? undefined });
const KEY_SCHEMA = keySchemaShape(false);
/** A GSI key may list up to 4 HASH and 4 RANGE attributes; DynamoDB counts them in its own words (gsiKey). */
const GSI_KEY_SCHEMA = keySchemaShape(false, null);
const PROJECTION = obj({ ProjectionType: oneOf(['ALL', 'INCLUDE', 'KEYS_ONLY']), NonKeyAttributes: list(str(), { min: 1 }) }, [], 'Projection');
export const THROUGHPUT = obj({ WriteCapacityUnits: long({ min: 1 }), ReadCapacityUnits: long({ min: 1 }) }, ['ReadCapacityUnits', 'WriteCapacityUnits'], 'ProvisionedThroughput');

export const LSI_SCHEMA = list(obj({ IndexName: INDEX_NAME, KeySchema: KEY_SCHEMA, Projection: PROJECTION }, ['IndexName', 'KeySchema', 'Projection'], 'LocalSecondaryIndex'));
export const GSI_SCHEMA = list(
  obj({ IndexName: INDEX_NAME, KeySchema: GSI_KEY_SCHEMA, Projection: PROJECTION, ProvisionedThroughput: THROUGHPUT }, ['IndexName', 'KeySchema', 'Projection'], 'GlobalSecondaryIndex'),
);
export const GSI_UPDATES_SCHEMA = list(
  obj(
    {
      Update: obj({ IndexName: INDEX_NAME, ProvisionedThroughput: THROUGHPUT }, ['IndexName', 'ProvisionedThroughput'], 'UpdateGlobalSecondaryIndexAction'),
      Create: obj(
        { Projection: PROJECTION, IndexName: INDEX_NAME, ProvisionedThroughput: THROUGHPUT, KeySchema: GSI_KEY_SCHEMA },
        ['IndexName', 'KeySchema', 'Projection'],
        'CreateGlobalSecondaryIndexAction',
      ),
      Delete: obj({ IndexName: INDEX_NAME }, ['IndexName'], 'DeleteGlobalSecondaryIndexAction'),
    },
    [],
    'GlobalSecondaryIndexUpdate',
  ),
);

interface RawIndex {
  IndexName: string;
  KeySchema: { AttributeName: string; KeyType: string }[];
  Projection: { ProjectionType?: string; NonKeyAttributes?: string[] };
  ProvisionedThroughput?: { ReadCapacityUnits: number; WriteCapacityUnits: number };
}

type Definitions = { AttributeName: string; AttributeType: string }[];

function indexKey(raw: RawIndex, defs: Definitions, kind: 'GLOBAL' | 'LOCAL'): Pick<IndexDefinition, 'key' | 'hashKeys' | 'rangeKeys'> {
  const ks = raw.KeySchema;
  const multi = kind === 'GLOBAL' ? checkMultiAttributeKey(ks) : false;
  if (!multi && (ks[0].KeyType !== 'HASH' || ks.filter((k) => k.KeyType === 'HASH').length !== 1)) {
    throw validation(`One or more parameter values were invalid: Index KeySchema does not have a hash key: ${raw.IndexName}`);
  }
  if (ks.length === 2 && ks[0].AttributeName === ks[1].AttributeName) {
    throw validation(`Both the Hash Key and the Range Key element in the KeySchema have the same name`);
  }
  const typeOf = (n: string) => defs.find((d) => d.AttributeName === n)?.AttributeType as KeyType | undefined;
  const missing = ks.filter((k) => !typeOf(k.AttributeName)).map((k) => k.AttributeName);
  if (missing.length) {
    throw validation(
      `One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [${missing.join(', ')}], AttributeDefinitions: [${defs.map((d) => d.AttributeName).join(', ')}]`,
    );
  }
  const attr = (k: { AttributeName: string }) => ({ name: k.AttributeName, type: typeOf(k.AttributeName)! });
  const hashKeys = ks.filter((k) => k.KeyType === 'HASH').map(attr);
  const rangeKeys = ks.filter((k) => k.KeyType !== 'HASH').map(attr);
  const key: KeySchema = { hash: hashKeys[0]!, ...(rangeKeys.length ? { range: rangeKeys[0] } : {}) };
  return { key, ...(hashKeys.length > 1 ? { hashKeys } : {}), ...(rangeKeys.length > 1 ? { rangeKeys } : {}) };
}

/**
 * A GSI key schema with several HASH or RANGE attributes, checked as DynamoDB checks it: at most
 * 4 + 4 attributes, all HASH ones first, no name twice. Returns whether the key is such a key
 * (one HASH and at most one RANGE attribute keep the checks and messages of a classic key).
 */
function checkMultiAttributeKey(ks: RawIndex['KeySchema']): boolean {
  if (ks.length > 8) throw validation('Key Schema too big.  Key Schema must at most consist of the hash and range key of a table');
  const hashes = ks.filter((k) => k.KeyType === 'HASH').length;
  if (hashes <= 1 && ks.length - hashes <= 1) return false;
  if (ks[0].KeyType !== 'HASH') return false;
  if (ks.some((k, i) => k.KeyType === 'HASH' && ks[i - 1]?.KeyType !== 'HASH' && i > 0)) {
    throw validation('Invalid key order. Hash Key must be specified first in key schema, Range Key must be specifed second');
  }
  if (hashes > 4) throw validation('Too many partition keys. GSI can have at most 4 partition keys');
  if (ks.length - hashes > 4) throw validation('Too many sort keys. GSI can have at most 4 sort keys');
  if (new Set(ks.map((k) => k.AttributeName)).size !== ks.length) throw validation('Two keys can not have the same name');
  return true;
}

function projection(raw: RawIndex): IndexDefinition['projection'] {
  const type = raw.Projection.ProjectionType;
  if (!type) throw validation('One or more parameter values were invalid: Unknown ProjectionType: null');
  const nonKey = raw.Projection.NonKeyAttributes;
  if (type === 'INCLUDE' && !nonKey) {
    throw validation('If Projection type INCLUDE is specified, some non-key attributes to include in the projection must be specified as well');
  }
  if (type !== 'INCLUDE' && nonKey) {
    throw validation(`One or more parameter values were invalid: ProjectionType is ${type}, but NonKeyAttributes is specified`);
  }
  return type === 'INCLUDE' ? { type, nonKey } : { type: type as 'ALL' | 'KEYS_ONLY' };
}

/** A fresh CQL name for an index table (CQL allows 48 characters). */
function indexTableName(name: string): string {
  return `i_${randomBytes(6).toString('hex')}_${name.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 24)}`;
}

export function newIndex(raw: RawIndex, kind: 'GLOBAL' | 'LOCAL', defs: Definitions, billing: string, status: IndexDefinition['status']): IndexDefinition {
  const key = indexKey(raw, defs, kind);
  if (kind === 'GLOBAL' && billing === 'PROVISIONED' && !raw.ProvisionedThroughput) {
    throw validation(`One or more parameter values were invalid: ProvisionedThroughput must be specified for index: ${raw.IndexName}`);
  }
  if (kind === 'GLOBAL' && billing === 'PAY_PER_REQUEST' && raw.ProvisionedThroughput) {
    throw validation(`One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: ${raw.IndexName} when BillingMode is PAY_PER_REQUEST`);
  }
  return {
    name: raw.IndexName,
    kind,
    ...key,
    projection: projection(raw),
    cqlTable: indexTableName(raw.IndexName),
    status,
    ...(raw.ProvisionedThroughput ? { provisioned: { read: raw.ProvisionedThroughput.ReadCapacityUnits, write: raw.ProvisionedThroughput.WriteCapacityUnits } } : {}),
  };
}

/** CreateTable's indexes, validated as DynamoDB does. */
export function parseIndexes(req: Record<string, any>, table: KeySchema, defs: Definitions, billing: string): IndexDefinition[] {
  const lsis = (req.LocalSecondaryIndexes ?? []) as RawIndex[];
  const gsis = (req.GlobalSecondaryIndexes ?? []) as RawIndex[];
  if (req.LocalSecondaryIndexes && lsis.length === 0) throw validation('One or more parameter values were invalid: List of LocalSecondaryIndexes is empty');
  if (req.GlobalSecondaryIndexes && gsis.length === 0) throw validation('One or more parameter values were invalid: List of GlobalSecondaryIndexes is empty');
  if (lsis.length > 5) throw validation('One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5');
  if (gsis.length > 20) throw validation('One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20');
  const names = new Set<string>();
  const out: IndexDefinition[] = [];
  for (const raw of lsis) {
    if (names.has(raw.IndexName)) throw validation('Two local secondary indices have the same name');
    names.add(raw.IndexName);
    if (!table.range) throw validation('One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex');
    const ix = newIndex(raw, 'LOCAL', defs, billing, 'ACTIVE');
    if (ix.key.hash.name !== table.hash.name) throw validation('Local Secondary indices must have the same hash key as the main table');
    if (!ix.key.range) throw validation(`One or more parameter values were invalid: Index KeySchema does not have a range key for index: ${raw.IndexName}`);
    out.push(ix);
  }
  const gsiNames = new Set<string>();
  for (const raw of gsis) {
    if (gsiNames.has(raw.IndexName)) throw validation('Two global secondary indices have the same name');
    if (names.has(raw.IndexName)) throw validation(`One or more parameter values were invalid: Duplicate index name: ${raw.IndexName}`);
    gsiNames.add(raw.IndexName);
    out.push(newIndex(raw, 'GLOBAL', defs, billing, 'ACTIVE'));
  }
  const nonKey = new Set(out.flatMap((ix) => ix.projection.nonKey ?? []));
  if (nonKey.size > 100) throw validation('One or more parameter values were invalid: The number of projected attributes in all indexes exceeds the limit of 100');
  return out;
}

/** Every attribute used in a key of the table or of one of its indexes. */
export function keyAttributeNames(table: KeySchema, indexes: IndexDefinition[]): Set<string> {
  const names = new Set([table.hash.name, ...(table.range ? [table.range.name] : [])]);
  for (const ix of indexes) for (const k of indexKeyAttributes(ix)) names.add(k.name);
  return names;
}

/** DescribeTable's LocalSecondaryIndexes and GlobalSecondaryIndexes members. */
export function describeIndexes(ctx: ActionContext, d: TableDefinition, stats: Map<string, { items: number; bytes: number }> = new Map()) {
  const out: Record<string, unknown[]> = {};
  for (const ix of d.indexes ?? []) {
    const s = stats.get(ix.cqlTable) ?? { items: 0, bytes: 0 };
    const projection: Record<string, unknown> = { ProjectionType: ix.projection.type };
    if (ix.projection.nonKey) projection.NonKeyAttributes = ix.projection.nonKey;
    const base: Record<string, unknown> = {
      IndexName: ix.name,
      KeySchema: indexKeySchemaElements(ix),
      Projection: projection,
      IndexSizeBytes: s.bytes,
      ItemCount: s.items,
      IndexArn: `${tableArn(ctx, d.name)}/index/${ix.name}`,
    };
    if (ix.kind === 'LOCAL') {
      (out.LocalSecondaryIndexes ??= []).push(base);
    } else {
      base.IndexStatus = ix.status;
      if (ix.status === 'CREATING') base.Backfilling = ix.backfilling === true;
      base.ProvisionedThroughput = { NumberOfDecreasesToday: 0, ReadCapacityUnits: ix.provisioned?.read ?? 0, WriteCapacityUnits: ix.provisioned?.write ?? 0 };
      (out.GlobalSecondaryIndexes ??= []).push(base);
    }
  }
  return out;
}
