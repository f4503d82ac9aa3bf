// The storage services a process opens on its CQL session, as actions and background work get them.
import type { Config } from '../config.js';
import type { Catalog } from './catalog.js';
import type { ItemStore } from './item-store.js';
import { RangeReads } from './range-reader.js';
import type { CqlSession } from './session.js';
import { TableLifecycle } from './table-lifecycle.js';
import type { Translator } from './translator.js';

export interface StorageServices {
  config: Config;
  session: CqlSession;
  catalog: Catalog;
  store: ItemStore;
  /** Ordered reads of partitions and token ranges (Query, Scan, statistics). */
  ranges: RangeReads;
  /** Creating, dropping, emptying and measuring the CQL tables behind tables and indexes. */
  tables: TableLifecycle;
  translators: Record<string, Translator>;
}

/** The services of a session whose catalog and item store are open. */
export function storageServices(open: Omit<StorageServices, 'tables' | 'ranges'>): StorageServices {
  return { ...open, tables: new TableLifecycle(open.session), ranges: new RangeReads(open.session) };
}
