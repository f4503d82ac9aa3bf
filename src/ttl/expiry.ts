// DynamoDB's rule for when an item has expired: its TTL attribute is a Number of epoch seconds
// (any decimal, e.g. 1.7e9 or 1700000000.25) earlier than now, but not more than five years
// earlier. Other types, and older values, never expire (DynamoDB ignores them too).
import { compareNumbers } from '../dynamo/numbers.js';
import type { Item } from '../dynamo/types.js';

const FIVE_YEARS_MS = 5 * 365 * 24 * 3600 * 1000;

/** Epoch milliseconds as an exact decimal string of seconds. */
function seconds(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  return `${sign}${Math.floor(abs / 1000)}.${String(abs % 1000).padStart(3, '0')}`;
}

export function isExpired(item: Item | undefined, attribute: string, nowMs: number): boolean {
  const value = item?.[attribute];
  if (!value || !('N' in value)) return false;
  return compareNumbers(value.N, seconds(nowMs)) < 0 && compareNumbers(value.N, seconds(nowMs - FIVE_YEARS_MS)) >= 0;
}
