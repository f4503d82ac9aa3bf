// Durable log of writes the target cluster did not apply. One JSON object per line;
// appends are group-committed (write + fdatasync once per event-loop turn) before the
// callers are told the entry is safe, so an answered client write is never lost.

import fs from 'node:fs';
import path from 'node:path';

export interface FailedWrite {
  /** ISO time of the failure. */
  t: string;
  /** Protocol version of the body. */
  v: number;
  /** Keyspace the connection had with USE (unqualified names resolve against it). */
  ks: string | null;
  /** Opcode: QUERY, EXECUTE or BATCH. */
  op: number;
  /** Request body as sent to the source (client-visible prepared ids, explicit timestamp). */
  body: string;
  /** Prepared statements the body refers to: client id (hex) → query text and keyspace. */
  prepared?: Record<string, { query: string; keyspace: string | null }>;
  /**
   * Applying it twice changes the result (counter update, list append, or unsure) and the target
   * may have applied it although it failed (timeout, connection lost after sending): replay sets
   * these aside unless told otherwise. Writes the target refused or never got are not marked.
   */
  repeats?: true;
  reason: string;
}

export class FailedWriteLog {
  private fd: number | undefined;
  private ino = 0;
  private queue: Array<{ line: string; cb: (err?: Error) => void }> = [];
  private scheduled = false;
  count = 0;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  private open(): number {
    // Reopen when `replay` renamed the file away, so new entries start a fresh log.
    if (this.fd !== undefined) {
      let current = -1;
      try {
        current = fs.statSync(this.file).ino;
      } catch {
        /* renamed or deleted */
      }
      if (current === this.ino) return this.fd;
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.ino = fs.fstatSync(this.fd).ino;
    return this.fd;
  }

  append(entry: FailedWrite, cb: (err?: Error) => void = () => {}): void {
    this.queue.push({ line: JSON.stringify(entry) + '\n', cb });
    this.count++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  appendAsync(entry: FailedWrite): Promise<void> {
    return new Promise((resolve, reject) => this.append(entry, (e) => (e ? reject(e) : resolve())));
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let err: Error | undefined;
    try {
      const fd = this.open();
      fs.writeSync(fd, batch.map((b) => b.line).join(''));
      fs.fdatasyncSync(fd);
    } catch (e) {
      err = e as Error;
    }
    for (const b of batch) b.cb(err);
  }

  close(): void {
    if (this.queue.length) this.flush();
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

export function readFailedWrites(file: string): FailedWrite[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: FailedWrite[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as FailedWrite);
    } catch {
      // A torn last line (crash mid-write) was never acknowledged to a client.
    }
  }
  return out;
}
