import type { WriteIsolation } from '../config.js';
import { TRANSLATORS, WRITE_ISOLATION_MODES } from '../config.js';
import { resourceInUse, validation } from '../dynamo/errors.js';
import type { KeySchema, KeyType } from '../dynamo/types.js';
import { TABLE_NAME_PARAMETER, bool, compileValidator, list, obj, oneOf, str } from '../dynamo/validation.js';
import { Catalog, type TableDefinition } from '../storage/catalog.js';
import type { ActionContext, ActionSpec, Request } from './context.js';
import { describe } from './table-description.js';
import { checkCreateTableRequest } from './create-table-checks.js';
import { TAG_LIST, TRANSLATOR_TAG, WRITE_ISOLATION_TAG } from './tags.js';
import { GSI_SCHEMA, LSI_SCHEMA, THROUGHPUT, keyAttributeNames, keySchemaShape, parseIndexes } from './index-definitions.js';
import { publishStream, streamAtCreate } from '../streams/specification.js';

export { THROUGHPUT };
export const ATTRIBUTE_DEFINITIONS = list(
  obj({ AttributeName: str({ min: 1, max: 255 }), AttributeType: oneOf(['B', 'N', 'S']) }, ['AttributeName', 'AttributeType'], 'AttributeDefinition'),
);

const validate = compileValidator(
  obj(
    {
      AttributeDefinitions: ATTRIBUTE_DEFINITIONS,
      TableName: TABLE_NAME_PARAMETER,
      BillingMode: oneOf(['PROVISIONED', 'PAY_PER_REQUEST']),
      ProvisionedThroughput: THROUGHPUT,
      KeySchema: keySchemaShape(),
      Tags: TAG_LIST,
      TableClass: oneOf(['STANDARD', 'STANDARD_INFREQUENT_ACCESS']),
      DeletionProtectionEnabled: bool(),
      StreamSpecification: obj({ StreamEnabled: bool(), StreamViewType: oneOf(['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY']) }, ['StreamEnabled']),
      LocalSecondaryIndexes: LSI_SCHEMA,
      GlobalSecondaryIndexes: GSI_SCHEMA,
    },
    ['AttributeDefinitions', 'KeySchema'],
  ),
);

/** Checks KeySchema against AttributeDefinitions the way DynamoDB does, and returns it typed. */
export function parseKeySchema(
  keySchema: { AttributeName: string; KeyType: string }[],
  definitions: { AttributeName: string; AttributeType: string }[],
): KeySchema {
  const hashes = keySchema.filter((k) => k.KeyType === 'HASH');
  if (hashes.length === 0) {
    throw validation('No Hash Key specified in schema.  All Dynamo DB tables must have exactly one hash key');
  }
  if (hashes.length > 1) {
    throw validation('Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key');
  }
  if (keySchema[0].KeyType !== 'HASH') {
    throw validation('Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
  }
  if (keySchema.length === 2 && keySchema[0].AttributeName === keySchema[1].AttributeName) {
    throw validation('Both the Hash Key and the Range Key element in the KeySchema have the same name');
  }
  const typeOf = (name: string) => definitions.find((d) => d.AttributeName === name)?.AttributeType as KeyType | undefined;
  const missing = keySchema.filter((k) => !typeOf(k.AttributeName)).map((k) => k.AttributeName);
  if (missing.length) {
    throw validation(
      `One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [${missing.join(', ')}], AttributeDefinitions: [${definitions.map((d) => d.AttributeName).join(', ')}]`,
    );
  }
  const schema: KeySchema = { hash: { name: keySchema[0].AttributeName, type: typeOf(keySchema[0].AttributeName)! } };
  if (keySchema[1]) schema.range = { name: keySchema[1].AttributeName, type: typeOf(keySchema[1].AttributeName)! };
  return schema;
}

/** The per-table storage choices carried in tags, checked against what the server supports. */
export function storageChoice(ctx: ActionContext, tags: Record<string, string>): { translator: string; isolation: WriteIsolation } {
  const translator = tags[TRANSLATOR_TAG] ?? ctx.config.translator;
  if (!(TRANSLATORS as readonly string[]).includes(translator)) {
    throw validation(`Unknown ${TRANSLATOR_TAG} '${translator}'; use one of: ${TRANSLATORS.join(', ')}`);
  }
  const isolation = tags[WRITE_ISOLATION_TAG] ?? ctx.config.writeIsolation;
  if (!(WRITE_ISOLATION_MODES as readonly string[]).includes(isolation)) {
    throw validation(`Unknown ${WRITE_ISOLATION_TAG} '${isolation}'; use one of: ${WRITE_ISOLATION_MODES.join(', ')}`);
  }
  return { translator, isolation: isolation as WriteIsolation };
}

async function run(ctx: ActionContext, req: Request) {
  checkCreateTableRequest(req);
  const defs = req.AttributeDefinitions as { AttributeName: string; AttributeType: string }[];
  const names = new Set(defs.map((d) => d.AttributeName));
  if (names.size !== defs.length) throw validation('Cannot have two attributes with the same name');
  const key = parseKeySchema(req.KeySchema, defs);
  const billingMode = (req.BillingMode ?? 'PROVISIONED') as 'PROVISIONED' | 'PAY_PER_REQUEST';
  const indexes = parseIndexes(req, key, defs, billingMode);
  if (defs.length !== keyAttributeNames(key, indexes).size) {
    throw validation(
      'One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions',
    );
  }
  if (billingMode === 'PROVISIONED' && !req.ProvisionedThroughput) {
    throw validation('One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED');
  }
  if (billingMode === 'PAY_PER_REQUEST' && req.ProvisionedThroughput) {
    throw validation('One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST');
  }
  const tags: Record<string, string> = {};
  for (const t of (req.Tags ?? []) as { Key: string; Value: string }[]) tags[t.Key] = t.Value;
  const { translator, isolation } = storageChoice(ctx, tags);
  const { id, cqlTable } = Catalog.newIdentity(req.TableName);
  const now = Date.now();
  const stream = streamAtCreate(req.StreamSpecification, now);
  const definition: TableDefinition = {
    name: req.TableName,
    id,
    cqlTable,
    translator,
    writeIsolation: isolation,
    key,
    attributeDefinitions: defs.map((d) => ({ AttributeName: d.AttributeName, AttributeType: d.AttributeType })),
    billingMode,
    billingModeChangedAt: billingMode === 'PAY_PER_REQUEST' ? now : undefined,
    provisioned: {
      read: req.ProvisionedThroughput?.ReadCapacityUnits ?? 0,
      write: req.ProvisionedThroughput?.WriteCapacityUnits ?? 0,
      decreasesToday: 0,
    },
    createdAt: now,
    status: 'CREATING',
    tags,
    deletionProtection: req.DeletionProtectionEnabled === true,
    tableClass: req.TableClass,
    ...(stream ? { stream } : {}),
    ...(indexes.length ? { indexes } : {}),
  };
  const entry = await ctx.catalog.insert(definition);
  if (!entry) throw resourceInUse(`Table already exists: ${req.TableName}`);
  try {
    await ctx.tables.create(entry, ctx.translators[translator], indexes);
  } catch (e) {
    await ctx.catalog.remove(entry);
    throw e;
  }
  // The CQL table exists once CREATE TABLE returns (schema agreement); the table is usable now.
  // The response still says CREATING, as DynamoDB's does; DescribeTable says ACTIVE.
  const active = await ctx.catalog.replace(entry, { ...definition, status: 'ACTIVE' });
  await publishStream(ctx.store.streams, definition);
  return { TableDescription: describe(ctx, (active ?? entry).definition, undefined, 'CREATING') };
}

export const createTable: ActionSpec = { validate, run, tableOf: (r) => r.TableName };
