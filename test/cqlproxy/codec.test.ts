// Unit tests of the proxy's wire pieces (no cluster needed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrameReader, encodeFrame, Opcode, type Frame } from '../../src/cqlproxy/frame.js';
import { compress, decompress, lz4CompressBlock, lz4DecompressBlock } from '../../src/cqlproxy/compress.js';
import { classify, ndLiteral, substituteNonDeterministic, hasNonDeterministic } from '../../src/cqlproxy/classify.js';
import { rewriteNdQuery } from '../../src/cqlproxy/nd.js';
import { parseQuery, withTimestamp, parseQueryParams } from '../../src/cqlproxy/messages.js';
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
  const q = parseQuery(body, 0);
  const out = withTimestamp(body, q.params.flagsPos, q.params.timestampPos, 123456789n);
  const p = parseQueryParams(out, q.paramsPos);
  assert.equal(p.timestamp, 123456789n);
  assert.equal(p.values.length, 1);
  assert.equal(out.readInt32BE(p.values[0]!.start + 4), 7);
});
