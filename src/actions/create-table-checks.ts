// CreateTable's semantic checks that need no catalog, in the order DynamoDB runs them (as dynalite's
// suite recorded it): billing and throughput, the table's key schema against AttributeDefinitions,
// then each local and each global secondary index. What passes here is parsed by parseKeySchema and
// parseIndexes, which keep the checks this order does not cover.
import { validation } from '../dynamo/errors.js';
import type { Request } from './context.js';

const INVALID = 'One or more parameter values were invalid: ';
const MAX_CAPACITY = 1000000000000;

interface RawIndex {
  IndexName: string;
  KeySchema: { AttributeName: string; KeyType: string }[];
  Projection: { ProjectionType?: string; NonKeyAttributes?: string[] };
  ProvisionedThroughput?: unknown;
}

function checkThroughput(req: Request): void {
  const t = req.ProvisionedThroughput as { ReadCapacityUnits?: number; WriteCapacityUnits?: number } | undefined;
  if (req.BillingMode === 'PAY_PER_REQUEST') {
    if (t) throw validation(`${INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST`);
    return;
  }
  if (!t || !t.ReadCapacityUnits || !t.WriteCapacityUnits) {
    throw validation(`${INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED`);
  }
  if (t.ReadCapacityUnits > MAX_CAPACITY) throw validation(`Given value ${t.ReadCapacityUnits} for ReadCapacityUnits is out of bounds`);
  if (t.WriteCapacityUnits > MAX_CAPACITY) throw validation(`Given value ${t.WriteCapacityUnits} for WriteCapacityUnits is out of bounds`);
}

const undefinedKeys = (keys: string[], defs: string[]) =>
  validation(`${INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [${keys.join(', ')}], AttributeDefinitions: [${defs.join(', ')}]`);

/** The checks a table's and an index's key schema share: names defined, distinct, HASH first. */
function checkKeyOrder(ks: RawIndex['KeySchema'], defs: string[], secondMustBeRange: boolean): void {
  const keys = ks.map((k) => k.AttributeName);
  if (keys.some((k) => !defs.includes(k))) throw undefinedKeys(keys, defs);
  // Two HASH attributes of one name in a GSI (a multi-attribute key) are worded by the index's own
  // checks; a table's or a local index's second element can only be a RANGE key.
  if (ks.length === 2 && keys[0] === keys[1] && (secondMustBeRange || ks[1]!.KeyType === 'RANGE')) {
    throw validation('Both the Hash Key and the Range Key element in the KeySchema have the same name');
  }
  if (ks[0]!.KeyType !== 'HASH') throw validation('Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
  if (secondMustBeRange && ks[1] && ks[1].KeyType !== 'RANGE') throw validation('Invalid KeySchema: The second KeySchemaElement is not a RANGE key type');
}

function checkProjection(ix: RawIndex): void {
  const type = ix.Projection.ProjectionType;
  if (type === undefined) throw validation(`${INVALID}Unknown ProjectionType: null`);
  if (ix.Projection.NonKeyAttributes && type !== 'INCLUDE') throw validation(`${INVALID}ProjectionType is ${type}, but NonKeyAttributes is specified`);
}

function checkUniqueName(ix: RawIndex, names: Set<string>): void {
  if (names.has(ix.IndexName)) throw validation(`${INVALID}Duplicate index name: ${ix.IndexName}`);
  names.add(ix.IndexName);
}

export function checkCreateTableRequest(req: Request): void {
  checkThroughput(req);
  const defs = (req.AttributeDefinitions as { AttributeName: string }[]).map((d) => d.AttributeName);
  const keySchema = req.KeySchema as RawIndex['KeySchema'];
  if (keySchema.length > defs.length) throw validation('Invalid KeySchema: Some index key attribute have no definition');
  checkKeyOrder(keySchema, defs, true);
  const lsis = req.LocalSecondaryIndexes as RawIndex[] | undefined;
  const gsis = req.GlobalSecondaryIndexes as RawIndex[] | undefined;
  if (!lsis && !gsis && keySchema.length !== defs.length) {
    throw validation(`${INVALID}Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions`);
  }
  const names = new Set<string>();
  if (lsis) {
    if (!lsis.length) throw validation(`${INVALID}List of LocalSecondaryIndexes is empty`);
    if (keySchema.length !== 2) throw validation(`${INVALID}Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex`);
    const tableHash = keySchema[0]!.AttributeName;
    for (const ix of lsis) {
      checkKeyOrder(ix.KeySchema, defs, true);
      if (ix.KeySchema.length !== 2) throw validation(`${INVALID}Index KeySchema does not have a range key for index: ${ix.IndexName}`);
      const hash = ix.KeySchema[0]!.AttributeName;
      if (hash !== tableHash) {
        throw validation(`${INVALID}Index KeySchema does not have the same leading hash key as table KeySchema for index: ${ix.IndexName}. index hash key: ${hash}, table hash key: ${tableHash}`);
      }
      checkProjection(ix);
      checkUniqueName(ix, names);
    }
    if (lsis.length > 5) throw validation(`${INVALID}Number of LocalSecondaryIndexes exceeds per-table limit of 5`);
  }
  if (gsis) {
    if (!gsis.length) throw validation(`${INVALID}List of GlobalSecondaryIndexes is empty`);
    for (const ix of gsis) {
      // A GSI's later key elements are left to parseIndexes (they may be further HASH elements).
      checkKeyOrder(ix.KeySchema, defs, false);
      checkProjection(ix);
      if (req.BillingMode === 'PAY_PER_REQUEST' && ix.ProvisionedThroughput) {
        throw validation(`${INVALID}ProvisionedThroughput should not be specified for index: ${ix.IndexName} when BillingMode is PAY_PER_REQUEST`);
      }
      checkUniqueName(ix, names);
    }
    if (gsis.length > 20) throw validation(`${INVALID}GlobalSecondaryIndex count exceeds the per-table limit of 20`);
  }
}
