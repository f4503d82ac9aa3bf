// Watching, delaying or failing the statements a server's cassandra-driver client sends, for tests
// that count a protocol's statements or inject a fault at one exact step. The hooks see every
// execute() and batch() of the client (the server's session calls them with promises, never
// callbacks). A hook must not throw: it answers a statement by returning a promise (a rejected one
// to fail it), and lets it through by returning undefined or by calling `send`.
import type cassandra from 'cassandra-driver';

type Options = cassandra.QueryOptions | undefined;
type Sent = Promise<cassandra.types.ResultSet>;

export interface StatementHooks {
  execute?(query: string, params: unknown[], options: Options, send: () => Sent): Sent | undefined;
  batch?(queries: { query: string; params: unknown[] }[], options: Options, send: () => Sent): Sent | undefined;
}

/** Installs the hooks on the client; returns the function that removes them. */
function interceptStatements(client: cassandra.Client, hooks: StatementHooks): () => void {
  const c = client as unknown as Record<'execute' | 'batch', (...a: unknown[]) => Sent>;
  const { execute, batch } = c;
  if (hooks.execute) {
    c.execute = (query, params, options, ...rest) => {
      const send = () => execute.call(client, query, params, options, ...rest);
      return hooks.execute!(query as string, (params ?? []) as unknown[], options as Options, send) ?? send();
    };
  }
  if (hooks.batch) {
    c.batch = (queries, options, ...rest) => {
      const send = () => batch.call(client, queries, options, ...rest);
      return hooks.batch!(queries as { query: string; params: unknown[] }[], options as Options, send) ?? send();
    };
  }
  return () => {
    c.execute = execute;
    c.batch = batch;
  };
}

/** Runs `work` with the hooks installed, and removes them after. */
export async function withStatementHooks<T>(client: cassandra.Client, hooks: StatementHooks, work: () => Promise<T>): Promise<T> {
  const restore = interceptStatements(client, hooks);
  try {
    return await work();
  } finally {
    restore();
  }
}
