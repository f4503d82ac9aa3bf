// The storage services a process opens on its CQL session, as actions and background work get them.
import type { Config } from '../config.js';
import type { Catalog } from './catalog.js';
import type { ItemStore } from './item-store.js';
import type { CqlSession } from './session.js';
import type { TableLifecycle } from './table-lifecycle.js';
import type { Translator } from './translator.js';

export interface StorageServices {
  config: Config;
  session: CqlSession;
  catalog: Catalog;
  store: ItemStore;
  /** Creating, dropping, emptying and measuring the CQL tables behind tables and indexes. */
  tables: TableLifecycle;
  translators: Record<string, Translator>;
}
