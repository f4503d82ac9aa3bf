// The cases recorded from Amazon DynamoDB Local (test/unit/recorded-cases.json): the items the
// requests run against and, per request, what DynamoDB Local answered. Read by the unit test
// and rewritten by test/record-cases.ts.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RecordedCase {
  /**
   * cond/lcond: a condition (expression, or legacy Expected in body) on DeleteItem/PutItem, ok is
   * whether it held; update/lupdate: an UpdateItem, ok its returned attributes; proj: a GetItem
   * projection; raw: a whole request (body) of `action`, ok "ok" when it passed validation;
   * item: an attribute value written and read back.
   */
  kind: 'cond' | 'update' | 'proj' | 'raw' | 'lcond' | 'lupdate' | 'item';
  /** Index into ITEMS, -1 = no item. */
  item: number;
  expr?: string;
  values?: Record<string, unknown>;
  names?: Record<string, string>;
  rv?: string;
  action?: string;
  body?: Record<string, unknown>;
  table?: string;
  value?: unknown;
  expect: { ok?: unknown; err?: string; msg?: string };
}

/** The JSON file beside the test sources (this module runs from dist/test/). */
export const RECORDED_CASES_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'unit', 'recorded-cases.json');

const data = JSON.parse(readFileSync(RECORDED_CASES_FILE, 'utf8')) as { items: Record<string, unknown>[]; cases: RecordedCase[] };

export const ITEMS = data.items;
export const CASES = data.cases;

/** The file's layout: one item or case per line, so a re-recording diffs line by line. */
export function formatRecordedCases(items: unknown[], cases: RecordedCase[]): string {
  const lines = (list: unknown[]) => list.map((x) => JSON.stringify(x)).join(',\n');
  return `{\n"items": [\n${lines(items)}\n],\n"cases": [\n${lines(cases)}\n]\n}\n`;
}

/** Results compare with sets order-insensitive and object keys sorted. */
export function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      let x = canon((v as Record<string, unknown>)[k]);
      if ((k === 'SS' || k === 'NS' || k === 'BS') && Array.isArray(x)) x = [...x].sort();
      o[k] = x;
    }
    return o;
  }
  return v;
}
