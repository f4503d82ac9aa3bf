// The state of one client request while it is with the clusters: what was received, what each
// cluster is sent, and what each answered. Routing fills in the answers; the session replies.

import { Opcode, responseError, type Frame } from './frame.js';
import type { Classified } from './classify.js';
import type { PreparedEntry } from './prepared.js';

export type Which = 'source' | 'target';
/** A cluster's answer, or why there is none (not sent, timed out, connection lost). */
export type Result = Frame | Error;

export interface RequestInit {
  stream: number;
  opcode: number;
  cls: Classified;
  t0: bigint;
  /** Body (without custom payload) as sent to the source, with client-visible ids. */
  body: Buffer;
  /** Client frame, forwarded untouched to the source when `body` was not rewritten. */
  raw: Buffer | undefined;
  /** Prepared statements the request executes (EXECUTE: one; BATCH: any). */
  entries: PreparedEntry[];
  /** The frame for one cluster (prepared ids are per cluster). */
  build(which: Which): Buffer;
  /** Offset of the [consistency] in body, for timeout errors. */
  consistencyPos: number;
  /** A following page (the request carries a paging state). */
  paged?: boolean;
  /** Bound values, hex (mirrored reads report them). */
  values?: string[] | undefined;
}

export class ProxyRequest {
  readonly stream: number;
  readonly opcode: number;
  readonly cls: Classified;
  readonly kind: string;
  readonly t0: bigint;
  readonly body: Buffer;
  readonly raw: Buffer | undefined;
  readonly entries: PreparedEntry[];
  readonly build: (which: Which) => Buffer;
  readonly consistencyPos: number;
  readonly paged: boolean;
  readonly values: string[] | undefined;
  /** Proxy time spent before the request left for the clusters. */
  procNs = 0n;
  src?: Result;
  /** undefined: awaited; null: not asked. */
  tgt?: Result | null;
  answered = false;
  /** Re-prepares after UNPREPARED so far. */
  retries = 0;

  constructor(init: RequestInit) {
    this.stream = init.stream;
    this.opcode = init.opcode;
    this.cls = init.cls;
    this.kind = init.cls.kind;
    this.t0 = init.t0;
    this.body = init.body;
    this.raw = init.raw;
    this.entries = init.entries;
    this.build = init.build;
    this.consistencyPos = init.consistencyPos;
    this.paged = init.paged ?? false;
    this.values = init.values;
  }

  /** Reads (and system-table reads) go to the source only, unless mirrored. */
  get isRead(): boolean {
    return this.kind === 'read' || this.kind === 'system';
  }
}

export function isError(r: Result | null | undefined): boolean {
  return r instanceof Error || (r !== undefined && r !== null && r.opcode === Opcode.ERROR);
}

export function describe(r: Result | null | undefined): string {
  if (!r) return 'no response';
  if (r instanceof Error) return r.message;
  if (r.opcode !== Opcode.ERROR) return 'ok';
  const e = responseError(r);
  return `error 0x${e.code.toString(16).padStart(4, '0')}: ${e.message}`;
}
