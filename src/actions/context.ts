// What every action gets: the storage services, the configuration, and facts about the request.
import type { Config, WriteIsolation } from '../config.js';
import { resourceNotFound } from '../dynamo/errors.js';
import type { Catalog, CatalogEntry } from '../storage/catalog.js';
import type { ItemStore, TableHandle } from '../storage/item-store.js';
import type { CqlSession } from '../storage/session.js';
import type { Translator } from '../storage/translator.js';
import type { Validator } from '../dynamo/validation.js';

export interface ActionContext {
  config: Config;
  session: CqlSession;
  catalog: Catalog;
  store: ItemStore;
  translators: Record<string, Translator>;
  /** Background index work (GSI backfill and removal); absent in tools that serve no requests. */
  maintenance?: { backfill(table: string, index: string): void; drop(table: string, index: string): void };
  /** Host header of the request (DescribeEndpoints answers with it). */
  host?: string;
  /** The request is a replicator's (it carries REPLICATOR_HEADER): its stream records say so. */
  replicated?: boolean;
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
  const translator = ctx.translators[entry.definition.translator];
  if (!translator) throw new Error(`table ${entry.definition.name} uses unknown translator ${entry.definition.translator}`);
  const handle: TableHandle = { entry, translator, isolation: entry.definition.writeIsolation as WriteIsolation };
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
