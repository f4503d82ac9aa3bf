// StreamSpecification on CreateTable and UpdateTable, and the stream fields of a TableDescription.
import { validation } from '../dynamo/errors.js';
import type { TableDefinition } from '../storage/catalog.js';
import { streamArn, streamKey, streamLabel, type StreamInfo, type StreamViewType } from './model.js';
import type { StreamLog } from './record-log.js';

/** Shards per stream: readers can read this many in parallel. */
export const STREAM_SHARDS = 4;

export interface StreamSpecification {
  StreamEnabled: boolean;
  StreamViewType?: string;
}

function checkSpecification(spec: StreamSpecification): void {
  if (spec.StreamEnabled && !spec.StreamViewType) {
    throw validation('Invalid StreamViewType: Stream ViewType must not be null or empty when enabling streams.');
  }
  if (!spec.StreamEnabled && spec.StreamViewType) {
    throw validation('Invalid StreamViewType: Stream StreamEnabled was false but a StreamViewType was present.');
  }
}

const newStream = (viewType: string, now: number, previous?: StreamInfo): StreamInfo => {
  // Labels are times to the millisecond: a re-enable in the same millisecond still gets a new one.
  const createdAt = Math.max(now, (previous?.createdAt ?? 0) + 1);
  return { label: streamLabel(createdAt), viewType: viewType as StreamViewType, shards: STREAM_SHARDS, createdAt };
};

/** The stream of a table created with `spec` (checked as DynamoDB checks it). */
export function streamAtCreate(spec: StreamSpecification | undefined, now: number): StreamInfo | undefined {
  if (!spec) return undefined;
  checkSpecification(spec);
  return spec.StreamEnabled ? newStream(spec.StreamViewType!, now) : undefined;
}

/** The table's stream after UpdateTable's `spec`: a new stream on enable, the old one closed on disable. */
export function streamAtUpdate(d: TableDefinition, spec: StreamSpecification, now: number): StreamInfo {
  checkSpecification(spec);
  const enabled = d.stream && d.stream.disabledAt === undefined;
  if (spec.StreamEnabled) {
    if (enabled) throw validation('Table already has an enabled stream');
    return newStream(spec.StreamViewType!, now, d.stream);
  }
  if (!enabled) throw validation('Table has no stream to disable');
  return { ...d.stream!, disabledAt: now };
}

/** Records the change of a table's stream in the list of streams (ListStreams, DescribeStream). */
export async function publishStream(log: StreamLog, d: TableDefinition, before?: StreamInfo): Promise<void> {
  const s = d.stream;
  if (!s || s === before) return;
  const key = streamKey(d.name, s.label);
  if (s.disabledAt !== undefined) {
    await log.disable(key, s.disabledAt);
    return;
  }
  if (before && before.disabledAt === undefined) await log.disable(streamKey(d.name, before.label), s.createdAt);
  await log.register({ stream: key, table: d.name, viewType: s.viewType, shards: s.shards, keySchema: d.key, createdAt: s.createdAt });
}

/** StreamSpecification (while enabled) and LatestStreamLabel/LatestStreamArn (while any stream exists). */
export function describeStreamFields(region: string, account: string, d: TableDefinition): Record<string, unknown> {
  const s = d.stream;
  if (!s) return {};
  return {
    ...(s.disabledAt === undefined ? { StreamSpecification: { StreamEnabled: true, StreamViewType: s.viewType } } : {}),
    LatestStreamLabel: s.label,
    LatestStreamArn: streamArn(region, account, streamKey(d.name, s.label)),
  };
}
