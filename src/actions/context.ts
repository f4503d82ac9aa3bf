// What every action gets: the storage services, the configuration, and facts about the request.
// Not the CQL session: actions reach Cassandra only through storage's services.
import { resourceNotFound } from '../dynamo/errors.js';
import type { CatalogEntry } from '../storage/catalog.js';
import type { StorageServices } from '../storage/services.js';
import { tableHandle, type TableHandle } from '../storage/table-handle.js';
import type { Validator } from '../dynamo/validation.js';

export interface ActionContext extends Omit<StorageServices, 'session'> {
  /** Background index work (GSI backfill and removal); absent in tools that serve no requests. */
  maintenance?: { backfill(table: string, index: string): void; drop(table: string, index: string): void };
  /** Host header of the request (DescribeEndpoints answers with it). */
  host?: string;
  /** The request is a replicator's (it carries REPLICATOR_HEADER): its stream records say so. */
  replicated?: boolean;
}

/** An action fails with this when its table's CQL table was dropped by another process meanwhile. */
export { TableGoneError } from '../storage/errors.js';

/** The storage services an action may use: all but the session. */
export function actionServices(services: StorageServices): Omit<StorageServices, 'session'> {
  const { session: _session, ...rest } = services;
  return rest;
}

export type Request = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** An action's response body, already serialised (lets GetItem embed stored JSON as is). */
export class RawJson {
  constructor(readonly json: string) {}
}

export interface ActionSpec {
  validate: Validator;
  run(ctx: ActionContext, req: Request): Promise<object>;
  /** The table the request is about, for metrics labels. */
  tableOf?(req: Request): string | undefined;
}

/** The table of an item operation, which must exist and be ACTIVE (or UPDATING). */
export async function activeTable(ctx: ActionContext, name: string): Promise<TableHandle> {
  const usable = (e?: CatalogEntry) => e && e.definition.status !== 'CREATING' && e.definition.status !== 'DELETING';
  let entry = await ctx.catalog.get(name);
  if (!usable(entry)) {
    // The cache only speeds up the common case: a table another process just created (or one
    // cached while it was still CREATING) is read afresh before the request is refused.
    ctx.catalog.invalidate(name);
    entry = await ctx.catalog.get(name);
    if (!usable(entry)) throw resourceNotFound();
  }
  return handleOf(ctx, entry!);
}

export function handleOf(ctx: Pick<ActionContext, 'translators' | 'replicated'>, entry: CatalogEntry): TableHandle {
  const handle = tableHandle(ctx.translators, entry);
  if (ctx.replicated) handle.replicated = true;
  return handle;
}

export function tableArn(ctx: ActionContext, name: string): string {
  return `arn:aws:dynamodb:${ctx.config.region}:${ctx.config.accountId}:table/${name}`;
}

/** The table's catalog entry read afresh (control-plane actions), or DynamoDB's not-found error. */
export async function freshEntry(ctx: ActionContext, name: string): Promise<CatalogEntry> {
  ctx.catalog.invalidate(name);
  const entry = await ctx.catalog.get(name);
  if (!entry) throw resourceNotFound(`Requested resource not found: Table: ${name} not found`);
  return entry;
}
