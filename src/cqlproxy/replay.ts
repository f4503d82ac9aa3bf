// Replay of the failed-write log against the target. Entries carry explicit write
// timestamps, so replaying after newer writes converges (last write wins) and a
// second replay of the same entry is harmless; entries for which that is not true
// (counters, list appends) and which the target may already have applied are set aside.

import fs from 'node:fs';
import { BackendConnection, handshake, plainToken, type BackendTls, type Endpoint } from './backend.js';
import { BodyReader, BodyWriter, Opcode, parseError, responseBodyStart, type Frame } from './frame.js';
import { readFailedWrites, type FailedWrite } from './failedlog.js';
import { parseBatch, parseExecuteHead, parsePreparedResult, prepareBody, queryBody, withExecuteIds, type PreparedResult } from './messages.js';
import type { Credentials, Logger } from './context.js';

export interface ReplayOptions {
  target: Endpoint[];
  file: string;
  tls?: BackendTls | undefined;
  credentials?: Credentials | undefined;
  timeoutMs?: number;
  /** Wait after taking the log over, for a running proxy to notice and start a new file. */
  graceMs?: number;
  /** Also apply entries marked `repeats` (by default they go to FILE.uncertain). */
  applyUncertain?: boolean;
  logger?: Logger;
}

export interface ReplayResult {
  entries: number;
  replayed: number;
  rejected: number;
  /** File holding entries the target refused (kept for inspection), if any. */
  rejectedFile?: string;
  /** Counter updates and the like the target may already have applied: not replayed. */
  uncertain: number;
  uncertainFile?: string;
}

function describe(f: Frame): string {
  const e = parseError(f.body.subarray(responseBodyStart(f.flags, f.body)));
  return `0x${e.code.toString(16).padStart(4, '0')}: ${e.message}`;
}

export async function replayFailedWrites(opts: ReplayOptions): Promise<ReplayResult> {
  if (!fs.existsSync(opts.file)) return { entries: 0, replayed: 0, rejected: 0, uncertain: 0 };
  // Take the log over atomically; a running proxy reopens a fresh file on its next failure.
  const work = `${opts.file}.replaying-${Date.now()}`;
  fs.renameSync(opts.file, work);
  await new Promise((r) => setTimeout(r, opts.graceMs ?? 1500));
  const all = readFailedWrites(work);
  const entries = opts.applyUncertain ? all : all.filter((e) => !e.repeats);
  const result: ReplayResult = { entries: all.length, replayed: 0, rejected: 0, uncertain: all.length - entries.length };
  if (result.uncertain) {
    result.uncertainFile = `${opts.file}.uncertain`;
    fs.appendFileSync(result.uncertainFile, all.filter((e) => e.repeats).map((e) => JSON.stringify(e) + '\n').join(''));
  }
  if (entries.length === 0) {
    fs.rmSync(work, { force: true });
    return result;
  }
  const rejectedLines: string[] = [];
  const handled = new Set<FailedWrite>();
  const versions = [...new Set(entries.map((e) => e.v))];
  try {
    for (const version of versions) {
      const conn = await connect(opts, version);
      try {
        const session = new ReplaySession(conn);
        for (const e of entries) {
          if (e.v !== version) continue;
          const err = await session.apply(e);
          if (err) {
            result.rejected++;
            rejectedLines.push(JSON.stringify({ ...e, replayError: err }));
            opts.logger?.warn({ err }, 'replay: target refused an entry');
          } else result.replayed++;
          handled.add(e);
        }
      } finally {
        conn.close();
      }
    }
  } catch (err) {
    // Connection trouble: put what is left back into the live log for the next replay.
    const left = entries.filter((e) => !handled.has(e));
    fs.appendFileSync(opts.file, left.map((e) => JSON.stringify(e) + '\n').join(''));
    if (rejectedLines.length) fs.appendFileSync(`${opts.file}.rejected`, rejectedLines.join('\n') + '\n');
    fs.rmSync(work, { force: true });
    throw err;
  }
  if (rejectedLines.length) {
    result.rejectedFile = `${opts.file}.rejected`;
    fs.appendFileSync(result.rejectedFile, rejectedLines.join('\n') + '\n');
  }
  fs.rmSync(work, { force: true });
  return result;
}

async function connect(opts: ReplayOptions, version: number): Promise<BackendConnection> {
  let last: Error | undefined;
  for (const ep of opts.target) {
    const conn = new BackendConnection('target', ep, version, opts.timeoutMs ?? 30000, opts.tls);
    try {
      await conn.connect();
      const creds = opts.credentials;
      await handshake(conn, { CQL_VERSION: '3.0.0' }, async () => (creds ? plainToken(creds.username, creds.password) : undefined));
      return conn;
    } catch (err) {
      conn.close();
      last = err as Error;
    }
  }
  throw last ?? new Error('no target hosts');
}

class ReplaySession {
  private keyspace: string | null = null;
  /** client id hex → target ids, per keyspace the statement was prepared in. */
  private readonly ids = new Map<string, PreparedResult>();

  constructor(private readonly conn: BackendConnection) {}

  private async use(ks: string | null): Promise<void> {
    if (!ks || ks === this.keyspace) return;
    const res = await this.conn.request(Opcode.QUERY, queryBody(`USE "${ks.replace(/"/g, '""')}"`, this.conn.version));
    if (res.opcode === Opcode.ERROR) throw new Error(`USE ${ks}: ${describe(res)}`);
    this.keyspace = ks;
  }

  private async targetIds(hex: string, p: { query: string; keyspace: string | null }): Promise<PreparedResult> {
    const key = `${p.keyspace}|${hex}`;
    const known = this.ids.get(key);
    if (known) return known;
    await this.use(p.keyspace);
    const res = await this.conn.request(Opcode.PREPARE, prepareBody(p.query, this.conn.version));
    if (res.opcode !== Opcode.RESULT) throw new Error(`PREPARE: ${describe(res)}`);
    const ids = parsePreparedResult(res.body, responseBodyStart(res.flags, res.body), this.conn.version);
    this.ids.set(key, ids);
    return ids;
  }

  /** Apply one entry; returns an error text when the target refused it (connection errors throw). */
  async apply(e: FailedWrite): Promise<string | undefined> {
    let body: Buffer = Buffer.from(e.body, 'base64');
    try {
      if (e.op === Opcode.EXECUTE) {
        const head = parseExecuteHead(body, 0, e.v);
        const hex = head.id.toString('hex');
        const p = e.prepared?.[hex];
        if (!p) return `no statement text for prepared id ${hex}`;
        const ids = await this.targetIds(hex, p);
        body = withExecuteIds(body, head, ids.id, ids.metadataId);
      } else if (e.op === Opcode.BATCH) {
        const batch = parseBatch(body, 0, e.v);
        const parts: Buffer[] = [];
        let last = 0;
        for (const be of batch.entries) {
          if (be.kind !== 1) continue;
          const hex = be.id!.toString('hex');
          const p = e.prepared?.[hex];
          if (!p) return `no statement text for prepared id ${hex}`;
          parts.push(body.subarray(last, be.start), new BodyWriter().shortBytes((await this.targetIds(hex, p)).id).build());
          last = be.end;
        }
        parts.push(body.subarray(last));
        body = Buffer.concat(parts);
      }
      await this.use(e.ks);
    } catch (err) {
      if (this.conn.closed) throw err;
      return (err as Error).message;
    }
    const res = await this.conn.request(e.op, body);
    if (res.opcode === Opcode.ERROR) return describe(res);
    return undefined;
  }
}

export function describeEntry(e: FailedWrite): string {
  const body = Buffer.from(e.body, 'base64');
  if (e.op === Opcode.QUERY) return new BodyReader(body).longString();
  if (e.op === Opcode.EXECUTE) {
    const hex = parseExecuteHead(body, 0, e.v).id.toString('hex');
    return e.prepared?.[hex]?.query ?? `EXECUTE ${hex}`;
  }
  return 'BATCH';
}
