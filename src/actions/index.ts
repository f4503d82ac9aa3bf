// The DynamoDB actions this server implements, by their X-Amz-Target operation name.
import { describeEndpoints, describeLimits } from './account.js';
import type { ActionSpec } from './context.js';
import { batchGetItem } from './batch-get-item.js';
import { batchWriteItem } from './batch-write-item.js';
import { createTable } from './create-table.js';
import { deleteItem } from './delete-item.js';
import { deleteTable } from './delete-table.js';
import { describeTable } from './describe-table.js';
import { describeTimeToLive } from './describe-time-to-live.js';
import { batchExecuteStatement } from './batch-execute-statement.js';
import { executeStatement } from './execute-statement.js';
import { executeTransaction } from './execute-transaction.js';
import { getItem } from './get-item.js';
import { listTables } from './list-tables.js';
import { putItem } from './put-item.js';
import { query } from './query.js';
import { scan } from './scan.js';
import { listTagsOfResource, tagResource, untagResource } from './tags.js';
import { transactGetItems } from './transact-get-items.js';
import { transactWriteItems } from './transact-write-items.js';
import { updateItem } from './update-item.js';
import { updateTable } from './update-table.js';
import { updateTimeToLive } from './update-time-to-live.js';

export const actions: Record<string, ActionSpec> = {
  CreateTable: createTable,
  DescribeTable: describeTable,
  ListTables: listTables,
  DeleteTable: deleteTable,
  UpdateTable: updateTable,
  TagResource: tagResource,
  UntagResource: untagResource,
  ListTagsOfResource: listTagsOfResource,
  DescribeEndpoints: describeEndpoints,
  DescribeLimits: describeLimits,
  GetItem: getItem,
  PutItem: putItem,
  UpdateItem: updateItem,
  DeleteItem: deleteItem,
  Query: query,
  Scan: scan,
  BatchGetItem: batchGetItem,
  BatchWriteItem: batchWriteItem,
  UpdateTimeToLive: updateTimeToLive,
  DescribeTimeToLive: describeTimeToLive,
  ExecuteStatement: executeStatement,
  BatchExecuteStatement: batchExecuteStatement,
  ExecuteTransaction: executeTransaction,
  TransactWriteItems: transactWriteItems,
  TransactGetItems: transactGetItems,
};
