import { validation } from '../dynamo/errors.js';
import { checkExpressionParameters, compileRequestExpressions, conditionPathList } from '../dynamo/expressions/index.js';
import { compileValidator, obj } from '../dynamo/validation.js';
import { indexClusteringValues } from '../storage/indexes.js';
import { indexHashValues } from '../storage/index-keys.js';
import { indexTokenRangeItems, segmentRange, tokenRangeItems } from '../storage/range-reader.js';
import { activeTable, type ActionSpec } from './context.js';
import { SCAN_REQUEST } from './query.js';
import { capacityWanted } from './item-common.js';
import { checkScanStartKey, startKeyValues } from './start-key.js';
import { baseItems, checkIndexSelect, checkKeyPaths, checkLegacyReadParameters, checkSelect, collectPage, lsiFetchesBase, pageKeyNames, pageResponse, readSettings, resolveIndex } from './read-page.js';

const validate = compileValidator(
  obj(
    SCAN_REQUEST,
    ['TableName'],
  ),
);

export const scan: ActionSpec = {
  validate,
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    const segment = req.Segment as number | undefined;
    const total = req.TotalSegments as number | undefined;
    // DynamoDB's order: parameters, filter conditions, start key values, segments, expressions.
    checkExpressionParameters(req, 'Scan');
    checkLegacyReadParameters(req, 'ScanFilter');
    if (req.ExclusiveStartKey) startKeyValues(req.ExclusiveStartKey);
    if (segment !== undefined && total === undefined) {
      throw validation('The TotalSegments parameter is required but was not present in the request when Segment parameter is present');
    }
    if (total !== undefined && segment === undefined) {
      throw validation('The Segment parameter is required but was not present in the request when parameter TotalSegments is present');
    }
    if (segment !== undefined && total !== undefined && segment >= total) {
      throw validation(`The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: ${segment} is not less than TotalSegments: ${total}`);
    }
    const compiled = compileRequestExpressions(req, 'Scan');
    const table = await activeTable(ctx, req.TableName);
    const def = table.entry.definition;
    const ix = resolveIndex(def, req);
    const start = req.ExclusiveStartKey ? checkScanStartKey(req.ExclusiveStartKey, def.key, ix, () => checkIndexSelect(ix, req)) : undefined;
    if (!start) checkIndexSelect(ix, req);
    checkKeyPaths(compiled.projection, def);
    if (compiled.filter) checkKeyPaths(conditionPathList(compiled.filter), def);
    const countOnly = checkSelect(req, compiled.projection, ix !== undefined);
    // Segments are equal slices of the token ring: disjoint, and together the whole table.
    const { lo, hi } = segmentRange(segment ?? 0, total ?? 1);
    const { consistent, level, limit, rows } = readSettings(ctx, req);
    let source;
    if (ix) {
      const target = { keyspace: ctx.session.keyspace, index: ix, table: def.key };
      const after = start && { partition: indexHashValues(ix, start), clustering: indexClusteringValues(ix, def.key, start) };
      source = indexTokenRangeItems(ctx.session, target, lo, hi, after, level, rows);
      if (lsiFetchesBase(ix, def.key, req, compiled.projection)) source = baseItems(source, (key) => ctx.store.read(table, key, consistent), def.key);
    } else {
      source = tokenRangeItems(ctx.session, table, lo, hi, start, level, rows);
    }
    const page = await collectPage(source, { limit, filter: compiled.filter, projection: compiled.projection, countOnly, keyNames: pageKeyNames(def.key, ix), exactBytes: capacityWanted(req) });
    return pageResponse(req, page, countOnly, consistent, ix);
  },
};
