// Errors storage gives its callers in its own terms; only storage reads Cassandra's error codes
// and messages.
import cassandra from 'cassandra-driver';
import { DynamoError } from '../dynamo/errors.js';

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

/** Cassandra's UNPREPARED: the statement's id is unknown to the node. */
const UNPREPARED = 0x2500;

/**
 * The table a failed statement names, when its failure may mean the table was dropped: a statement
 * prepared before the drop makes Cassandra answer UNPREPARED, the driver's re-prepare fails, and it
 * reports NoHostAvailable with UNPREPARED from every host. That also happens when re-preparing fails
 * for other reasons, so the caller must look the table up before calling it gone.
 */
export function unpreparedTable(e: unknown, query: string): { keyspace: string; table: string } | undefined {
  const inner = (e as { innerErrors?: Record<string, unknown> })?.innerErrors;
  const errors = inner && typeof inner === 'object' ? Object.values(inner) : [];
  if (errors.length === 0 || !errors.every((x) => (x as { code?: number })?.code === UNPREPARED)) return undefined;
  const m = /\b(?:FROM|INTO|UPDATE)\s+"((?:[^"]|"")+)"\."((?:[^"]|"")+)"/i.exec(query);
  return m ? { keyspace: m[1]!.replace(/""/g, '"'), table: m[2]!.replace(/""/g, '"') } : undefined;
}

const { responseErrorCodes } = cassandra.types;

/** A read that failed because a node was lost and is not yet known down (a timeout) may succeed when tried again. */
export function transientReadError(e: unknown): boolean {
  const code = (e as { code?: number })?.code;
  return (
    code === responseErrorCodes.readTimeout ||
    code === responseErrorCodes.writeTimeout || // a serial read's own Paxos round
    code === responseErrorCodes.unavailableException ||
    code === responseErrorCodes.readFailure ||
    e instanceof cassandra.errors.OperationTimedOutError ||
    e instanceof cassandra.errors.NoHostAvailableError
  );
}

/**
 * A failure that says nothing of the data: what transientReadError() admits, an overloaded or
 * bootstrapping node, a failed write or a broken connection (a write's outcome is then unknown until a
 * serial read tells), or a 5xx DynamoError storage made of one. Not a statement Cassandra refused,
 * nor a bug.
 */
export function transientFailure(e: unknown): boolean {
  if (e instanceof DynamoError) return e.statusCode >= 500;
  if (transientReadError(e)) return true;
  const err = e as { code?: number; isSocketError?: boolean } | undefined;
  const code = err?.code;
  return (
    code === responseErrorCodes.overloaded ||
    code === responseErrorCodes.isBootstrapping ||
    code === responseErrorCodes.writeFailure ||
    err?.isSocketError === true
  );
}

/** Rethrows `e` unless it is transient: for a step whose effect the caller reads back next. */
export function unlessTransient(e: unknown): void {
  if (!transientFailure(e)) throw e;
}
