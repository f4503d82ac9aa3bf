// The types shared by the item store and the protocols built beside it (transactions), in a module
// of their own so that neither imports the other for them.
import type { WriteIsolation } from '../config.js';
import type { Item } from '../dynamo/types.js';
import type { CatalogEntry } from './catalog.js';
import type { Translator } from './translator.js';

export interface TableHandle {
  entry: CatalogEntry;
  translator: Translator;
  isolation: WriteIsolation;
  /** Writes through this handle are a replicator's: their stream records say so (the loop guard). */
  replicated?: boolean;
}

/** The handle of a catalog entry, with the translator its definition names. */
export function tableHandle(translators: Record<string, Translator>, entry: CatalogEntry): TableHandle {
  const translator = translators[entry.definition.translator];
  if (!translator) throw new Error(`table ${entry.definition.name} uses unknown translator ${entry.definition.translator}`);
  return { entry, translator, isolation: entry.definition.writeIsolation as WriteIsolation };
}

/** `cause: 'ttl'` marks a delete made by TTL expiry (its stream record names the service). */
export type Mutation = { kind: 'put'; item: Item } | { kind: 'delete'; cause?: 'ttl' } | { kind: 'none' };
