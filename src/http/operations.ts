// The operations of DynamoDB's API (version 2012-08-10), so that an operation DynamoDB has but this
// server does not serve gets an UnknownOperationException naming it, while a name DynamoDB does not
// know gets DynamoDB's own answer (the same exception without a message).
import { unknownOperation, type DynamoError } from '../dynamo/errors.js';

export const DYNAMODB_OPERATIONS: readonly string[] = [
  'BatchExecuteStatement', 'BatchGetItem', 'BatchWriteItem', 'CreateBackup', 'CreateGlobalTable', 'CreateTable',
  'DeleteBackup', 'DeleteItem', 'DeleteResourcePolicy', 'DeleteTable', 'DescribeBackup', 'DescribeContinuousBackups',
  'DescribeContributorInsights', 'DescribeEndpoints', 'DescribeExport', 'DescribeGlobalTable',
  'DescribeGlobalTableSettings', 'DescribeImport', 'DescribeKinesisStreamingDestination', 'DescribeLimits',
  'DescribeTable', 'DescribeTableReplicaAutoScaling', 'DescribeTimeToLive', 'DisableKinesisStreamingDestination',
  'EnableKinesisStreamingDestination', 'ExecuteStatement', 'ExecuteTransaction', 'ExportTableToPointInTime', 'GetItem',
  'GetResourcePolicy', 'ImportTable', 'ListBackups', 'ListContributorInsights', 'ListExports', 'ListGlobalTables',
  'ListImports', 'ListTables', 'ListTagsOfResource', 'PutItem', 'PutResourcePolicy', 'Query', 'RestoreTableFromBackup',
  'RestoreTableToPointInTime', 'Scan', 'TagResource', 'TransactGetItems', 'TransactWriteItems', 'UntagResource',
  'UpdateContinuousBackups', 'UpdateContributorInsights', 'UpdateGlobalTable', 'UpdateGlobalTableSettings', 'UpdateItem',
  'UpdateKinesisStreamingDestination', 'UpdateTable', 'UpdateTableReplicaAutoScaling', 'UpdateTimeToLive',
];
const KNOWN = new Set(DYNAMODB_OPERATIONS);

/** DynamoDB's operations that the given action table does not implement. */
export function unsupportedOperations(implemented: Record<string, unknown>): string[] {
  return DYNAMODB_OPERATIONS.filter((op) => !Object.hasOwn(implemented, op));
}

/** The error for an X-Amz-Target operation that no action serves. */
export function unknownOperationError(operation: string): DynamoError {
  if (!KNOWN.has(operation)) return unknownOperation();
  return unknownOperation(`The operation ${operation} is not supported by this server (dynamo-cassandra)`);
}
