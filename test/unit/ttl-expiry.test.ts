// DynamoDB's expiry rule and the sweep's notion of a due segment, without Cassandra.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isExpired } from '../../src/ttl/expiry.js';
import { TtlLeases } from '../../src/ttl/leases.js';

const NOW = 1_800_000_000_123; // ms
const at = (n: string) => ({ pk: { S: 'k' }, exp: { N: n } });

test('a Number of epoch seconds before now, within five years, has expired', () => {
  assert.equal(isExpired(at('1800000000'), 'exp', NOW), true);
  assert.equal(isExpired(at('1800000000.123'), 'exp', NOW), false, 'exactly now is not before now');
  assert.equal(isExpired(at('1800000000.122'), 'exp', NOW), true);
  assert.equal(isExpired(at('18E8'), 'exp', NOW), true, 'exponent notation');
  assert.equal(isExpired(at('1800000001'), 'exp', NOW), false);
  assert.equal(isExpired(at('1E+125'), 'exp', NOW), false);
});

test('older than five years, negative, other types or a missing attribute never expire', () => {
  const fiveYears = 5 * 365 * 24 * 3600;
  assert.equal(isExpired(at(String(1_800_000_000 - fiveYears + 1)), 'exp', NOW), true);
  assert.equal(isExpired(at(String(1_800_000_000 - fiveYears - 1)), 'exp', NOW), false);
  assert.equal(isExpired(at('-5'), 'exp', NOW), false);
  assert.equal(isExpired({ exp: { S: '1700000000' } }, 'exp', NOW), false);
  assert.equal(isExpired({ exp: { NS: ['1700000000'] } }, 'exp', NOW), false);
  assert.equal(isExpired({ other: { N: '1700000000' } }, 'exp', NOW), false);
  assert.equal(isExpired(undefined, 'exp', NOW), false);
});

test('a segment is due when never swept, a period after its sweep, or when its lease ran out', () => {
  const period = 20_000;
  assert.equal(TtlLeases.due(undefined, period, NOW), true);
  assert.equal(TtlLeases.due({ segment: 0, owner: '', leaseUntil: 0, sweptAt: NOW - period }, period, NOW), true);
  assert.equal(TtlLeases.due({ segment: 0, owner: '', leaseUntil: 0, sweptAt: NOW - period + 1 }, period, NOW), false);
  assert.equal(TtlLeases.due({ segment: 0, owner: 'other', leaseUntil: NOW + 1, sweptAt: 0 }, period, NOW), false);
  assert.equal(TtlLeases.due({ segment: 0, owner: 'other', leaseUntil: NOW - 1, sweptAt: 0 }, period, NOW), true);
});
