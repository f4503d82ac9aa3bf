// The target table: created in our catalog from the source's DescribeTable (through the same
// CreateTable action the API uses), or checked against it when it already exists.
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import type { WriteIsolation } from '../config.js';
import { createTable } from '../actions/create-table.js';
import { handleOf, type ActionContext } from '../actions/context.js';
import { WRITE_ISOLATION_TAG } from '../actions/tags.js';
import { DynamoError } from '../dynamo/errors.js';
import type { CatalogEntry } from '../storage/catalog.js';
import type { TableHandle } from '../storage/item-store.js';
import { Applier } from './apply.js';
import { ReplicationError, TargetDeleted } from './errors.js';
import type { TargetOpener } from './replica-target.js';

const NEW_IMAGE_VIEWS = new Set(['NEW_IMAGE', 'NEW_AND_OLD_IMAGES']);

/** The source's stream ARN; fails clearly when there is no stream or it carries no new images. */
export function streamOf(desc: TableDescription): string {
  const spec = desc.StreamSpecification;
  if (!spec?.StreamEnabled || !desc.LatestStreamArn) {
    throw new ReplicationError(
      `source table ${desc.TableName} has no stream. Enable one with new images, e.g.: aws dynamodb update-table --table-name ${desc.TableName} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`,
    );
  }
  if (!NEW_IMAGE_VIEWS.has(spec.StreamViewType ?? '')) {
    throw new ReplicationError(
      `the stream of source table ${desc.TableName} has view type ${spec.StreamViewType}, which carries no new item images; replication needs NEW_IMAGE or NEW_AND_OLD_IMAGES (disable the stream and enable it again with one of these)`,
    );
  }
  return desc.LatestStreamArn;
}

type Keys = { AttributeName?: string; KeyType?: string }[] | undefined;
type Defs = { AttributeName?: string; AttributeType?: string }[] | undefined;

function keySchemaText(keys: Keys, defs: Defs): string {
  return (keys ?? [])
    .map((k) => `${k.KeyType}:${k.AttributeName}:${defs?.find((d) => d.AttributeName === k.AttributeName)?.AttributeType}`)
    .join(',');
}

/** A CreateTable request describing the source table under the target name. */
export function createRequestOf(desc: TableDescription, target: string, isolation: WriteIsolation, withIndexes: boolean): Record<string, unknown> {
  const provisioned =
    desc.BillingModeSummary?.BillingMode === 'PROVISIONED' ||
    (!desc.BillingModeSummary && (desc.ProvisionedThroughput?.ReadCapacityUnits ?? 0) > 0);
  const throughput = (p: { ReadCapacityUnits?: number; WriteCapacityUnits?: number } | undefined) => ({
    ReadCapacityUnits: Math.max(1, p?.ReadCapacityUnits ?? 1),
    WriteCapacityUnits: Math.max(1, p?.WriteCapacityUnits ?? 1),
  });
  const keyNames = new Set((desc.KeySchema ?? []).map((k) => k.AttributeName));
  const gsis = withIndexes ? desc.GlobalSecondaryIndexes ?? [] : [];
  const lsis = withIndexes ? desc.LocalSecondaryIndexes ?? [] : [];
  for (const i of [...gsis, ...lsis]) for (const k of i.KeySchema ?? []) keyNames.add(k.AttributeName);
  const req: Record<string, unknown> = {
    TableName: target,
    AttributeDefinitions: (desc.AttributeDefinitions ?? [])
      .filter((d) => keyNames.has(d.AttributeName))
      .map((d) => ({ AttributeName: d.AttributeName, AttributeType: d.AttributeType })),
    KeySchema: (desc.KeySchema ?? []).map((k) => ({ AttributeName: k.AttributeName, KeyType: k.KeyType })),
    BillingMode: provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST',
    Tags: [{ Key: WRITE_ISOLATION_TAG, Value: isolation }],
  };
  if (provisioned) req.ProvisionedThroughput = throughput(desc.ProvisionedThroughput);
  if (gsis.length) {
    req.GlobalSecondaryIndexes = gsis.map((g) => ({
      IndexName: g.IndexName,
      KeySchema: g.KeySchema,
      Projection: g.Projection,
      ...(provisioned ? { ProvisionedThroughput: throughput(g.ProvisionedThroughput) } : {}),
    }));
  }
  if (lsis.length) req.LocalSecondaryIndexes = lsis.map((l) => ({ IndexName: l.IndexName, KeySchema: l.KeySchema, Projection: l.Projection }));
  return req;
}

export interface Target {
  entry: CatalogEntry;
  handle: TableHandle;
  created: boolean;
}

/** Creates the target; false when another replicator created it a moment ago. */
async function createFrom(ctx: ActionContext, desc: TableDescription, target: string, isolation: WriteIsolation, log: (line: string) => void): Promise<boolean> {
  const hasIndexes = (desc.GlobalSecondaryIndexes?.length ?? 0) + (desc.LocalSecondaryIndexes?.length ?? 0) > 0;
  try {
    await createTable.run(ctx, createRequestOf(desc, target, isolation, hasIndexes));
    return true;
  } catch (e) {
    if (e instanceof DynamoError && e.name === 'ResourceInUseException') return false;
    if (hasIndexes && e instanceof DynamoError && /indexes are not supported/i.test(e.message)) {
      log(`target ${target}: this server does not support secondary indexes yet; creating the table without the source's indexes`);
      await createTable.run(ctx, createRequestOf(desc, target, isolation, false));
      return true;
    }
    throw e;
  }
}

/** Creates the target from the source's description, or checks that the existing one matches. */
export async function ensureTarget(
  ctx: ActionContext,
  desc: TableDescription,
  target: string,
  isolation: WriteIsolation,
  log: (line: string) => void,
): Promise<Target> {
  let created = false;
  let entry: CatalogEntry | undefined;
  // Another replicator (or an API client) may be creating or deleting it right now: wait for that.
  for (const deadline = Date.now() + 60_000; ; ) {
    entry = await ctx.catalog.get(target);
    const status = entry?.definition.status;
    if (entry && status !== 'CREATING' && status !== 'DELETING') break;
    if (Date.now() > deadline) throw new ReplicationError(`target table ${target} stays in status ${status ?? 'absent'}`);
    if (entry) await new Promise((r) => setTimeout(r, 200));
    else created = await createFrom(ctx, desc, target, isolation, log);
    ctx.catalog.invalidate(target);
  }
  const d = entry.definition;
  const ours = keySchemaText(
    [{ AttributeName: d.key.hash.name, KeyType: 'HASH' }, ...(d.key.range ? [{ AttributeName: d.key.range.name, KeyType: 'RANGE' }] : [])],
    [{ AttributeName: d.key.hash.name, AttributeType: d.key.hash.type }, ...(d.key.range ? [{ AttributeName: d.key.range.name, AttributeType: d.key.range.type }] : [])],
  );
  const theirs = keySchemaText(desc.KeySchema, desc.AttributeDefinitions);
  if (ours !== theirs) {
    throw new ReplicationError(`target table ${target} exists with key schema ${ours}, but the source ${desc.TableName} has ${theirs}`);
  }
  return { entry, handle: handleOf(ctx, entry), created };
}

/** True when the target's CQL table holds no row (checked before adopting an existing table). */
export async function targetIsEmpty(ctx: ActionContext, entry: CatalogEntry): Promise<boolean> {
  return ctx.tables.isEmpty(entry);
}

/** Removes every item of the target (a new snapshot follows). */
export async function truncateTarget(ctx: ActionContext, entry: CatalogEntry): Promise<void> {
  await ctx.tables.truncate(entry);
}

/** The replicator's target in our own keyspace, written through its translator; its writes are marked as a replicator's. */
export function cassandraTarget(ctx: ActionContext, isolation: WriteIsolation): TargetOpener {
  return async (desc, name, log) => {
    const t = await ensureTarget(ctx, desc, name, isolation, log);
    const handle: TableHandle = { ...t.handle, replicated: true };
    const check = async (fresh: boolean) => {
      if (fresh) ctx.catalog.invalidate(name);
      const entry = await ctx.catalog.get(name);
      if (!entry || entry.definition.id !== t.entry.definition.id || entry.definition.status === 'DELETING') throw new TargetDeleted(name);
    };
    return {
      id: t.entry.definition.id,
      created: t.created,
      isEmpty: () => targetIsEmpty(ctx, t.entry),
      truncate: () => truncateTarget(ctx, t.entry),
      check,
      writer: (concurrency) => new Applier(ctx.store, handle, concurrency, () => check(true)),
    };
  };
}
