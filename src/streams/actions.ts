// The DynamoDB Streams API (X-Amz-Target DynamoDBStreams_20120810.*), served on the same endpoint.
import { DynamoError, resourceNotFound, validation } from '../dynamo/errors.js';
import type { Item } from '../dynamo/types.js';
import { TABLE_NAME, compileValidator, int, obj, oneOf, str } from '../dynamo/validation.js';
import { handleOf, type ActionContext, type ActionSpec, type Request } from '../actions/context.js';
import { keySchemaOf } from '../actions/table-description.js';
import {
  ITERATOR_TTL_MS, RETENTION_MS, decodeIterator, encodeIterator, keyOfArn, parseSequenceNumber, seqOfTime, sequenceNumber,
  shardId, shardOfId, streamArn, timeOfSeq, wireRecord, type Position, type StreamInfo,
} from './model.js';
import { CACHE_MS } from '../storage/catalog.js';
import { SKEW_MS, type StreamMeta } from './record-log.js';

const COMMON = 'com.amazonaws.dynamodb.v20120810#';
const expiredIterator = (issued: number) =>
  new DynamoError(
    COMMON + 'ExpiredIteratorException',
    `Iterator expired. The iterator was created at time ${new Date(issued).toUTCString()} while right now it is ${new Date().toUTCString()}.`,
  );
const trimmed = () =>
  new DynamoError(
    COMMON + 'TrimmedDataAccessException',
    'The operation attempted to read past the oldest stream record in a shard.',
  );

const STREAM_ARN = str({ min: 37, max: 1024 });
const SHARD_ID = str({ min: 28, max: 65 });
const ITERATOR_TYPES = ['TRIM_HORIZON', 'LATEST', 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER'];
const MAX_RECORDS = 1000;
/**
 * A new stream is ENABLING until every process writes its records: until each has read the
 * catalog again (CACHE_MS), whatever their clocks (SKEW_MS). Records are readable meanwhile.
 */
export const ENABLING_MS = CACHE_MS + SKEW_MS;

/** DescribeStream's StreamStatus at `now`: ENABLING, ENABLED, then DISABLING until the shards close. */
export function streamStatus(m: StreamMeta, closed: boolean, now: number): string {
  if (m.disabledAt !== undefined) return closed ? 'DISABLED' : 'DISABLING';
  return now < m.createdAt + ENABLING_MS ? 'ENABLING' : 'ENABLED';
}

const arnOf = (ctx: ActionContext, m: { stream: string }) => streamArn(ctx.config.region, ctx.config.accountId, m.stream);

async function streamOf(ctx: ActionContext, arn: string): Promise<StreamMeta> {
  const key = keyOfArn(arn);
  const meta = key ? await ctx.store.streams.get(key) : undefined;
  if (!meta || (meta.disabledAt ?? Infinity) < Date.now() - RETENTION_MS) {
    throw resourceNotFound(`Requested resource not found: Stream: ${arn} not found`);
  }
  return meta;
}

// Shard ids are derived from the stream's creation time, like the catalog's StreamInfo.
const infoOf = (m: StreamMeta): StreamInfo => ({ label: '', viewType: m.viewType, shards: m.shards, createdAt: m.createdAt });

function shardOf(m: StreamMeta, id: string): number {
  const shard = shardOfId(infoOf(m), id);
  if (shard === undefined) throw resourceNotFound('Requested resource not found: Shard does not exist');
  return shard;
}

/** The first position a reader may ask for: the stream's start (less clock skew), or the retention limit. */
function oldestPosition(m: StreamMeta, now: number): Position {
  return { seq: seqOfTime(Math.max(m.createdAt - SKEW_MS - 1000, now - RETENTION_MS)) - 1n, kh: 0xffffffff };
}

function checkNotTrimmed(m: StreamMeta, p: Position, now: number): void {
  if (m.createdAt < now - RETENTION_MS && timeOfSeq(p.seq) < now - RETENTION_MS) throw trimmed();
}

/** Reads the item of a stale pending record, through Paxos, if its table is still the stream's. */
function itemReader(ctx: ActionContext) {
  return async (m: StreamMeta, key: Item) => {
    const entry = await ctx.catalog.get(m.table);
    if (!entry || entry.definition.createdAt > m.createdAt) return undefined;
    return ctx.store.readSerial(handleOf(ctx, entry), key);
  };
}

export const listStreams: ActionSpec = {
  validate: compileValidator(obj({ TableName: TABLE_NAME, Limit: int({ min: 1, max: 100 }), ExclusiveStartStreamArn: STREAM_ARN })),
  tableOf: (r) => r.TableName,
  async run(ctx, req: Request) {
    const after = req.ExclusiveStartStreamArn ? keyOfArn(req.ExclusiveStartStreamArn) : undefined;
    const { streams, more } = await ctx.store.streams.list(after, req.Limit ?? 100, req.TableName);
    const out: Record<string, unknown> = {
      Streams: streams.map((m) => ({ StreamArn: arnOf(ctx, m), TableName: m.table, StreamLabel: m.stream.slice(m.stream.lastIndexOf('/') + 1) })),
    };
    if (more && streams.length) out.LastEvaluatedStreamArn = arnOf(ctx, streams[streams.length - 1]!);
    return out;
  },
};

export const describeStream: ActionSpec = {
  validate: compileValidator(obj({ StreamArn: STREAM_ARN, Limit: int({ min: 1, max: 100 }), ExclusiveStartShardId: SHARD_ID }, ['StreamArn'])),
  async run(ctx, req: Request) {
    const m = await streamOf(ctx, req.StreamArn);
    const now = Date.now();
    const { end, closed } = ctx.store.streams.readableEnd(m, now);
    const info = infoOf(m);
    const start = sequenceNumber({ seq: seqOfTime(Math.max(m.createdAt, now - RETENTION_MS)), kh: 0 });
    const first = req.ExclusiveStartShardId ? (shardOfId(info, req.ExclusiveStartShardId) ?? -1) + 1 : 0;
    const last = Math.min(m.shards, first + (req.Limit ?? 100));
    const shards = [];
    for (let i = first; i < last; i++) {
      const range: Record<string, string> = { StartingSequenceNumber: start };
      if (closed) range.EndingSequenceNumber = sequenceNumber(end);
      shards.push({ ShardId: shardId(info, i), SequenceNumberRange: range });
    }
    const status = streamStatus(m, closed, now);
    const description: Record<string, unknown> = {
      StreamArn: arnOf(ctx, m),
      StreamLabel: m.stream.slice(m.stream.lastIndexOf('/') + 1),
      StreamStatus: status,
      StreamViewType: m.viewType,
      CreationRequestDateTime: m.createdAt / 1000,
      TableName: m.table,
      KeySchema: keySchemaOf({ key: m.keySchema } as never),
      Shards: shards,
    };
    if (last < m.shards) description.LastEvaluatedShardId = shardId(info, last - 1);
    return { StreamDescription: description };
  },
};

export const getShardIterator: ActionSpec = {
  validate: compileValidator(
    obj(
      { StreamArn: STREAM_ARN, ShardId: SHARD_ID, ShardIteratorType: oneOf(ITERATOR_TYPES), SequenceNumber: str({ min: 21, max: 40 }) },
      ['StreamArn', 'ShardId', 'ShardIteratorType'],
    ),
  ),
  async run(ctx, req: Request) {
    const m = await streamOf(ctx, req.StreamArn);
    const shard = shardOf(m, req.ShardId);
    const now = Date.now();
    let after: Position;
    if (req.ShardIteratorType === 'TRIM_HORIZON') after = oldestPosition(m, now);
    else if (req.ShardIteratorType === 'LATEST') after = ctx.store.streams.readableEnd(m, now).end;
    else {
      const at = req.SequenceNumber ? parseSequenceNumber(req.SequenceNumber) : undefined;
      if (!at) throw validation('One or more parameter values were invalid: Invalid SequenceNumber');
      checkNotTrimmed(m, at, now);
      // AT: just before the record (kh is the second half of its position).
      after = req.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER' ? at : at.kh > 0 ? { seq: at.seq, kh: at.kh - 1 } : { seq: at.seq - 1n, kh: 0xffffffff };
    }
    return { ShardIterator: encodeIterator(req.StreamArn, { stream: m.stream, shard, after, issued: now }) };
  },
};

export const getRecords: ActionSpec = {
  validate: compileValidator(obj({ ShardIterator: str({ min: 1, max: 2048 }), Limit: int({ min: 1 }) }, ['ShardIterator'])),
  async run(ctx, req: Request) {
    if (req.Limit !== undefined && req.Limit > MAX_RECORDS) {
      throw validation(`One or more parameter values were invalid: Limit should be less than or equal to ${MAX_RECORDS}`);
    }
    const it = decodeIterator(req.ShardIterator);
    const arn = (req.ShardIterator as string).slice(0, Math.max(0, (req.ShardIterator as string).indexOf('|')));
    if (!it || keyOfArn(arn) !== it.stream) throw validation('Invalid ShardIterator');
    const now = Date.now();
    if (now - it.issued > ITERATOR_TTL_MS) throw expiredIterator(it.issued);
    const m = await streamOf(ctx, arn);
    if (it.shard < 0 || it.shard >= m.shards) throw validation('Invalid ShardIterator');
    checkNotTrimmed(m, it.after, now);
    const after = it.after.seq < oldestPosition(m, now).seq ? oldestPosition(m, now) : it.after;
    const page = await ctx.store.streams.read(m, it.shard, after, req.Limit ?? MAX_RECORDS, itemReader(ctx));
    const out: Record<string, unknown> = {
      Records: page.records.map((r) => wireRecord(r, m.viewType, ctx.config.region, m.stream)),
    };
    if (page.next) out.NextShardIterator = encodeIterator(arn, { stream: m.stream, shard: it.shard, after: page.next, issued: Date.now() });
    return out;
  },
};

export const streamActions: Record<string, ActionSpec> = {
  ListStreams: listStreams,
  DescribeStream: describeStream,
  GetShardIterator: getShardIterator,
  GetRecords: getRecords,
};
