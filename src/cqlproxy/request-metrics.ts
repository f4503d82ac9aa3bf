// Per-session recording of request times and cluster errors, with the labelled histogram
// children cached per (opcode, kind) so the hot path does not look them up.

import { OPCODE_NAMES, responseErrorCode } from './frame.js';
import type { Observer, ProxyMetrics } from './metrics.js';
import type { Result, Which } from './request.js';

export class RequestMetrics {
  private readonly cache = new Map<string, { proc: Observer; req: Observer }>();

  constructor(private readonly metrics: ProxyMetrics) {}

  /** The whole request since `t0`, and the proxy's own share of it when known. */
  observe(opcode: number, kind: string, t0: bigint, procNs: bigint): void {
    const key = `${opcode}|${kind}`;
    let h = this.cache.get(key);
    if (!h) {
      const labels = { opcode: OPCODE_NAMES[opcode] ?? String(opcode), kind };
      h = { proc: this.metrics.processing.labels(labels), req: this.metrics.request.labels(labels) };
      this.cache.set(key, h);
    }
    h.req.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    if (procNs > 0n) h.proc.observe(Number(procNs) / 1e9);
  }

  countError(cluster: Which, opcode: number, kind: string, res: Result): void {
    const error = res instanceof Error ? 'unavailable' : `0x${responseErrorCode(res).toString(16).padStart(4, '0')}`;
    this.metrics.serverErrors.inc({ cluster, opcode: OPCODE_NAMES[opcode] ?? String(opcode), kind, error });
  }
}
