// DynamoDB number handling; expected values and messages come from DynamoDB Local.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoError } from '../../src/dynamo/errors.js';
import {
  addNumbers,
  compareNumbers,
  normalizeNumber,
  numberBytes,
  numbersEqual,
  subtractNumbers,
} from '../../src/dynamo/numbers.js';

// DynamoDB's words: the value is echoed (none when empty); a given number's precision limit is
// worded apart from an update's arithmetic result.
const NAN = (s: string) => `The parameter cannot be converted to a numeric value${s === '' ? '' : `: ${s}`}`;
const INPUT_PRECISION = 'Attempting to store more than 38 significant digits in a Number';
const PRECISION = 'DynamoDB only supports precision up to 38 digits';
const OVERFLOW = 'Number overflow. Attempting to store a number with magnitude larger than supported range';
const UNDERFLOW = 'Number underflow. Attempting to store a number with magnitude smaller than supported range';

function rejects(f: () => unknown, message: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError);
    assert.equal(e.name, 'ValidationException');
    assert.equal(e.message, message);
    return true;
  });
}

test('canonical forms', () => {
  const cases: [string, string][] = [
    ['001.500', '1.5'],
    ['-0', '0'],
    ['0.000', '0'],
    ['00', '0'],
    ['1E+2', '100'],
    ['1e2', '100'],
    ['1.0e+0', '1'],
    ['+1', '1'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['-.5e-3', '-0.0005'],
    ['0e500', '0'],
    ['0e-500', '0'],
    ['1.0000000000000000000000000000000000000000', '1'],
    ['12345678901234567890123456789012345678', '12345678901234567890123456789012345678'],
    ['1234567890123456789012345678901234567800000', '1234567890123456789012345678901234567800000'],
    ['0.00000000000000000000000000000000000000000000000001', '0.00000000000000000000000000000000000000000000000001'],
    ['1e125', '1' + '0'.repeat(125)],
    ['9.9999999999999999999999999999999999999E+125', '9'.repeat(38) + '0'.repeat(88)],
    ['-9.9999999999999999999999999999999999999E+125', '-' + '9'.repeat(38) + '0'.repeat(88)],
    ['1e-130', '0.' + '0'.repeat(129) + '1'],
    ['1e-0130', '0.' + '0'.repeat(129) + '1'],
    ['123.456e1', '1234.56'],
    ['-123.456e-1', '-12.3456'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeNumber(input), want, input);
});

test('not a number', () => {
  for (const s of ['abc', '', ' 1', '1 ', '0x10', 'Infinity', 'NaN', '1e', '1_0', '-', '1e+', 'e5', '1.2.3', '1E2147483648', '.', '+-1', '1e5.5']) {
    rejects(() => normalizeNumber(s), NAN(s));
  }
});

test('precision, overflow and underflow', () => {
  rejects(() => normalizeNumber('123456789012345678901234567890123456789'), INPUT_PRECISION);
  rejects(() => normalizeNumber('12345678901234567890123456789012345678.1'), INPUT_PRECISION);
  // precision is reported before range
  rejects(() => normalizeNumber('123456789012345678901234567890123456789e200'), INPUT_PRECISION);
  rejects(() => normalizeNumber('123456789012345678901234567890123456789e-200'), INPUT_PRECISION);
  rejects(() => normalizeNumber('99999999999999999999999999999999999999.5e-130'), INPUT_PRECISION);
  rejects(() => normalizeNumber('1E+126'), OVERFLOW);
  rejects(() => normalizeNumber('-1e126'), OVERFLOW);
  rejects(() => normalizeNumber('1e-131'), UNDERFLOW);
  rejects(() => normalizeNumber('0.' + '0'.repeat(130) + '1'), UNDERFLOW);
});

test('comparison is numeric', () => {
  assert.equal(compareNumbers('1', '1.0'), 0);
  assert.ok(compareNumbers('2', '10') < 0);
  assert.ok(compareNumbers('-1', '-0.5') < 0);
  assert.ok(compareNumbers('1e125', '99999999999999999999999999999999999999') > 0);
  assert.ok(compareNumbers('0.' + '0'.repeat(129) + '1', '0') > 0);
  assert.ok(compareNumbers('12345678901234567890123456789012345678', '12345678901234567890123456789012345677') > 0);
  assert.ok(numbersEqual('100', '1E+2'));
  // canonical fast path against decimal arithmetic
  const samples = ['0', '1', '-1', '0.5', '-0.5', '12.5', '12.45', '12', '123', '-123.001', '0.0001', '99', '100', '-0.0001', '1.000001'];
  for (const a of samples) {
    for (const b of samples) {
      const want = Math.sign(Number(a) - Number(b)); // exact for these short decimals
      assert.equal(Math.sign(compareNumbers(a, b)), want, `${a} vs ${b}`);
      assert.equal(Math.sign(compareNumbers(a, b + 'e0')), want, `${a} vs ${b}e0`);
    }
  }
  assert.ok(!numbersEqual('100', '100.000000000000000000000000000001'));
});

test('update arithmetic', () => {
  assert.equal(addNumbers('5', '1'), '6');
  assert.equal(subtractNumbers('1', '5'), '-4');
  assert.equal(subtractNumbers('1', '1'), '0');
  assert.equal(addNumbers('0.1', '0.2'), '0.3');
  assert.equal(addNumbers('99999999999999999999999999999999999999', '1'), '100000000000000000000000000000000000000');
  rejects(() => addNumbers('9.9999999999999999999999999999999999999E+125', '1E+125'), PRECISION);
  rejects(() => addNumbers('1E+100', '1E-100'), PRECISION);
  rejects(() => addNumbers('12345678901234567890123456789012345678', '0.5'), PRECISION);
  rejects(() => addNumbers('9E+125', '9E+125'), OVERFLOW);
  rejects(() => subtractNumbers('-9E+125', '9E+125'), OVERFLOW);
  rejects(() => subtractNumbers('2E-130', '1.5E-130'), UNDERFLOW);
});

test('number bytes', () => {
  assert.equal(numberBytes('0'), 1);
  assert.equal(numberBytes('100'), 2); // 1|00: the trailing zero pair is not stored
  assert.equal(numberBytes('-12.5'), 4); // 12|50, +1, +1 for the sign
  assert.equal(numberBytes('0.00123'), 3); // .00|12|30: the leading zero pair is not stored
  assert.equal(numberBytes('-' + '9'.repeat(38)), 21); // at most 21
});
