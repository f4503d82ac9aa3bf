// Non-deterministic calls inside prepared statements: the proxy prepares the text with
// a bind marker in place of each call, hides those markers from the client, and binds
// one generated value per call — the same bytes to both clusters.

import { BodyWriter } from './frame.js';
import { ndLiteral, ndTerm, ndValue, hasNonDeterministic, substituteNonDeterministic, stripForClassify, type NdFunction } from './classify.js';
import { parseBindMetadata, parseQueryParams, queryBodyText, QueryFlag, type BatchRequest } from './messages.js';
import type { PreparedEntry } from './prepared.js';

export interface NdRewrite {
  query: string;
  nd: Array<{ fn: NdFunction; index: number }>;
  markerCount: number;
}

const NAMED = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Count bind markers (`?` and `:name`) in code text. */
function countMarkers(code: string): number {
  let n = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '?') n++;
    else if (c === ':' && NAMED.test(code.slice(i + 1, i + 2))) n++;
  }
  return n;
}

export function rewriteNdQuery(query: string): NdRewrite | undefined {
  const named = /:[A-Za-z_]/.test(stripForClassify(query));
  const positions: number[] = [];
  let k = 0;
  // Typed markers (`(timeuuid)?`): inside an overloaded function a bare marker is ambiguous.
  const { text, fns } = substituteNonDeterministic(query, (fn) => ndTerm(fn, named ? `:dcp_nd_${k++}` : '\u0000'));
  if (fns.length === 0) return undefined;
  // Marker index of each substituted call = markers in the code before it.
  const code = stripForClassify(text);
  let seen = 0;
  let fnIdx = 0;
  const nd: NdRewrite['nd'] = [];
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '\u0000') {
      nd.push({ fn: fns[fnIdx++]!, index: seen++ });
      positions.push(i);
    } else if (c === '?') seen++;
    else if (c === ':' && NAMED.test(code.slice(i + 1, i + 2))) {
      if (code.startsWith(':dcp_nd_', i)) nd.push({ fn: fns[fnIdx++]!, index: seen });
      seen++;
    }
  }
  return { query: text.replace(/\u0000/g, '?'), nd, markerCount: countMarkers(stripForClassify(text.replace(/\u0000/g, '?'))) };
}

/**
 * Remove the proxy's markers from PREPARED bind metadata so the client sees the
 * variables it wrote. `metaPos` is where the bind metadata starts in `body`.
 */
export function hideNdMarkers(body: Buffer, metaPos: number, nd: NdRewrite['nd'], version: number): Buffer {
  const hidden = new Set(nd.map((x) => x.index));
  const m = parseBindMetadata(body, metaPos, version);
  const shift = (i: number): number => i - nd.filter((x) => x.index < i).length;
  // A key component bound by the proxy cannot be part of the client's routing key.
  const newPk = m.pk.some((i) => hidden.has(i)) ? [] : m.pk.map(shift);
  const w = new BodyWriter().raw(body.subarray(0, metaPos)).int(m.flags).int(m.specs.length - hidden.size);
  if (version >= 4) {
    w.int(newPk.length);
    for (const i of newPk) w.short(i);
  }
  w.raw(body.subarray(m.globalStart, m.globalEnd));
  m.specs.forEach((s, i) => hidden.has(i) || w.raw(body.subarray(s.start, s.end)));
  w.raw(body.subarray(m.end));
  return w.build();
}

/**
 * Insert generated values for the proxy's markers into a values list.
 * `countPos` is the offset of the [short] value count (or where it would be with no values),
 * `values` the client's values, `end` where the list ends.
 */
export function spliceNdValues(
  body: Buffer,
  countPos: number,
  values: Array<{ start: number; end: number; name?: string }>,
  end: number,
  nd: NdRewrite['nd'],
  nowMs: number,
  hadValues: boolean,
  named: boolean,
): Buffer {
  const w = new BodyWriter().raw(body.subarray(0, countPos)).short(values.length + nd.length);
  if (named) {
    for (const v of values) w.string(v.name!).raw(body.subarray(v.start, v.end));
    nd.forEach((x, k) => w.string(`dcp_nd_${k}`).bytes(ndValue(x.fn, nowMs)));
  } else {
    let ci = 0;
    const total = values.length + nd.length;
    const byIndex = new Map(nd.map((x) => [x.index, x.fn]));
    for (let i = 0; i < total; i++) {
      const fn = byIndex.get(i);
      if (fn) w.bytes(ndValue(fn, nowMs));
      else {
        const v = values[ci++];
        if (v) w.raw(body.subarray(v.start, v.end));
      }
    }
  }
  w.raw(body.subarray(hadValues ? end : countPos));
  return w.build();
}

/** An EXECUTE body with generated values bound to the proxy's hidden markers. */
export function bindExecuteNd(body: Buffer, paramsPos: number, nd: NdRewrite['nd'], nowMs: number, version: number): Buffer {
  const params = parseQueryParams(body, paramsPos, version);
  const hadValues = (params.flags & QueryFlag.VALUES) !== 0;
  const countPos = params.valuesPos;
  const end = params.values.length ? params.values[params.values.length - 1]!.end : countPos + (hadValues ? 2 : 0);
  const out = spliceNdValues(body, countPos, params.values, end, nd, nowMs, hadValues, (params.flags & QueryFlag.NAMES_FOR_VALUES) !== 0);
  if (!hadValues) out[params.flagsPos] = out[params.flagsPos]! | QueryFlag.VALUES;
  return out;
}

/**
 * Substitute non-deterministic calls in a batch's statements: literals in its texts, generated
 * values for the hidden markers of its prepared statements (`entries`, in batch order).
 */
export function substituteBatchNd(body: Buffer, batch: BatchRequest, entries: PreparedEntry[], nowMs: number): Buffer {
  const needs = batch.entries.some((e) => (e.kind === 0 ? hasNonDeterministic(e.query!) : false)) || entries.some((e) => e.nd);
  if (!needs) return body;
  const parts: Buffer[] = [];
  let last = 0;
  let ei = 0;
  for (const e of batch.entries) {
    if (e.kind === 0 && hasNonDeterministic(e.query!)) {
      const sub = substituteNonDeterministic(e.query!, (fn) => ndLiteral(fn, nowMs));
      parts.push(body.subarray(last, e.start), queryBodyText(sub.text));
      last = e.end;
    } else if (e.kind === 1) {
      const entry = entries[ei++]!;
      if (entry.nd) {
        // Values of this statement: [short n] at e.end, then the values.
        const countPos = e.end;
        const vEnd = e.values.length ? e.values[e.values.length - 1]!.end : countPos + 2;
        const spliced = spliceNdValues(body.subarray(0, vEnd), countPos, e.values, vEnd, entry.nd, nowMs, true, false);
        parts.push(body.subarray(last, e.start), spliced.subarray(e.start));
        last = vEnd;
      }
    }
  }
  parts.push(body.subarray(last));
  return Buffer.concat(parts);
}
