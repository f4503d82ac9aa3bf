// Where a request goes and what the client is answered: reads from the source (optionally
// mirrored to the target and compared), writes, DDL and USE to both clusters under the
// failure policy (--wait, --on-target-failure), target failures to the failed-write log.

import { ErrorCode, Opcode, responseBodyStart, responseErrorCode, type Frame } from './frame.js';
import { NotSentError } from './backend.js';
import { classify } from './classify.js';
import { BATCH_TYPE_COUNTER, batchType, bindsRepeatingType, parseBatch, parsePreparedResult, queryTextOf, rowsDigest, setKeyspaceOf } from './messages.js';
import { hideNdMarkers } from './nd.js';
import { rewritePrepare } from './rewrite.js';
import { rewriteSystemResult } from './system.js';
import type { ClusterLinks } from './cluster-links.js';
import type { ClientReplies } from './replies.js';
import type { RequestMetrics } from './request-metrics.js';
import type { ConnectionState, ProxyContext } from './context.js';
import { describe, isError, type ProxyRequest, type Result } from './request.js';

const WRITE_FAILURE = 0x1500;

export class Router {
  constructor(
    private readonly ctx: ProxyContext,
    private readonly state: ConnectionState,
    private readonly links: ClusterLinks,
    private readonly replies: ClientReplies,
    private readonly metrics: RequestMetrics,
    /** Address and port the client connected to, shown in system.local. */
    private readonly local: { address: string; port: number },
  ) {}

  route(req: ProxyRequest): void {
    if (req.isRead) this.read(req);
    else this.dual(req);
  }

  /**
   * Reads: the source answers; optionally the target is asked too and the results compared.
   * A following page is mirrored with the client's (the source's) paging state: it encodes only
   * the position (last key) in the table, so the target returns the page after the same row.
   */
  private read(req: ProxyRequest): void {
    const mirrorReads = this.ctx.settings.mirrorReads;
    const mirror = req.kind === 'read' && mirrorReads > 0 && (mirrorReads >= 1 || Math.random() < mirrorReads);
    const tgt = mirror ? this.links.targetConn() : undefined;
    req.tgt = tgt ? undefined : null;
    const t1 = process.hrtime.bigint();
    this.links.send('source', req, (res) => {
      req.src = res;
      const t2 = process.hrtime.bigint();
      if (res instanceof Error) this.replies.failure(req.stream, 'source', res, req);
      else if (req.kind === 'system' && res.opcode === Opcode.RESULT) {
        const advertised = { ...this.local, datacenter: this.ctx.settings.datacenter };
        this.replies.relay(req.stream, res, rewriteSystemResult(res, req.cls.systemTable!, advertised));
      } else this.replies.relay(req.stream, res);
      if (isError(res)) this.metrics.countError('source', req.opcode, req.kind, res);
      this.metrics.observe(req.opcode, req.kind, req.t0, t1 - req.t0 + (process.hrtime.bigint() - t2));
      if (req.tgt !== null && req.tgt !== undefined) this.compareReads(req);
    });
    if (tgt) {
      this.links.send('target', req, (res) => {
        req.tgt = res;
        if (req.src) this.compareReads(req);
      });
    }
  }

  private compareReads(req: ProxyRequest): void {
    const s = req.src!;
    const t = req.tgt!;
    const labels = { keyspace: req.cls.keyspace ?? this.state.keyspace ?? '', table: req.cls.table ?? '' };
    this.ctx.metrics.mirroredReads.inc(labels);
    const query = req.entries[0]?.originalQuery ?? queryTextOf(req.body);
    const base = {
      t: new Date().toISOString(),
      keyspace: labels.keyspace || null,
      table: labels.table || null,
      query,
      ...(req.values ? { values: req.values } : {}),
    };
    if (isError(s) || isError(t)) {
      if (isError(s) && isError(t)) return;
      // A target of another Cassandra version may not read the source's paging state: not comparable.
      if (req.paged && !isError(s) && !(t instanceof Error) && [ErrorCode.PROTOCOL_ERROR, ErrorCode.INVALID].some((c) => c === responseErrorCode(t))) return;
      this.ctx.metrics.differentResults.inc(labels);
      this.ctx.readReport.record({ ...base, sourceRows: -1, targetRows: -1, kind: 'error', detail: `source ${describe(s)}; target ${describe(t)}` });
      return;
    }
    const sf = s as Frame;
    const tf = t as Frame;
    const sd = rowsDigest(sf.body, responseBodyStart(sf.flags, sf.body));
    const td = rowsDigest(tf.body, responseBodyStart(tf.flags, tf.body));
    if (!sd || !td) return;
    if (sd.count === td.count && sd.rows.equals(td.rows)) return;
    this.ctx.metrics.differentResults.inc(labels);
    this.ctx.readReport.record({ ...base, sourceRows: sd.count, targetRows: td.count, kind: 'rows' });
    this.ctx.logger.warn({ keyspace: labels.keyspace, table: labels.table, sourceRows: sd.count, targetRows: td.count }, 'cql-proxy: mirrored read differs');
  }

  /** Writes, DDL and USE: both clusters, answered according to the failure policy. */
  private dual(req: ProxyRequest): void {
    const s = this.ctx.settings;
    const tgt = this.links.targetConn();
    req.procNs = process.hrtime.bigint() - req.t0;
    this.links.send('source', req, (res) => {
      req.src = res;
      if (isError(res)) this.metrics.countError('source', req.opcode, req.kind, res);
      if (req.kind === 'use' && !isError(res)) this.trackKeyspace(res as Frame, req.cls.useKeyspace);
      if (!s.wait) this.answer(req);
      if (req.tgt !== undefined) this.settle(req);
    });
    if (tgt) {
      this.links.send('target', req, (res) => {
        req.tgt = res;
        if (req.src !== undefined) this.settle(req);
      });
    } else {
      req.tgt = new NotSentError('target cluster unavailable');
      if (req.src !== undefined) this.settle(req);
    }
  }

  /** Both sides known: record a target failure, then answer (when waiting). */
  private settle(req: ProxyRequest): void {
    const targetFailed = isError(req.tgt) && !isError(req.src);
    if (isError(req.tgt)) this.metrics.countError('target', req.opcode, req.kind, req.tgt!);
    if (!targetFailed) {
      if (this.ctx.settings.wait) this.answer(req);
      return;
    }
    this.ctx.metrics.failedWrites.inc({ reason: req.tgt instanceof Error ? 'unavailable' : 'error' });
    if (req.kind === 'use') {
      if (this.ctx.settings.wait) this.answer(req);
      return;
    }
    const prepared: Record<string, { query: string; keyspace: string | null }> = {};
    for (const e of req.entries) prepared[e.clientHex] = { query: e.query, keyspace: e.keyspace };
    this.ctx.failedLog.append(
      {
        t: new Date().toISOString(),
        v: this.state.version,
        ks: this.state.keyspace,
        op: req.opcode,
        body: req.body.toString('base64'),
        ...(req.entries.length ? { prepared } : {}),
        ...(uncertain(req.tgt!) && repeats(req, this.state.version) ? { repeats: true as const } : {}),
        reason: describe(req.tgt),
      },
      (err) => {
        if (err) this.ctx.logger.error({ err: err.message }, 'cql-proxy: cannot write the failed-write log');
        if (this.ctx.settings.wait) this.answer(req, err);
      },
    );
  }

  private answer(req: ProxyRequest, logErr?: Error): void {
    if (req.answered) return;
    req.answered = true;
    const t2 = process.hrtime.bigint();
    const src = req.src!;
    if (src instanceof Error) this.replies.failure(req.stream, 'source', src, req);
    else if (src.opcode === Opcode.ERROR) this.replies.relay(req.stream, src);
    else if (this.ctx.settings.wait && isError(req.tgt) && (this.ctx.settings.onTargetFailure === 'fail' || logErr)) {
      const t = req.tgt!;
      if (t instanceof Error) this.replies.failure(req.stream, 'target', t, req);
      else this.replies.relay(req.stream, t);
    } else this.replies.relay(req.stream, src);
    this.metrics.observe(req.opcode, req.kind, req.t0, req.procNs + (process.hrtime.bigint() - t2));
  }

  private trackKeyspace(res: Frame, fallback: string | undefined): void {
    const ks = setKeyspaceOf(res.body, responseBodyStart(res.flags, res.body)) ?? fallback;
    if (ks) this.state.keyspace = ks;
  }

  /** PREPARE on both clusters; the client gets the source's id, the registry maps it. */
  prepare(stream: number, flags: number, body: Buffer, t0: bigint): void {
    const { original, cls, rewrite, body: sendBody } = rewritePrepare(body);
    const keyspace = this.state.keyspace;
    const tgt = this.links.targetConn();
    let src: Result | undefined;
    let tres: Result | null | undefined = tgt ? undefined : null;
    const done = (): void => {
      if (src === undefined || tres === undefined) return;
      this.metrics.observe(Opcode.PREPARE, cls.kind, t0, 0n);
      if (src instanceof Error) return this.replies.failure(stream, 'source', src);
      if (src.opcode !== Opcode.RESULT) return this.replies.relay(stream, src);
      const version = this.state.version;
      const p = parsePreparedResult(src.body, responseBodyStart(src.flags, src.body), version);
      const entry = this.ctx.prepared.add({
        clientId: p.id,
        clientHex: p.id.toString('hex'),
        query: rewrite ? rewrite.query : original,
        originalQuery: original,
        keyspace,
        cls,
        sourceId: p.id,
        sourceMetadataId: p.metadataId,
        ...(rewrite ? { nd: rewrite.nd, markerCount: rewrite.markerCount } : {}),
        ...(cls.increment === 'repeats' || (cls.increment === 'marker' && bindsRepeatingType(src.body, p.metaPos, this.state.version))
          ? { repeats: true }
          : {}),
      });
      if (tres && !(tres instanceof Error) && tres.opcode === Opcode.RESULT) {
        const t = parsePreparedResult(tres.body, responseBodyStart(tres.flags, tres.body), version);
        this.ctx.prepared.setTarget(entry, t.id, t.metadataId);
      } else if (tres) this.metrics.countError('target', Opcode.PREPARE, cls.kind, tres);
      if (rewrite) this.replies.relay(stream, src, hideNdMarkers(src.body, p.metaPos, rewrite.nd, this.state.version));
      else this.replies.relay(stream, src);
    };
    this.links.source!.send(Opcode.PREPARE, flags, sendBody, (res) => {
      src = res;
      done();
    });
    if (tgt) {
      tgt.send(Opcode.PREPARE, flags, sendBody, (res) => {
        tres = res;
        done();
      });
    }
  }
}

/** Did the target perhaps apply the write although it failed? (timeouts, lost connections) */
function uncertain(res: Result): boolean {
  if (res instanceof Error) return !(res instanceof NotSentError);
  const code = responseErrorCode(res);
  return code === ErrorCode.WRITE_TIMEOUT || code === ErrorCode.SERVER_ERROR || code === WRITE_FAILURE;
}

/** Would applying this write twice change the result (counters, list appends)? Unsure counts as yes. */
function repeats(req: ProxyRequest, version: number): boolean {
  if (req.opcode === Opcode.QUERY) return req.cls.increment !== undefined;
  if (req.opcode === Opcode.EXECUTE) return req.entries[0]?.repeats === true;
  const batch = parseBatch(req.body, 0, version);
  return (
    batchType(req.body) === BATCH_TYPE_COUNTER ||
    req.entries.some((e) => e.repeats) ||
    batch.entries.some((e) => e.kind === 0 && classify(e.query!).increment !== undefined)
  );
}
