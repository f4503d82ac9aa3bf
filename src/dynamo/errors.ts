// Errors carry DynamoDB's wire type ("namespace#Name"); the HTTP layer turns them into
// {"__type", "message"} bodies. Anything that is not a DynamoError is an internal failure (500).
const COMMON = 'com.amazonaws.dynamodb.v20120810#';

export class DynamoError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly statusCode = 400,
    /** Extra top-level fields of the error body (e.g. Item for ConditionalCheckFailedException). */
    readonly extra?: Record<string, unknown>,
    /** The body member carrying the message ("message", or "Message" for serialization errors). */
    readonly messageKey: 'message' | 'Message' = 'message',
  ) {
    // An answer to the client, not a fault: no stack trace. Capturing one costs microseconds,
    // and conditions are evaluated by throwing (e.g. probing whether a write can only create).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }

  /** The short name SDKs read (the part after '#'). */
  override get name(): string {
    return this.type.slice(this.type.indexOf('#') + 1);
  }
}

export const validation = (message: string) =>
  new DynamoError('com.amazon.coral.validate#ValidationException', message);

/** A body DynamoDB could not deserialize. Its message member is spelled "Message" (and absent when empty). */
export const serialization = (message = '') =>
  new DynamoError('com.amazon.coral.service#SerializationException', message, 400, undefined, 'Message');

/**
 * An operation this endpoint does not serve. For names that are no DynamoDB operation DynamoDB sends
 * no message; for a DynamoDB operation this server does not implement, the message names it.
 */
export const unknownOperation = (message = '') =>
  new DynamoError('com.amazon.coral.service#UnknownOperationException', message);

export const resourceNotFound = (message = 'Requested resource not found') =>
  new DynamoError(COMMON + 'ResourceNotFoundException', message);

export const resourceInUse = (message: string) => new DynamoError(COMMON + 'ResourceInUseException', message);

export const conditionalCheckFailed = (item?: Record<string, unknown>, message = 'The conditional request failed') =>
  new DynamoError(
    COMMON + 'ConditionalCheckFailedException',
    message,
    400,
    item ? { Item: item } : undefined,
  );

export const limitExceeded = (message: string) => new DynamoError(COMMON + 'LimitExceededException', message);

export const accessDenied = (message: string) =>
  new DynamoError('com.amazon.coral.service#AccessDeniedException', message);

export const internalServerError = (message = 'Internal server error') =>
  new DynamoError(COMMON + 'InternalServerError', message, 500);

/** A single-item write (or a transaction) met an item that a running transaction holds. */
export const transactionConflict = () => new DynamoError(COMMON + 'TransactionConflictException', 'Transaction is ongoing for the item');

export const transactionInProgress = () =>
  new DynamoError(COMMON + 'TransactionInProgressException', 'Transaction with the given request token is already in progress.');

export const idempotentParameterMismatch = () =>
  new DynamoError(COMMON + 'IdempotentParameterMismatchException', 'Specified idempotent token was used with different request parameters within the idempotency window');

/** TransactionCanceledException with one reason per action, in DynamoDB's message form. */
export function transactionCanceled(reasons: { Code: string; Message?: string; Item?: Record<string, unknown> }[]): DynamoError {
  return new DynamoError(
    COMMON + 'TransactionCanceledException',
    `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
    400,
    { CancellationReasons: reasons },
  );
}
