// UpdateItem's checks of the attributes the table's indexes are keyed on, in DynamoDB's order: the
// types an update gives them that are known without the item, then paths reaching inside a key
// attribute (both before the item is read), and once applied, the type a SET gave them.
import { typeOf } from '../dynamo/attribute-values.js';
import { validation } from '../dynamo/errors.js';
import { staticUpdateType, updatePathList, type Update } from '../dynamo/expressions/index.js';
import type { Item } from '../dynamo/types.js';
import type { TableDefinition } from '../storage/catalog.js';
import { indexKeyAttributes } from '../storage/index-keys.js';
import { checkKeyPaths } from './read-page.js';

export function checkUpdateIndexKeys(update: Update, def: TableDefinition): void {
  for (const ix of def.indexes ?? []) {
    for (const k of indexKeyAttributes(ix)) {
      const t = staticUpdateType(update, k.name);
      if (t !== undefined && t !== k.type) {
        throw validation(`One or more parameter values were invalid: Type mismatch for Index Key ${k.name} Expected: ${k.type} Actual: ${t} IndexName: ${ix.name}`);
      }
    }
  }
  checkKeyPaths(updatePathList(update), def);
}

/** A SET whose value came from the item (a path, if_not_exists) gave an index key another type. */
export function checkSetIndexKeyTypes(update: Update, def: TableDefinition, item: Item): void {
  if (update.legacy) return;
  for (const s of update.set) {
    if (s.path.length !== 1) continue;
    const v = item[s.path[0] as string];
    for (const ix of def.indexes ?? []) {
      for (const k of indexKeyAttributes(ix)) {
        if (k.name === s.path[0] && v && typeOf(v) !== k.type) {
          throw validation('The update expression attempted to update the secondary index key to unsupported type');
        }
      }
    }
  }
}
