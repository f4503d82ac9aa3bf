// Tables created before transactions existed lack the intent column: add it at start-up.
import type { Catalog } from '../catalog.js';
import { LOCK_COLUMN, qualifiedName } from '../cql-layout.js';
import type { CqlSession } from '../session.js';

export async function addLockColumns(session: CqlSession, catalog: Catalog): Promise<void> {
  for (const name of await catalog.listNames()) {
    const entry = await catalog.get(name);
    if (!entry) continue;
    const meta = await session.client.metadata.getTable(entry.layout.keyspace, entry.layout.cqlTable).catch(() => undefined);
    if (!meta || meta.columnsByName[LOCK_COLUMN]) continue;
    // Another server may add it at the same moment: its "conflicts with an existing column" is fine.
    await session.client.execute(`ALTER TABLE ${qualifiedName(entry.layout)} ADD ${LOCK_COLUMN} text`).catch((e: Error) => {
      if (!/conflicts with an existing column|already exist/i.test(e.message)) throw e;
    });
  }
}
