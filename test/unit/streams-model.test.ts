// The Streams model without Cassandra: sequence numbers, iterators, ARNs, shard ids, events, images.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  comparePositions, decodeIterator, encodeIterator, eventOf, imagesFor, keyOfArn, parseSequenceNumber, seqOfTime, sequenceNumber,
  shardId, shardOfId, shardOfItem, streamArn, streamKey, streamLabel, timeOfSeq, wireRecord, type StreamInfo,
} from '../../src/streams/model.js';

test('sequence numbers: 30 digits whose text order is the position order, and back', () => {
  const a = { seq: 1796234129557000n * 1024n + 5n, kh: 42 };
  const b = { seq: a.seq, kh: 4294967295 };
  const c = { seq: a.seq + 1n, kh: 0 };
  for (const p of [a, b, c]) {
    assert.match(sequenceNumber(p), /^\d{30}$/);
    assert.deepEqual(parseSequenceNumber(sequenceNumber(p)), p);
  }
  assert.ok(sequenceNumber(a) < sequenceNumber(b) && sequenceNumber(b) < sequenceNumber(c));
  assert.ok(comparePositions(a, b) < 0 && comparePositions(b, c) < 0 && comparePositions(c, c) === 0);
  assert.equal(parseSequenceNumber('000000000000000000002'), undefined, "DynamoDB Local's numbers are not ours");
  assert.equal(timeOfSeq(seqOfTime(1796234129557)), 1796234129557);
});

test('iterators carry stream, shard, position and issue time; garbage decodes to nothing', () => {
  const state = { stream: 'orders/stream/2026-12-02T17:55:29.557', shard: 3, after: { seq: 123456789012345678n, kh: 7 }, issued: 1796234129557 };
  const arn = streamArn('us-east-1', '000000000000', state.stream);
  const it = encodeIterator(arn, state);
  assert.ok(it.startsWith(`${arn}|`));
  assert.deepEqual(decodeIterator(it), state);
  assert.equal(decodeIterator('garbage'), undefined);
  assert.equal(decodeIterator(`${arn}|1|${Buffer.from('a|b').toString('base64url')}`), undefined);
});

test('ARNs, labels and shard ids', () => {
  const label = streamLabel(Date.UTC(2026, 11, 2, 17, 55, 29, 557));
  assert.equal(label, '2026-12-02T17:55:29.557');
  const key = streamKey('my.table-1', label);
  assert.equal(keyOfArn(streamArn('eu-west-1', '123456789012', key)), key);
  assert.equal(keyOfArn('arn:aws:dynamodb:us-east-1:0:table/t'), undefined);
  const info: StreamInfo = { label, viewType: 'KEYS_ONLY', shards: 4, createdAt: 1796234129557 };
  for (let i = 0; i < 4; i++) assert.equal(shardOfId(info, shardId(info, i)), i);
  assert.match(shardId(info, 2), /^shardId-00000001796234129557-00000002$/);
  assert.equal(shardOfId(info, shardId({ ...info, shards: 8 }, 5)), undefined, 'past the shard count');
  assert.equal(shardOfId(info, shardId({ ...info, createdAt: 1 }, 0)), undefined, 'of another stream');
  const schema = { hash: { name: 'pk', type: 'S' as const }, range: { name: 'sk', type: 'N' as const } };
  const shard = shardOfItem({ pk: { S: 'a' }, sk: { N: '1' } }, schema, 4);
  assert.equal(shardOfItem({ pk: { S: 'a' }, sk: { N: '2' } }, schema, 4), shard, 'one partition key, one shard');
});

test('events: INSERT, MODIFY, REMOVE, and none when nothing changes (sets unordered, numbers by value)', () => {
  const item = { pk: { S: 'a' }, s: { SS: ['x', 'y'] }, n: { N: '1' } };
  assert.equal(eventOf(undefined, item), 'INSERT');
  assert.equal(eventOf(item, undefined), 'REMOVE');
  assert.equal(eventOf(undefined, undefined), undefined);
  assert.equal(eventOf(item, { n: { N: '1' }, s: { SS: ['y', 'x'] }, pk: { S: 'a' } }), undefined);
  assert.equal(eventOf(item, { ...item, n: { N: '2' } }), 'MODIFY');
  assert.equal(eventOf(item, { ...item, extra: { NULL: true } }), 'MODIFY');
});

test('images by view type, and the record as GetRecords returns it', () => {
  const old = { pk: { S: 'a' }, v: { N: '1' } };
  const next = { pk: { S: 'a' }, v: { N: '2' } };
  assert.deepEqual(imagesFor('KEYS_ONLY', old, next), { newImage: undefined, oldImage: undefined });
  assert.deepEqual(imagesFor('NEW_IMAGE', old, next), { newImage: next, oldImage: undefined });
  assert.deepEqual(imagesFor('OLD_IMAGE', old, next), { newImage: undefined, oldImage: old });
  assert.deepEqual(imagesFor('NEW_AND_OLD_IMAGES', old, next), { newImage: next, oldImage: old });
  const position = { seq: seqOfTime(1796234129557), kh: 9 };
  const r = wireRecord({ position, eventName: 'MODIFY', keys: { pk: { S: 'a' } }, newImage: next, oldImage: old, createdMs: 1796234129557, expiry: false }, 'NEW_AND_OLD_IMAGES', 'us-east-1', 's');
  assert.deepEqual({ ...r, eventID: undefined }, {
    eventID: undefined, eventName: 'MODIFY', eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: 1796234129, Keys: { pk: { S: 'a' } }, NewImage: next, OldImage: old,
      SequenceNumber: sequenceNumber(position), SizeBytes: 3 + 6 + 6, StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  });
  const ttl = wireRecord({ position, eventName: 'REMOVE', keys: { pk: { S: 'a' } }, oldImage: old, createdMs: 0, expiry: true }, 'OLD_IMAGE', 'us-east-1', 's');
  assert.deepEqual(ttl.userIdentity, { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' });
});
