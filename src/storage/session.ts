// The Cassandra connection: one cassandra-driver Client per process, the consistency levels the
// configuration asks for, and a thin execute() that always uses prepared statements.
import { readFileSync } from 'node:fs';
import cassandra from 'cassandra-driver';
import { TableGoneError, storageError, transientReadError, unpreparedTable } from './errors.js';

const { consistencies } = cassandra.types;

export type Row = cassandra.types.Row;
export type Long = cassandra.types.Long;
export const Long = cassandra.types.Long;

/** What the session needs of the configuration (serve's Config has all of it); storage does not depend on the CLI's configuration. */
export interface SessionConfig {
  keyspace: string;
  replication: string;
  localDc: string;
  cqlConnections: number;
  cqlCoalesce: boolean;
  username?: string | undefined;
  password?: string | undefined;
  cassandraTls: boolean;
  cassandraCa?: string | undefined;
  cassandraTlsVerify: boolean;
  readConsistency: string;
  consistentReadConsistency: string;
  writeConsistency: string;
  serialConsistency: string;
}

export interface Consistencies {
  eventual: number;
  strong: number;
  write: number;
  serial: number;
}

export interface CqlSession {
  readonly client: cassandra.Client;
  readonly keyspace: string;
  readonly consistency: Consistencies;
  /**
   * A prepared statement; a statement on a dropped table fails with TableGoneError (errors.ts).
   * `idempotent`: the statement may be sent again after losing its coordinator (reads always may).
   */
  execute(query: string, params: unknown[], consistency: number, serial?: number, idempotent?: boolean): Promise<cassandra.types.ResultSet>;
  /** A prepared statement with the driver's options (paging, timestamps), failing as execute does. */
  query(query: string, params: unknown[], options: cassandra.QueryOptions): Promise<cassandra.types.ResultSet>;
  /** Statements as one batch, failing as execute does. */
  batch(statements: { query: string; params: unknown[] }[], options: cassandra.QueryOptions): Promise<cassandra.types.ResultSet>;
  shutdown(): Promise<void>;
}

function level(name: string): number {
  const value = (consistencies as unknown as Record<string, number>)[name.toLowerCase().replace(/_(\w)/g, (_, c) => c.toUpperCase())];
  if (value === undefined) throw new Error(`unknown consistency level ${name}`);
  return value;
}

/** Parses "host", "host:port" and "[v6]:port" contact points; the driver wants one port for all. */
function contactPoints(points: string[]): { hosts: string[]; port: number } {
  let port = 9042;
  const hosts = points.map((p) => {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(p);
    if (!m) return p;
    port = Number(m[2]);
    return m[1].replace(/^\[|\]$/g, '');
  });
  return { hosts, port };
}

/**
 * `onFlush`, when given, hears how many statements each coalesced flush sent (for metrics).
 */
export async function connect(config: SessionConfig, points: string[], onFlush?: (statements: number) => void): Promise<CqlSession> {
  const { hosts, port } = contactPoints(points);
  const options: cassandra.ClientOptions = {
    contactPoints: hosts,
    protocolOptions: { port },
    localDataCenter: config.localDc,
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: config.cqlConnections, [cassandra.types.distance.remote]: 1 } },
    socketOptions: { readTimeout: 20000, connectTimeout: 10000 },
    queryOptions: { prepare: true },
  };
  if (config.username) {
    options.credentials = { username: config.username, password: config.password ?? '' };
  }
  if (config.cassandraTls) {
    options.sslOptions = {
      rejectUnauthorized: config.cassandraTlsVerify,
      ca: config.cassandraCa ? [readFileSync(config.cassandraCa)] : undefined,
      checkServerIdentity: config.cassandraTlsVerify ? undefined : () => undefined,
    };
  }
  const client = new cassandra.Client(options);
  try {
    await client.connect();
  } catch (err) {
    // A client whose connect failed still holds reconnection timers: release them.
    await client.shutdown().catch(() => undefined);
    throw err;
  }
  await client.execute(
    `CREATE KEYSPACE IF NOT EXISTS ${quoteIdent(config.keyspace)} WITH replication = ${config.replication}`,
  );
  const consistency: Consistencies = {
    eventual: level(config.readConsistency),
    strong: level(config.consistentReadConsistency),
    write: level(config.writeConsistency),
    serial: level(config.serialConsistency),
  };
  // A driver error as storage reports it; a statement prepared on a table since dropped is
  // recognised by looking the table up (errors.ts, unpreparedTable).
  const failed = async (e: unknown, query: string): Promise<never> => {
    const named = unpreparedTable(e, query);
    if (named) {
      const found = await client
        .execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [named.keyspace, named.table], { prepare: true })
        .then((rs) => rs.rowLength > 0, () => true);
      if (!found) throw new TableGoneError(e as Error);
    }
    throw storageError(e);
  };
  const run: Execute = (query, params, cl, serial, idempotent) =>
    client
      .execute(query, params, { prepare: true, consistency: cl, serialConsistency: serial ?? consistency.serial, isIdempotent: idempotent || isRead(query) })
      .catch((e: unknown) => failed(e, query));
  return {
    client,
    keyspace: config.keyspace,
    consistency,
    execute: config.cqlCoalesce ? coalesced(run, onFlush) : run,
    query: (query, params, options) => client.execute(query, params, { prepare: true, ...options }).catch((e: unknown) => failed(e, query)),
    batch: (statements, options) => client.batch(statements, { prepare: true, ...options }).catch((e: unknown) => failed(e, statements[0]?.query ?? '')),
    shutdown: () => client.shutdown(),
  };
}

type Execute = CqlSession['execute'];

/**
 * Reads may be sent again: when their coordinator dies mid-request (a node lost), the driver then
 * retries them on the next node instead of failing the request. Writes are not, unless the caller
 * says so (e.g. index entries written at a fixed timestamp): a lightweight transaction sent twice
 * could fail on its own first attempt (item-store resolves a timed-out one with a serial read).
 */
export const isRead = (query: string): boolean => /^\s*SELECT\s/i.test(query);

const READ_ATTEMPTS = 3;

/**
 * Runs a read, trying again (after 0.1 s, then 0.3 s) when a lost node made it time out: the
 * coordinator learns within seconds that the node is down and stops waiting for it.
 */
export async function retryingRead<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      if (attempt >= READ_ATTEMPTS || !transientReadError(e)) throw e;
    }
    await new Promise((r) => setTimeout(r, 100 * 3 ** (attempt - 1)));
  }
}

/**
 * Holds statements until the event loop's check phase, then issues them together. The driver
 * sends what is queued within one tick as one socket write, but each HTTP request is its own
 * tick; deferring to setImmediate gathers every request of one poll phase into one write, and
 * Cassandra answers them in few writes too. Its CPU per request drops by half or more under
 * load (see README, benchmarks); an idle server adds no measurable delay.
 */
function coalesced(run: Execute, onFlush?: (statements: number) => void): Execute {
  let pending: (() => void)[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    onFlush?.(batch.length);
    for (const start of batch) start();
  };
  return (query, params, cl, serial, idempotent) =>
    new Promise((resolve, reject) => {
      if (pending.push(() => run(query, params, cl, serial, idempotent).then(resolve, reject)) === 1) setImmediate(flush);
    });
}

/**
 * The rows of a prepared read, fetched `fetchSize` at a time: the next page is asked for only when
 * the caller has taken the previous one (stop iterating to stop reading).
 */
export async function* pagedRows(session: CqlSession, query: string, params: unknown[], options: cassandra.QueryOptions): AsyncGenerator<Row> {
  let pageState: string | undefined;
  do {
    const rs = await session.client.execute(query, params, { prepare: true, ...options, pageState });
    yield* rs.rows;
    pageState = rs.pageState ?? undefined;
  } while (pageState);
}

/** keyspace.table, both quoted. */
export function qualifiedTable(keyspace: string, table: string): string {
  return `${quoteIdent(keyspace)}.${quoteIdent(table)}`;
}

/** A CQL identifier, quoted so case and reserved words survive. */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}
