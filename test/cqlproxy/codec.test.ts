// Unit tests of the proxy's wire pieces (no cluster needed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { FrameReader, encodeFrame, Opcode, type Frame } from '../../src/cqlproxy/frame.js';
import { compress, decompress, lz4CompressBlock, lz4DecompressBlock } from '../../src/cqlproxy/compress.js';
import { classify, ndLiteral, substituteNonDeterministic, hasNonDeterministic } from '../../src/cqlproxy/classify.js';
import { rewriteNdQuery } from '../../src/cqlproxy/nd.js';
import { parseBatch, parseExecuteHead, parsePreparedResult, parseQuery, prepareBody, withExecuteIds, withTimestamp, parseQueryParams } from '../../src/cqlproxy/messages.js';
import { MAX_SEGMENT_PAYLOAD, SegmentReader, WireReader, crc24, encodeSegment, encodeSegments, payloadCrc32 } from '../../src/cqlproxy/segment.js';
import { BodyWriter } from '../../src/cqlproxy/frame.js';

test('frame reader cuts frames across arbitrary chunk boundaries', () => {
  const frames = [0, 1, 5, 300, 70000].map((n, i) => encodeFrame(4, false, 0, i, Opcode.QUERY, randomBytes(n)));
  const all = Buffer.concat(frames);
  for (const step of [1, 3, 9, 10, 1000, all.length]) {
    const r = new FrameReader();
    const got: Frame[] = [];
    for (let i = 0; i < all.length; i += step) r.push(all.subarray(i, i + step), (f) => got.push(f));
    assert.equal(got.length, frames.length);
    got.forEach((f, i) => {
      assert.equal(f.stream, i);
      assert.ok(f.raw.equals(frames[i]!));
    });
  }
});

test('lz4 block codec round-trips compressible and random data', () => {
  const samples = [
    Buffer.alloc(0),
    Buffer.from('a'),
    Buffer.from('hello hello hello hello hello hello hello hello'),
    Buffer.from('x'.repeat(100000)),
    randomBytes(5000),
    Buffer.from(JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ id: i, name: `row ${i % 17}` })))),
  ];
  for (const s of samples) {
    const block = lz4CompressBlock(s);
    assert.ok(lz4DecompressBlock(block, s.length).equals(s));
    assert.ok(decompress('lz4', compress('lz4', s)).equals(s));
  }
  // 40 x 'a' encoded by hand per the block format: 1 literal, match (offset 1, length 34), 5 literals.
  const ref = Buffer.from('1f6101000f506161616161', 'hex');
  assert.equal(lz4DecompressBlock(ref, 40).toString(), 'a'.repeat(40));
  assert.ok(compress('lz4', Buffer.from('x'.repeat(100000))).length < 1000);
});

test('snappy codec round-trips', () => {
  const s = Buffer.from('snappy snappy snappy snappy '.repeat(50));
  assert.ok(decompress('snappy', compress('snappy', s)).equals(s));
});

test('classification ignores comments, case and string contents', () => {
  assert.equal(classify('select * from ks.t').kind, 'read');
  assert.equal(classify('  /* INSERT */ SELECT * FROM t WHERE a = \'INSERT\'').kind, 'read');
  assert.equal(classify('-- a comment\n  insert into ks.t (a) values (1)').kind, 'write');
  assert.equal(classify('// c\nUpdate "Ks"."T" SET a = 1 WHERE k = 2').table, 'T');
  assert.equal(classify('BEGIN UNLOGGED BATCH INSERT INTO t (a) VALUES (1); APPLY BATCH').kind, 'write');
  assert.equal(classify('DELETE FROM ks.t WHERE a = 1').kind, 'write');
  assert.equal(classify('TRUNCATE ks.t').kind, 'ddl');
  assert.equal(classify('create table x (a int primary key)').kind, 'ddl');
  assert.equal(classify('USE "MyKs"').useKeyspace, 'MyKs');
  assert.deepEqual(classify('SELECT * FROM system.peers_v2').systemTable, 'peers_v2');
  assert.equal(classify('SELECT * FROM system.local WHERE key = \'local\'').kind, 'system');
  const c = classify('SELECT a FROM Ks.Tab');
  assert.equal(c.keyspace, 'ks');
  assert.equal(c.table, 'tab');
});

test('non-deterministic calls are replaced outside strings and comments only', () => {
  const q = "INSERT INTO t (a, b, c) VALUES (now(), 'now()', uuid()) -- now()";
  assert.ok(hasNonDeterministic(q));
  assert.ok(!hasNonDeterministic("INSERT INTO t (a) VALUES ('now()')"));
  const r = substituteNonDeterministic(q, (fn) => `<${fn}>`);
  assert.equal(r.text, "INSERT INTO t (a, b, c) VALUES (<now>, 'now()', <uuid>) -- now()");
  assert.deepEqual(r.fns, ['now', 'uuid']);
  const p = rewriteNdQuery('INSERT INTO t (a, b, c, d) VALUES (?, NOW(), ?, currentTimestamp())')!;
  assert.equal(p.query, 'INSERT INTO t (a, b, c, d) VALUES (?, (timeuuid)?, ?, (timestamp)?)');
  assert.deepEqual(p.nd, [
    { fn: 'now', index: 1 },
    { fn: 'currenttimestamp', index: 3 },
  ]);
  assert.equal(p.markerCount, 4);
  // A literal keeps the call's type, so a function taking several types is not ambiguous.
  const lit = substituteNonDeterministic('INSERT INTO t (a, b, c) VALUES (toTimestamp(now()), currentDate(), uuid())', (fn) => ndLiteral(fn, Date.UTC(2026, 11, 7, 1, 2, 3, 456)));
  assert.match(lit.text, /^INSERT INTO t \(a, b, c\) VALUES \(toTimestamp\(\(timeuuid\)[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\), \(date\)'2026-12-07', \(uuid\)[0-9a-f-]{36}\)$/);
  assert.equal(ndLiteral('currenttimestamp', Date.UTC(2026, 11, 7, 1, 2, 3, 456)), "(timestamp)'2026-12-07 01:02:03.456+0000'");
  assert.equal(ndLiteral('currenttime', Date.UTC(2026, 11, 7, 1, 2, 3, 456)), "(time)'01:02:03.456000000'");
});

test('a default timestamp is inserted at the right place', () => {
  const body = new BodyWriter().longString('INSERT INTO t (a) VALUES (?)').short(1).byte(0x01 | 0x04).short(1).int(4).int(7).int(100).build();
  const q = parseQuery(body, 0, 4);
  const out = withTimestamp(body, q.params.flagsPos, q.params.timestampPos, 123456789n);
  const p = parseQueryParams(out, q.paramsPos, 4);
  assert.equal(p.timestamp, 123456789n);
  assert.equal(p.values.length, 1);
  assert.equal(out.readInt32BE(p.values[0]!.start + 4), 7);
});

// ---------------------------------------------------------------------------
// Protocol v5 segments

test('segment CRCs: CRC24 of the header bytes and CRC32 with the protocol initial bytes', () => {
  // Header of a 5-byte self-contained payload: 5 | 1 << 17, little-endian.
  assert.equal(crc24(Buffer.from([0x05, 0x00, 0x02])), 0x9a9919);
  assert.equal(payloadCrc32(Buffer.from('hello')), 0xb60e8074);
  // Not the plain CRC32 of the payload: the initial bytes FA 2D 55 CA come first.
  assert.notEqual(payloadCrc32(Buffer.from('hello')), zlib.crc32(Buffer.from('hello')));
  const seg = encodeSegment(Buffer.from('hello'), true, false);
  assert.equal(seg.toString('hex'), '050002' + '19999a' + Buffer.from('hello').toString('hex') + '74800eb6');
});

// Cassandra 5.0.6's answer to OPTIONS (stream 1) after STARTUP, as segments: plain, and with lz4.
const RECORDED_SUPPORTED_SEGMENT =
  '6f00020a9b448500000106000000660003001150524f544f434f4c5f56455253494f4e5300040004332f76330004342f76340004352f76350009362f76362d62657461000b434f4d5052455353494f4e00020006736e6170707900036c7a34000b43514c5f56455253494f4e00010005332e342e37c8e36832';
const RECORDED_SUPPORTED_LZ4_SEGMENT =
  '6b00de000448b3dff0378500000106000000660003001150524f544f434f4c5f56455253494f4e5300040004332f76330004342f76340004352f76350009362f76362d62657461000b434f4d505245532d00f50400020006736e6170707900036c7a34000b435149009000010005332e342e37b371d89f';

test('a segment recorded from Cassandra 5.0 (SUPPORTED in answer to OPTIONS) decodes and re-encodes identically', () => {
  const recorded = Buffer.from(RECORDED_SUPPORTED_SEGMENT, 'hex');
  const reader = new WireReader();
  reader.useSegments(false);
  const frames: Frame[] = [];
  reader.push(recorded, (f) => frames.push(f));
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.version, 5);
  assert.equal(frames[0]!.opcode, Opcode.SUPPORTED);
  assert.equal(frames[0]!.stream, 1);
  assert.ok(encodeSegments([frames[0]!.raw], false).equals(recorded));
  // A flipped bit in the header or in the payload is refused.
  for (const at of [1, recorded.length - 10]) {
    const bad = Buffer.from(recorded);
    bad[at]! ^= 0x04;
    const r = new WireReader();
    r.useSegments(false);
    assert.throws(() => r.push(bad, () => {}), /CRC/);
  }
  // The compressed recording holds the same frame.
  const lz4 = new WireReader();
  lz4.useSegments(true);
  const fromLz4: Frame[] = [];
  lz4.push(Buffer.from(RECORDED_SUPPORTED_LZ4_SEGMENT, 'hex'), (f) => fromLz4.push(f));
  assert.equal(fromLz4.length, 1);
  assert.ok(fromLz4[0]!.raw.equals(frames[0]!.raw));
});

test('segments: small frames share one segment, a large frame spans several, across any chunking', () => {
  for (const lz4 of [false, true]) {
    const frames = [
      encodeFrame(5, true, 0, 1, Opcode.RESULT, randomBytes(10)),
      encodeFrame(5, true, 0, 2, Opcode.RESULT, Buffer.from('y'.repeat(1000))),
      // Larger than a payload (128 KiB - 1): three segments, none self-contained.
      encodeFrame(5, true, 0, 3, Opcode.RESULT, Buffer.concat([randomBytes(150000), Buffer.from('z'.repeat(150000))])),
      encodeFrame(5, true, 0, 4, Opcode.RESULT, Buffer.alloc(0)),
    ];
    const wire = encodeSegments(frames, lz4);
    const seen: Array<{ length: number; selfContained: boolean }> = [];
    const sr = new SegmentReader(lz4);
    sr.push(wire, (p, selfContained) => seen.push({ length: p.length, selfContained }));
    assert.deepEqual(
      seen.map((s) => s.selfContained),
      [true, false, false, false, true],
      `lz4=${lz4}: segment layout`,
    );
    assert.equal(seen[0]!.length, frames[0]!.length + frames[1]!.length);
    assert.equal(seen[1]!.length, MAX_SEGMENT_PAYLOAD);
    for (const step of [1, 7, 4096, 131075, wire.length]) {
      const r = new WireReader();
      r.useSegments(lz4);
      const got: Frame[] = [];
      for (let i = 0; i < wire.length; i += step) r.push(wire.subarray(i, i + step), (f) => got.push(f));
      assert.equal(got.length, frames.length, `lz4=${lz4} step=${step}`);
      got.forEach((f, i) => assert.ok(f.raw.equals(frames[i]!), `lz4=${lz4} step=${step} frame ${i}`));
      assert.equal(r.pending, 0);
    }
  }
});

test('compressed segments: 5-byte header with both lengths; stored as is when LZ4 does not pay', () => {
  const text = Buffer.from('compressible '.repeat(400));
  const seg = encodeSegment(text, true, true);
  const header = seg.readUIntLE(0, 5);
  const stored = header % 2 ** 17;
  assert.equal(Math.floor(header / 2 ** 17) % 2 ** 17, text.length, 'uncompressed length');
  assert.equal(Math.floor(header / 2 ** 34) % 2, 1, 'self-contained');
  assert.ok(stored < text.length / 10, `compressed to ${stored} bytes`);
  assert.equal(seg.readUIntLE(5, 3), crc24(seg.subarray(0, 5)));
  assert.equal(seg.readUInt32LE(8 + stored), payloadCrc32(seg.subarray(8, 8 + stored)), 'CRC32 over the compressed bytes');
  assert.ok(lz4DecompressBlock(seg.subarray(8, 8 + stored), text.length).equals(text));
  const random = randomBytes(3000);
  const plain = encodeSegment(random, false, true);
  const h2 = plain.readUIntLE(0, 5);
  assert.equal(h2 % 2 ** 17, random.length);
  assert.equal(Math.floor(h2 / 2 ** 17) % 2 ** 17, 0, 'uncompressed length 0: stored as is');
  assert.ok(plain.subarray(8, 8 + random.length).equals(random));
  const got: Buffer[] = [];
  new SegmentReader(true).push(Buffer.concat([seg, plain]), (p) => got.push(p));
  assert.ok(got[0]!.equals(text) && got[1]!.equals(random));
});

test('the wire reader switches to segments right after the frame that answers STARTUP', () => {
  const ready = encodeFrame(5, true, 0, 0, Opcode.READY, Buffer.alloc(0));
  const after = encodeSegments([encodeFrame(5, true, 0, 1, Opcode.SUPPORTED, Buffer.from('abc'))], false);
  const r = new WireReader();
  const got: Frame[] = [];
  // Both in one chunk: the bytes after READY must not be cut as a frame.
  r.push(Buffer.concat([ready, after]), (f) => {
    got.push(f);
    if (f.opcode === Opcode.READY) r.useSegments(false);
  });
  assert.deepEqual(got.map((f) => f.opcode), [Opcode.READY, Opcode.SUPPORTED]);
  assert.equal(got[1]!.body.toString(), 'abc');
});

test('v5 bodies: 4-byte flags, result metadata ids in EXECUTE and PREPARED, PREPARE flags', () => {
  const id = Buffer.from('0102', 'hex');
  const meta = Buffer.from('0a0b0c', 'hex');
  // EXECUTE: id, result metadata id, consistency, [int] flags VALUES, one value.
  const exec = new BodyWriter().shortBytes(id).shortBytes(meta).short(1).int(0x01).short(1).int(4).int(42).build();
  const head = parseExecuteHead(exec, 0, 5);
  assert.ok(head.id.equals(id) && head.metadataId!.equals(meta));
  const params = parseQueryParams(exec, head.paramsPos, 5);
  assert.equal(params.flags, 0x01);
  assert.equal(params.flagsPos, head.paramsPos + 2 + 3, 'low byte of the [int] flags');
  assert.equal(params.values.length, 1);
  const stamped = withTimestamp(exec, params.flagsPos, params.timestampPos, 77n);
  const p2 = parseQueryParams(stamped, head.paramsPos, 5);
  assert.equal(p2.timestamp, 77n);
  assert.equal(p2.flags, 0x21);
  const mapped = withExecuteIds(stamped, head, Buffer.from('ffeedd', 'hex'), Buffer.from('99', 'hex'));
  const h3 = parseExecuteHead(mapped, 0, 5);
  assert.equal(h3.id.toString('hex'), 'ffeedd');
  assert.equal(h3.metadataId!.toString('hex'), '99');
  assert.equal(parseQueryParams(mapped, h3.paramsPos, 5).timestamp, 77n);
  // v4: no metadata id, a [byte] of flags.
  assert.equal(parseExecuteHead(exec, 0, 4).paramsPos, 4);
  assert.equal(prepareBody('SELECT 1', 5).length, 4 + 8 + 4);
  assert.equal(prepareBody('SELECT 1', 4).length, 4 + 8);
  // PREPARED: kind, id, result metadata id, then the bind metadata.
  const prepared = new BodyWriter().int(4).shortBytes(id).shortBytes(meta).int(0).int(0).int(0).build();
  const pr = parsePreparedResult(prepared, 0, 5);
  assert.ok(pr.id.equals(id) && pr.metadataId!.equals(meta));
  assert.equal(pr.metaPos, 4 + 4 + 5);
  // BATCH: type, one query entry, consistency, [int] flags.
  const batch = new BodyWriter().byte(0).short(1).byte(0).longString('INSERT INTO t (a) VALUES (1)').short(0).short(1).int(0).build();
  const b = parseBatch(batch, 0, 5);
  assert.equal(b.flagsPos, batch.length - 1);
  assert.equal(b.timestampPos, batch.length);
});
