// The `table` label of the API metrics, kept bounded: a table gets a label of its own only once a
// request on it succeeded (so it exists), at most `max` tables at a time; every other name is
// counted under `other`. A table's series go when it is deleted (DeleteTable here, or a
// ResourceNotFoundException that shows another process deleted it), which frees its place.
import type { Counter, Histogram } from 'prom-client';

/** The label of requests for tables without one of their own. */
export const OTHER_TABLE = 'other';

type Labels = Record<string, string>;

/** The metrics whose series carry a table label. */
export interface TableSeries {
  requests: Counter<'action' | 'table' | 'status'>;
  errors: Counter<'action' | 'table' | 'type'>;
  latency: Histogram<'action' | 'table'>;
}

/** What one request tells about its table, for its label and for the table's place. */
export interface TableOutcome {
  action: string;
  status: number;
  /** The error's name when the request failed. */
  errorName?: string;
}

export class TableLabels {
  /** Labelled tables, each with the label sets its series were given (to remove them exactly). */
  private readonly tables = new Map<string, Map<string, { metric: keyof TableSeries; labels: Labels }>>();

  constructor(
    private readonly series: TableSeries,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.tables.size;
  }

  /** Counts one request: requests, errors and latency, under the table's label. */
  record(table: unknown, outcome: TableOutcome, seconds: number): void {
    const label = this.labelOf(table, outcome);
    const action = outcome.action || 'unknown';
    const status = String(outcome.status);
    this.observe(label, 'requests', { action, table: label, status }, (l) => this.series.requests.inc(l));
    if (outcome.errorName !== undefined) {
      this.observe(label, 'errors', { action, table: label, type: outcome.errorName }, (l) => this.series.errors.inc(l));
    }
    this.observe(label, 'latency', { action, table: label }, (l) => this.series.latency.observe(l, seconds));
    // After counting: the request for a deleted table stays counted until the next scrape of
    // the table's series, which go now.
    if (typeof table === 'string' && this.tables.has(table) && isGone(outcome)) this.forget(table);
  }

  /** Removes every series of a table and frees its place. */
  forget(table: string): void {
    const seen = this.tables.get(table);
    if (!seen) return;
    for (const { metric, labels } of seen.values()) (this.series[metric] as { remove(l: Labels): void }).remove(labels);
    this.tables.delete(table);
  }

  private labelOf(table: unknown, outcome: TableOutcome): string {
    if (typeof table !== 'string' || table === '' || table === OTHER_TABLE) return table === undefined ? '' : OTHER_TABLE;
    if (this.tables.has(table)) return table;
    if (outcome.status === 200 && !isGone(outcome) && this.tables.size < this.max) {
      this.tables.set(table, new Map());
      return table;
    }
    return OTHER_TABLE;
  }

  private observe(label: string, metric: keyof TableSeries, labels: Labels, apply: (l: Labels) => void): void {
    apply(labels);
    const seen = this.tables.get(label);
    if (!seen) return;
    const key = `${metric}\u0000${labels.action}\u0000${labels.status ?? labels.type ?? ''}`;
    if (!seen.has(key)) seen.set(key, { metric, labels });
  }
}

/** The request shows its table no longer exists. */
function isGone(outcome: TableOutcome): boolean {
  return (outcome.action === 'DeleteTable' && outcome.status === 200) || outcome.errorName === 'ResourceNotFoundException';
}
