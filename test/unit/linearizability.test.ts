// The register linearizability checker used by test/cluster/: it must accept what a register can do
// and reject what it cannot, including the classic stale-read and double-winner histories.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkHistory, checkRegister, type HistoryOp, type Op } from '../helpers/linearizability.js';

const op = (op: Op, call: number, ret: number, result: HistoryOp['result'] = 'ok', key = 'k'): HistoryOp => ({ key, op, result, call, ret });
const w = (value: string | null, call: number, ret: number, result: HistoryOp['result'] = 'ok') => op({ kind: 'write', value }, call, ret, result);
const r = (value: string | null, call: number, ret: number) => op({ kind: 'read', value }, call, ret);
const cas = (expected: string | null, value: string, call: number, ret: number, result: HistoryOp['result'] = 'ok') =>
  op({ kind: 'cas', expected, value }, call, ret, result);

test('sequential histories: accepted when they follow the register, rejected otherwise', () => {
  assert.equal(checkRegister([w('a', 0, 1), r('a', 2, 3), cas('a', 'b', 4, 5), r('b', 6, 7)]).ok, true);
  assert.equal(checkRegister([r(null, 0, 1), cas(null, 'a', 2, 3), cas(null, 'x', 4, 5, 'fail'), r('a', 6, 7)]).ok, true);
  // A read after a completed write must see it (or a later one).
  assert.equal(checkRegister([w('a', 0, 1), r(null, 2, 3)]).ok, false);
  assert.equal(checkRegister([cas('a', 'b', 0, 1)]).ok, false); // the register starts absent
  assert.equal(checkRegister([w('a', 0, 1), cas('a', 'b', 2, 3, 'fail')]).ok, false); // the condition held
});

test('concurrent operations may take effect in either order', () => {
  // Two overlapping writes; reads after both may see only the one linearized last, consistently.
  assert.equal(checkRegister([w('a', 0, 10), w('b', 1, 9), r('a', 11, 12), r('a', 13, 14)]).ok, true);
  assert.equal(checkRegister([w('a', 0, 10), w('b', 1, 9), r('b', 11, 12)]).ok, true);
  // ...but not flip back: once a later read saw a, b cannot come after it.
  assert.equal(checkRegister([w('a', 0, 10), w('b', 1, 9), r('a', 11, 12), r('b', 13, 14)]).ok, false);
  // A read overlapping a write may see the old or the new value.
  assert.equal(checkRegister([w('a', 0, 1), w('b', 2, 6), r('a', 3, 4), r('b', 5, 7)]).ok, true);
});

test('two compare-and-sets from the same value cannot both win (the lost-update history)', () => {
  const h = [w('v0', 0, 1), cas('v0', 'x', 2, 10), cas('v0', 'y', 3, 9)];
  assert.equal(checkRegister(h).ok, false);
  assert.match(checkRegister(h).explanation!, /nothing explains/);
  // One winner, one loser is fine in either order.
  assert.equal(checkRegister([w('v0', 0, 1), cas('v0', 'x', 2, 10), cas('v0', 'y', 3, 9, 'fail'), r('x', 11, 12)]).ok, true);
  assert.equal(checkRegister([w('v0', 0, 1), cas('v0', 'x', 2, 10, 'fail'), cas('v0', 'y', 3, 9), r('y', 11, 12)]).ok, true);
});

test('a stale read after a newer read is rejected (real-time order)', () => {
  // Reader 2 starts after reader 1 finished having seen b, yet sees the old a.
  const h = [w('a', 0, 1), w('b', 2, 20), r('b', 3, 4), r('a', 5, 6)];
  assert.equal(checkRegister(h).ok, false);
});

test('unanswered operations may have happened at any time after their call, or never', () => {
  // A timed-out write seen later: fine.
  assert.equal(checkRegister([w('a', 0, 1), w('b', 2, 3, 'unknown'), r('b', 10, 11)]).ok, true);
  // ...or never seen: fine too.
  assert.equal(checkRegister([w('a', 0, 1), w('b', 2, 3, 'unknown'), r('a', 10, 11)]).ok, true);
  // But not seen before it was sent.
  assert.equal(checkRegister([w('a', 0, 1), r('b', 2, 3), w('b', 4, 5, 'unknown')]).ok, false);
  // An unanswered cas that explains a later state.
  assert.equal(checkRegister([w('a', 0, 1), cas('a', 'b', 2, 3, 'unknown'), r('b', 4, 5), cas('a', 'c', 6, 7, 'fail')]).ok, true);
  // Once seen it cannot be undone.
  assert.equal(checkRegister([w('a', 0, 1), w('b', 2, 3, 'unknown'), r('b', 4, 5), r('a', 6, 7)]).ok, false);
});

test('keys are checked independently, and a violation names its key', () => {
  const h: HistoryOp[] = [
    op({ kind: 'write', value: 'a' }, 0, 1, 'ok', 'k1'),
    op({ kind: 'read', value: 'a' }, 2, 3, 'ok', 'k1'),
    op({ kind: 'write', value: 'x' }, 0, 1, 'ok', 'k2'),
    op({ kind: 'read', value: null }, 2, 3, 'ok', 'k2'),
  ];
  const res = checkHistory(h);
  assert.equal(res.ok, false);
  assert.equal(res.keys, 2);
  assert.match(res.explanation!, /^key k2:/);
  assert.equal(checkHistory(h.slice(0, 2)).ok, true);
});

test('larger concurrent histories are decided quickly thanks to memoisation', () => {
  // 8 clients each doing 25 rounds of read-then-cas on one register, executed by a sequential
  // simulation with overlapping intervals: linearizable by construction.
  const hist: HistoryOp[] = [];
  let value: string | null = null;
  let t = 0;
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let round = 0; round < 25; round++) {
    const seen: (string | null)[] = [];
    const start = t;
    for (let c = 0; c < 8; c++) {
      seen.push(value);
      hist.push(r(value, start + c, start + 8 + c));
    }
    t = start + 20;
    for (let c = 0; c < 8; c++) {
      const ok = seen[c] === value && rand() < 0.9;
      const next = `r${round}c${c}`;
      // Each cas takes effect (in the simulation) at t + c, inside its interval [t, t + 20 + c].
      if (ok) value = next;
      hist.push(cas(seen[c]!, next, t, t + 20 + c, ok ? 'ok' : 'fail'));
    }
    t += 40;
  }
  const started = Date.now();
  assert.equal(checkRegister(hist).ok, true);
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  // Breaking one answer makes it non-linearizable: a cas that won is reported as failed.
  const winner = hist.findIndex((h) => h.op.kind === 'cas' && h.result === 'ok');
  const broken = hist.map((h, i) => (i === winner ? { ...h, result: 'fail' as const } : h));
  assert.equal(checkRegister(broken).ok, false);
});
