// Errors storage gives its callers in its own terms; only storage reads Cassandra's error codes
// and messages.

/**
 * A statement's CQL table does not exist: another process dropped it (DeleteTable, perhaps
 * followed by a new CreateTable) while this one still had the table's catalog entry cached.
 * Nothing was written to it.
 */
export class TableGoneError extends Error {
  override readonly name = 'TableGoneError';

  constructor(cause: Error) {
    super(cause.message, { cause });
  }
}

/** Cassandra's "Invalid" error code, which it also gives for a table that does not exist. */
const INVALID = 0x2200;

/** The error storage throws for a driver error: a TableGoneError for a missing table, else the error itself. */
export function storageError(e: unknown): unknown {
  const message = (e as Error)?.message ?? '';
  const gone = (e as { code?: number })?.code === INVALID && /unconfigured table|does not exist/i.test(message);
  return gone ? new TableGoneError(e as Error) : e;
}

/** For a promise's rejection: rethrows a driver error as storageError makes it. */
export function rethrowStorageError(e: unknown): never {
  throw storageError(e);
}
