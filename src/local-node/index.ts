/** A managed single-node Apache Cassandra for development, `serve`'s embedded default and the tests. */
export { LocalNodeError } from './errors.js';
export { CASSANDRA_VERSION, cacheDir } from './paths.js';
export { ensureCassandra, checkJava } from './install.js';
export { startLocalNode, stopAllLocalNodes, type LocalNode, type LocalNodeOptions } from './node.js';
export { COMMITLOG_SYNC_MODES, type CommitlogSync } from './config.js';
export { probeCql, type ProbeResult } from './cql-probe.js';
export { localNodeCommand } from './cli.js';
