// The last state of an item that this process wrote or read before a compare-and-set, so that its
// next read-modify-write can skip the read (tables with a stream or indexes read before every write).
//
// Safe because a version names one content: every write of an item sets a new version (placing a
// transaction's intent too), and writes of these tables are compare-and-set on it. A write decided
// from a known state that another process has changed meanwhile fails its compare-and-set, and the
// writer reads the item and decides again; a decision that would not write or would fail (a
// condition) is only trusted after a read.
//
// Known states are forgotten after MAX_AGE_MS: a stream record names the version its write
// replaces, and a reader deciding an orphaned record (its writer died) looks for the record of a
// rival write of that version only about a minute back (streams/record-log.ts resolveFromLog).
import type { StoredItem } from './translator.js';

/** JSON bytes of known items kept per process (oldest forgotten first). */
const BUDGET_BYTES = 16 << 20;
const ABSENT_BYTES = 64;
export const MAX_AGE_MS = 20_000;

interface Known {
  item: StoredItem | null;
  at: number;
}

export class KnownItems {
  /** Map order is the order states were seen in (set() moves an entry to the end). */
  private readonly items = new Map<string, Known>();
  private bytes = 0;

  constructor(private readonly budget = BUDGET_BYTES) {}

  /** The item's known state (null: absent); undefined when unknown or too old. */
  get(key: string, now = Date.now()): StoredItem | null | undefined {
    const known = this.items.get(key);
    if (known === undefined) return undefined;
    if (now - known.at > MAX_AGE_MS) {
      this.forget(key);
      return undefined;
    }
    return known.item;
  }

  /** Records the item's state as seen now (null: absent). */
  set(key: string, item: StoredItem | null, now = Date.now()): void {
    this.forget(key);
    const size = sizeOf(key, item);
    if (size > this.budget / 64) return; // a few large items must not push out everything else
    this.items.set(key, { item, at: now });
    this.bytes += size;
    for (const [oldest, known] of this.items) {
      if (this.bytes <= this.budget) break;
      this.items.delete(oldest);
      this.bytes -= sizeOf(oldest, known.item);
    }
  }

  forget(key: string): void {
    const known = this.items.get(key);
    if (known === undefined) return;
    this.items.delete(key);
    this.bytes -= sizeOf(key, known.item);
  }

  get size(): number {
    return this.items.size;
  }
}

const sizeOf = (key: string, item: StoredItem | null) => key.length + (item ? item.json.length : ABSENT_BYTES);
