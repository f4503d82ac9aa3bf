import os from 'node:os';
import path from 'node:path';

/** The Cassandra release we install and run; 5.0 is the first line that runs on Java 17. */
export const CASSANDRA_VERSION = '5.0.6';

/**
 * Where the Cassandra classpath and default node data live: kept outside any checkout so that
 * one install serves every project and every run.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DYNAMO_CASSANDRA_HOME) return path.resolve(env.DYNAMO_CASSANDRA_HOME);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'dynamo-cassandra');
  return path.join(os.homedir(), '.cache', 'dynamo-cassandra');
}

export function defaultDataDir(address: string, port: number, env: NodeJS.ProcessEnv = process.env): string {
  // ':' would be awkward in paths if someone passes an IPv6 address.
  return path.join(cacheDir(env), 'nodes', `${address.replace(/[^A-Za-z0-9.-]/g, '_')}_${port}`);
}
