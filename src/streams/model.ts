// The DynamoDB Streams model, free of Cassandra and HTTP: stream identities and ARNs, shard ids,
// sequence numbers, shard iterators, and the record as GetRecords returns it.
import { crc32 } from 'node:zlib';
import { attributeValuesEqual, itemSize } from '../dynamo/attribute-values.js';
import type { Item, KeySchema } from '../dynamo/types.js';

export type StreamViewType = 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES';
export const VIEW_TYPES: readonly StreamViewType[] = ['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY'];

/** A table's latest stream, kept in its catalog definition (also after it is disabled). */
export interface StreamInfo {
  /** The stream label: the enable time, as DynamoDB writes it (2026-12-02T17:55:29.557). */
  label: string;
  viewType: StreamViewType;
  shards: number;
  createdAt: number;
  /** Set once disabled (ms); a new enable makes a new stream. */
  disabledAt?: number;
}

/** Retention of stream records (24 hours, as in DynamoDB). */
export const RETENTION_MS = 24 * 3600_000;
/** Shard iterators expire after 15 minutes. */
export const ITERATOR_TTL_MS = 15 * 60_000;

/** The part of a stream ARN that names it whatever region and account the caller sees. */
export const streamKey = (table: string, label: string) => `${table}/stream/${label}`;

export function streamArn(region: string, account: string, key: string): string {
  return `arn:aws:dynamodb:${region}:${account}:table/${key}`;
}

/** The stream key of an ARN (undefined when it is not a stream ARN). */
export function keyOfArn(arn: string): string | undefined {
  const m = /^arn:aws[\w-]*:dynamodb:[^:]*:[^:]*:table\/([a-zA-Z0-9_.-]{3,255}\/stream\/[0-9T:.-]+)$/.exec(arn);
  return m?.[1];
}

/** A label for a stream enabled at `ms`, ISO 8601 without the zone, as DynamoDB's. */
export const streamLabel = (ms: number) => new Date(ms).toISOString().slice(0, -1);

/**
 * Shard ids: `shardId-<20-digit creation ms>-<8 hex>`, as DynamoDB's. The hex part is the shard's
 * number within the stream, so the id alone locates the shard.
 */
export function shardId(info: StreamInfo, shard: number): string {
  return `shardId-${String(info.createdAt).padStart(20, '0')}-${shard.toString(16).padStart(8, '0')}`;
}

export function shardOfId(info: StreamInfo, id: string): number | undefined {
  const m = /^shardId-(\d{20})-([0-9a-f]{8})$/.exec(id);
  if (!m || Number(m[1]) !== info.createdAt) return undefined;
  const n = parseInt(m[2]!, 16);
  return n < info.shards ? n : undefined;
}

/** The shard an item's records go to: a hash of its partition key, so one item keeps one shard. */
export function shardOfItem(key: Item, schema: KeySchema, shards: number): number {
  return crc32(JSON.stringify(key[schema.hash.name])) % shards;
}

/** The tie-breaker of records with the same sequence: a hash of the item's whole key. */
export const keyHash = (itemKey: string) => crc32(itemKey);

/**
 * A position in a shard: a record's (seq, kh), ordered by seq then kh. seq is the item version of
 * the change (µs · 1024 + random, see storage/indexes.ts), so it grows per item and roughly with time.
 */
export interface Position {
  seq: bigint;
  kh: number;
}

/** Sequence numbers: 20 digits of seq and 10 of kh, so text order is record order. */
export function sequenceNumber(p: Position): string {
  return p.seq.toString().padStart(20, '0') + String(p.kh).padStart(10, '0');
}

export function parseSequenceNumber(s: string): Position | undefined {
  if (!/^\d{30}$/.test(s)) return undefined;
  return { seq: BigInt(s.slice(0, 20)), kh: Number(s.slice(20)) };
}

/** The seq of a moment (ms), below every version written after it. */
export const seqOfTime = (ms: number) => BigInt(Math.floor(ms)) * 1000n * 1024n;
export const timeOfSeq = (seq: bigint) => Number(seq / 1024n / 1000n);

export const comparePositions = (a: Position, b: Position) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : a.kh - b.kh);

/** What a shard iterator carries: where to read next (exclusive), and when it was issued. */
export interface IteratorState {
  stream: string;
  shard: number;
  after: Position;
  issued: number;
}

export function encodeIterator(arn: string, it: IteratorState): string {
  const body = [it.stream, it.shard, it.after.seq.toString(), it.after.kh, it.issued].join('|');
  // The ARN in front, as DynamoDB's iterators begin; the rest is opaque.
  return `${arn}|1|${Buffer.from(body).toString('base64url')}`;
}

export function decodeIterator(text: string): IteratorState | undefined {
  const cut = text.lastIndexOf('|');
  if (cut < 0) return undefined;
  const parts = Buffer.from(text.slice(cut + 1), 'base64url').toString().split('|');
  if (parts.length !== 5 || !/^-?\d+$/.test(parts[2]!)) return undefined;
  const [stream, shard, seq, kh, issued] = parts as [string, string, string, string, string];
  const out = { stream, shard: Number(shard), after: { seq: BigInt(seq), kh: Number(kh) }, issued: Number(issued) };
  if (!Number.isInteger(out.shard) || !Number.isInteger(out.after.kh) || !Number.isFinite(out.issued)) return undefined;
  return out;
}

export type EventName = 'INSERT' | 'MODIFY' | 'REMOVE';

/** A change as the log keeps it: the images its stream's view type asks for. */
export interface ChangeRecord {
  position: Position;
  eventName: EventName;
  keys: Item;
  newImage?: Item;
  oldImage?: Item;
  createdMs: number;
  /** A TTL expiry (a deletion by the service, not by a user). */
  expiry: boolean;
  /** Written by a replicator (see REPLICATOR_HEADER). */
  replicated?: boolean;
}

/**
 * A request carrying this header is a replicator's write: its stream records name
 * REPLICATOR_PRINCIPAL in userIdentity, and a replicator running the other way skips them (the
 * loop guard of two-way replication). Replicators writing to Cassandra directly mark theirs too.
 */
export const REPLICATOR_HEADER = 'x-dynamo-cassandra-replicator';
export const REPLICATOR_PRINCIPAL = 'replicator.dynamo-cassandra';

/** The event of a change from `old` to `next` (undefined: deleted); undefined when nothing changed. */
export function eventOf(old: Item | undefined, next: Item | undefined): EventName | undefined {
  if (!next) return old ? 'REMOVE' : undefined;
  if (!old) return 'INSERT';
  return attributeValuesEqual({ M: old }, { M: next }) ? undefined : 'MODIFY';
}

/** The images of a change that a view type keeps. */
export function imagesFor(view: StreamViewType, old: Item | undefined, next: Item | undefined): { newImage?: Item; oldImage?: Item } {
  return {
    newImage: view === 'NEW_IMAGE' || view === 'NEW_AND_OLD_IMAGES' ? next : undefined,
    oldImage: view === 'OLD_IMAGE' || view === 'NEW_AND_OLD_IMAGES' ? old : undefined,
  };
}

/** The record in GetRecords' shape. SizeBytes counts the keys and images, as DynamoDB does. */
export function wireRecord(r: ChangeRecord, view: StreamViewType, region: string, streamId: string): Record<string, unknown> {
  const dynamodb: Record<string, unknown> = {
    ApproximateCreationDateTime: Math.floor(r.createdMs / 1000),
    Keys: r.keys,
    ...(r.newImage ? { NewImage: r.newImage } : {}),
    ...(r.oldImage ? { OldImage: r.oldImage } : {}),
    SequenceNumber: sequenceNumber(r.position),
    SizeBytes: itemSize(r.keys) + (r.newImage ? itemSize(r.newImage) : 0) + (r.oldImage ? itemSize(r.oldImage) : 0),
    StreamViewType: view,
  };
  const out: Record<string, unknown> = {
    eventID: eventId(streamId, r.position),
    eventName: r.eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb,
  };
  if (r.expiry) out.userIdentity = { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' };
  else if (r.replicated) out.userIdentity = { Type: 'Service', PrincipalId: REPLICATOR_PRINCIPAL };
  return out;
}

/** A stable, unique event id in UUID form, derived from the stream and the record's position. */
function eventId(streamId: string, p: Position): string {
  const hex = (crc32(streamId).toString(16).padStart(8, '0') + p.kh.toString(16).padStart(8, '0') + p.seq.toString(16).padStart(16, '0')).slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The stream records are written to, if the table has an enabled one. */
export function liveStream(d: { stream?: StreamInfo }): StreamInfo | undefined {
  return d.stream && d.stream.disabledAt === undefined ? d.stream : undefined;
}
