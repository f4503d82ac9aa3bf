// What every client session of one proxy shares: settings, the prepared-statement registry,
// metrics, the failed-write and read-report logs; and the state of one client connection.

import type { BackendTls, Endpoint } from './backend.js';
import type { FailedWriteLog } from './failedlog.js';
import type { ProxyMetrics } from './metrics.js';
import type { PreparedRegistry } from './prepared.js';
import type { ReadReportLog } from './readreport.js';

export interface Logger {
  info(o: object | string, msg?: string): void;
  warn(o: object | string, msg?: string): void;
  error(o: object | string, msg?: string): void;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface ProxySettings {
  source: Endpoint[];
  target: Endpoint[];
  sourceTls?: BackendTls | undefined;
  targetTls?: BackendTls | undefined;
  /** Used for the target; without them the client's own credentials are tried. */
  targetCredentials?: Credentials | undefined;
  wait: boolean;
  onTargetFailure: 'fail' | 'log';
  requestTimeoutMs: number;
  targetTimeoutMs: number;
  /** Fraction of reads mirrored to the target (0 = none). */
  mirrorReads: number;
  advertise?: { address: string; port: number } | undefined;
  datacenter?: string | undefined;
  cqlVersion: string;
}

export interface ProxyContext {
  settings: ProxySettings;
  prepared: PreparedRegistry;
  metrics: ProxyMetrics;
  failedLog: FailedWriteLog;
  readReport: ReadReportLog;
  logger: Logger;
  /** Round-robin start index for multi-host lists. */
  pick(which: 'source' | 'target'): Endpoint[];
}

/** State of one client connection that its handshake, cluster links and routing all read. */
export interface ConnectionState {
  /** Protocol version the client chose (0 before its first frame). */
  version: number;
  /** Keyspace of the client's last successful USE. */
  keyspace: string | null;
  closed: boolean;
}
