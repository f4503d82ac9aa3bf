// Random bits for ids and versions from one pooled buffer: one getRandomValues call per 8 KiB,
// not one per write or per transaction (a call per write was a tenth of a bulk writer's CPU time).
import { getRandomValues } from 'node:crypto';

const pool = Buffer.alloc(8192);
let at = pool.length;

function take(n: number): number {
  if (at + n > pool.length) {
    getRandomValues(pool);
    at = 0;
  }
  const start = at;
  at += n;
  return start;
}

/** 16 random bits. */
export function random16(): number {
  return pool.readUInt16LE(take(2));
}

/** `n` random bytes: a view of the pool, to be used or copied at once (a later refill overwrites it). */
export function randomView(n: number): Buffer {
  const start = take(n);
  return pool.subarray(start, start + n);
}
