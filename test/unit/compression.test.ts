// Which content coding a response gets for an Accept-Encoding header, following the choices
// DynamoDB makes (quality values, order, "*", and the malformed headers it ignores).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { responseEncoding } from '../../src/http/compression.js';

test('Accept-Encoding: the coding DynamoDB picks', () => {
  const cases: [string | undefined, string | undefined][] = [
    [undefined, undefined],
    ['', undefined],
    ['identity', undefined],
    ['br', undefined],
    ['x-gzip', undefined],
    ['gzip', 'gzip'],
    ['deflate', 'deflate'],
    ['gzip, deflate', 'gzip'],
    ['br, identity, deflate, gzip', 'deflate'],
    ['GZIP, identity', 'gzip'],
    ['dog, gzip ,, cat', 'gzip'],
    ['gzip;q=0.8, deflate;q=0.5', 'gzip'],
    ['br, gzip;q=0, deflate; q = 0.5 , identity;q=0', 'deflate'],
    ['*', 'gzip'],
    ['*, deflate;q=0.5', 'gzip'],
    ['*, deflate', 'deflate'],
    ['*, identity', 'gzip'],
    ['*, gzip;q=0.5', 'deflate'],
    ['gzip ;q=0', undefined],
    ['*;q=0', undefined],
    ['*;q=0.5,identity', 'gzip'],
    ['br;q=0.8,identity;q=0.5,*;q=0', undefined],
    ['"gzip"', undefined],
    ['gzip br', undefined],
    ['gzip:q=1', undefined],
    // Quality above 1 counts as 1, below 0 as 0, malformed as 1; the first q parameter counts.
    ['deflate;q=0.5, gzip;q=31', 'gzip'],
    ['gzip;q=31,deflate;q=51', 'gzip'],
    ['deflate;q=0.5, gzip;q=1;q=0.2', 'gzip'],
    ['deflate;q=0.5,gzip;q=0.', 'deflate'],
    ['deflate;q=0.5,gzip;q=0.x', 'gzip'],
    ['deflate;q=-0.5,gzip;q=0.2', 'gzip'],
    ['gzip;nq=1;q=0 ', undefined],
    ['gzip;q=0, gzip;q=1, gzip;q=0', 'gzip'],
    ['br,identity;q=0.5,gzip;q=0.0001', 'gzip'],
  ];
  for (const [header, expected] of cases) assert.equal(responseEncoding(header), expected, `Accept-Encoding: ${header}`);
});
