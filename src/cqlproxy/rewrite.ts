// Request rewriting: what each cluster is sent for a client's QUERY, PREPARE, EXECUTE or BATCH.
// Writes get one explicit timestamp and one value per now()/uuid()/… call for both clusters;
// prepared ids are the client's (the source's) and mapped to the target's per cluster.

import { BodyReader, Opcode, encodeFrame } from './frame.js';
import { classify, hasNonDeterministic, ndLiteral, nextTimestampMicros, substituteNonDeterministic, type Classified } from './classify.js';
import {
  boundValuesHex,
  parseBatch,
  parseExecuteHead,
  parseQuery,
  parseQueryParams,
  rewriteBatchIds,
  withExecuteIds,
  withQueryText,
  withTimestamp,
} from './messages.js';
import { bindExecuteNd, rewriteNdQuery, substituteBatchNd, type NdRewrite } from './nd.js';
import type { PreparedEntry, PreparedRegistry } from './prepared.js';
import { ProxyRequest, type Which } from './request.js';

/** An EXECUTE or BATCH names a statement the proxy never saw prepared (e.g. it restarted). */
export class UnknownPreparedError extends Error {
  constructor(readonly id: Buffer) {
    super(`cql-proxy: unknown prepared statement ${id.toString('hex')}`);
  }
}

/** One client request as received (custom payload already removed). */
export interface Received {
  stream: number;
  flags: number;
  body: Buffer;
  /** The client's frame, when it may be forwarded to the source as it is. */
  raw: Buffer | undefined;
  t0: bigint;
}

export interface RewriteContext {
  version: number;
  prepared: PreparedRegistry;
  /** Keep bound values of reads (mirrored reads report them). */
  keepReadValues: boolean;
}

function frame(ctx: RewriteContext, opcode: number, flags: number, body: Buffer): Buffer {
  return encodeFrame(ctx.version, false, flags, 0, opcode, body);
}

export function rewriteQuery(ctx: RewriteContext, r: Received): ProxyRequest {
  const q = parseQuery(r.body, 0, ctx.version);
  const cls = classify(q.query);
  const base = { stream: r.stream, opcode: Opcode.QUERY, cls, t0: r.t0, entries: [] };
  if (cls.kind === 'write') {
    let b = r.body;
    let params = q.params;
    if (hasNonDeterministic(q.query)) {
      const now = Date.now();
      b = withQueryText(r.body, substituteNonDeterministic(q.query, (fn) => ndLiteral(fn, now)).text);
      params = parseQuery(b, 0, ctx.version).params;
    }
    if (params.timestamp === undefined) b = withTimestamp(b, params.flagsPos, params.timestampPos, nextTimestampMicros());
    const final = b;
    return new ProxyRequest({
      ...base,
      body: final,
      raw: b === r.body ? r.raw : undefined,
      build: () => frame(ctx, Opcode.QUERY, r.flags, final),
      consistencyPos: params.consistencyPos,
    });
  }
  return new ProxyRequest({
    ...base,
    body: r.body,
    raw: r.raw,
    build: (w) => (w === 'source' && r.raw ? r.raw : frame(ctx, Opcode.QUERY, r.flags, r.body)),
    consistencyPos: q.params.consistencyPos,
    paged: q.params.hasPagingState,
  });
}

/** PREPARE: the text sent to both clusters, with hidden markers for non-deterministic calls. */
export function rewritePrepare(body: Buffer): { original: string; cls: Classified; rewrite: NdRewrite | undefined; body: Buffer } {
  const original = new BodyReader(body).longString();
  const cls = classify(original);
  const rewrite = cls.kind === 'write' && hasNonDeterministic(original) ? rewriteNdQuery(original) : undefined;
  return { original, cls, rewrite, body: rewrite ? withQueryText(body, rewrite.query) : body };
}

export function rewriteExecute(ctx: RewriteContext, r: Received): ProxyRequest {
  const head = parseExecuteHead(r.body, 0, ctx.version);
  const entry = ctx.prepared.get(head.id.toString('hex'));
  if (!entry) throw new UnknownPreparedError(head.id);
  const cls = entry.cls;
  let b = r.body;
  let values: string[] | undefined;
  if (cls.kind === 'write') {
    if (entry.nd) b = bindExecuteNd(b, head.paramsPos, entry.nd, Date.now(), ctx.version);
    const params = parseQueryParams(b, head.paramsPos, ctx.version);
    if (params.timestamp === undefined) b = withTimestamp(b, params.flagsPos, params.timestampPos, nextTimestampMicros());
  } else if (cls.kind === 'read' && ctx.keepReadValues) {
    values = boundValuesHex(b, parseQueryParams(b, head.paramsPos, ctx.version));
  }
  const raw = b === r.body ? r.raw : undefined;
  const final = b;
  const isRead = cls.kind === 'read' || cls.kind === 'system';
  return new ProxyRequest({
    stream: r.stream,
    opcode: Opcode.EXECUTE,
    cls,
    t0: r.t0,
    body: final,
    raw,
    entries: [entry],
    build: (w: Which) => {
      // The source's id changes when it re-prepares: the client's frame then no longer fits.
      if (w === 'source' && raw && entry.sourceId.equals(entry.clientId)) return raw;
      // v5: the source gets the result metadata id the client holds (a stale one earns the client
      // the new metadata), the target the id it computed itself.
      const body = w === 'source' ? withExecuteIds(final, head, entry.sourceId, undefined) : withExecuteIds(final, head, entry.targetId!, entry.targetMetadataId);
      return frame(ctx, Opcode.EXECUTE, r.flags, body);
    },
    consistencyPos: head.paramsPos,
    paged: isRead && parseQueryParams(b, head.paramsPos, ctx.version).hasPagingState,
    values,
  });
}

export function rewriteBatch(ctx: RewriteContext, r: Received): ProxyRequest {
  const batch = parseBatch(r.body, 0, ctx.version);
  const entries: PreparedEntry[] = [];
  for (const e of batch.entries) {
    if (e.kind !== 1) continue;
    const entry = ctx.prepared.get(e.id!.toString('hex'));
    if (!entry) throw new UnknownPreparedError(e.id!);
    entries.push(entry);
  }
  let b = substituteBatchNd(r.body, batch, entries, Date.now());
  let parsed = b === r.body ? batch : parseBatch(b, 0, ctx.version);
  if (parsed.timestamp === undefined) {
    b = withTimestamp(b, parsed.flagsPos, parsed.timestampPos, nextTimestampMicros());
    parsed = parseBatch(b, 0, ctx.version);
  }
  const raw = b === r.body ? r.raw : undefined;
  const final = b;
  const batchParsed = parsed;
  return new ProxyRequest({
    stream: r.stream,
    opcode: Opcode.BATCH,
    cls: { kind: 'write' },
    t0: r.t0,
    body: final,
    raw,
    entries,
    build: (w: Which) => {
      const nb = rewriteBatchIds(final, batchParsed, (id) => clusterId(ctx.prepared, id, w));
      if (w === 'source' && raw && nb === final) return raw;
      return frame(ctx, Opcode.BATCH, r.flags, nb);
    },
    consistencyPos: batchParsed.consistencyPos,
  });
}

/** The id one cluster knows a client's prepared id by (itself when unknown). */
function clusterId(reg: PreparedRegistry, clientId: Buffer, which: Which): Buffer {
  const entry = reg.get(clientId.toString('hex'));
  return (entry && (which === 'source' ? entry.sourceId : entry.targetId)) ?? clientId;
}
