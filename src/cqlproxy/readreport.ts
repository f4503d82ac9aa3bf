// Read reports: mirrored reads whose results differ between the clusters, appended to a
// JSON-lines file (which table, which key) and counted in metrics.

import fs from 'node:fs';
import path from 'node:path';

export interface ReadDifference {
  t: string;
  keyspace: string | null;
  table: string | null;
  query: string;
  /** Bound values (hex), which identify the key for prepared reads. */
  values?: string[];
  sourceRows: number;
  targetRows: number;
  /** 'rows' when both answered with different rows, 'error' when one side failed. */
  kind: 'rows' | 'error';
  detail?: string;
}

export class ReadReportLog {
  private stream: fs.WriteStream | undefined;
  count = 0;
  constructor(readonly file: string | undefined) {
    if (file) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      this.stream = fs.createWriteStream(file, { flags: 'a' });
      // A report that cannot be written (disk full, no permission) must not take the proxy down.
      this.stream.on('error', () => (this.stream = undefined));
    }
  }
  record(d: ReadDifference): void {
    this.count++;
    this.stream?.write(JSON.stringify(d) + '\n');
  }
  close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    return new Promise((resolve) => (s && !s.destroyed ? s.end(() => resolve()) : resolve()));
  }
}

export interface ReadReportSummary {
  total: number;
  tables: Array<{ keyspace: string | null; table: string | null; differences: number; sampleKeys: string[] }>;
}

export function summarizeReadReport(file: string, samples = 5): ReadReportSummary {
  const byTable = new Map<string, ReadReportSummary['tables'][number]>();
  let total = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let d: ReadDifference;
    try {
      d = JSON.parse(line) as ReadDifference;
    } catch {
      continue;
    }
    total++;
    const k = `${d.keyspace}.${d.table}`;
    let t = byTable.get(k);
    if (!t) {
      t = { keyspace: d.keyspace, table: d.table, differences: 0, sampleKeys: [] };
      byTable.set(k, t);
    }
    t.differences++;
    if (t.sampleKeys.length < samples) t.sampleKeys.push(d.values?.length ? d.values.join(',') : d.query);
  }
  return { total, tables: [...byTable.values()].sort((a, b) => b.differences - a.differences) };
}
