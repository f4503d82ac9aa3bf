// AttributeValue validation, equality, ordering and item sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoError } from '../../src/dynamo/errors.js';
import type { AttributeValue } from '../../src/dynamo/types.js';
import {
  attributeValuesEqual,
  compareAttributeValues,
  compareUtf8,
  itemSize,
  normalizeAttributeValue,
  normalizeExpressionValue,
  normalizeItem,
} from '../../src/dynamo/attribute-values.js';

function rejects(f: () => unknown, name: string, message: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError, String(e));
    assert.equal(e.name, name);
    assert.equal(e.message, message);
    return true;
  });
}
const V = 'ValidationException';
const INVALID = 'One or more parameter values were invalid: ';

test('valid values are normalized', () => {
  assert.deepEqual(normalizeAttributeValue({ N: '001.500' }), { N: '1.5' });
  assert.deepEqual(normalizeAttributeValue({ NS: ['1.0', '2'] }), { NS: ['1', '2'] });
  assert.deepEqual(normalizeAttributeValue({ S: '' }), { S: '' });
  assert.deepEqual(normalizeAttributeValue({ B: '' }), { B: '' });
  assert.deepEqual(normalizeAttributeValue({ SS: [''] }), { SS: [''] });
  assert.deepEqual(normalizeAttributeValue({ NULL: true }), { NULL: true });
  assert.deepEqual(normalizeAttributeValue({ BOOL: false }), { BOOL: false });
  assert.deepEqual(normalizeAttributeValue({ M: { a: { L: [{ N: '1e2' }] } } }), { M: { a: { L: [{ N: '100' }] } } });
  // unknown members are ignored, like DynamoDB's deserializer does
  assert.deepEqual(normalizeAttributeValue({ S: 'a', X: 1 }), { S: 'a' });
  assert.deepEqual(normalizeAttributeValue({ B: 'YWJj' }), { B: 'YWJj' });
});

test('invalid values carry DynamoDB messages', () => {
  rejects(() => normalizeAttributeValue({}), V, 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
  rejects(() => normalizeAttributeValue({ X: 'a' }), V, 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
  rejects(() => normalizeAttributeValue({ S: null }), V, 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
  rejects(
    () => normalizeAttributeValue({ S: 'a', N: '1' }),
    V,
    'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes',
  );
  rejects(() => normalizeAttributeValue({ NULL: false }), V, `${INVALID}Null attribute value types must have the value of true`);
  rejects(() => normalizeAttributeValue({ SS: [] }), V, `${INVALID}An string set  may not be empty`);
  rejects(() => normalizeAttributeValue({ NS: [] }), V, `${INVALID}An number set  may not be empty`);
  rejects(() => normalizeAttributeValue({ BS: [] }), V, `${INVALID}Binary sets should not be empty`);
  rejects(() => normalizeAttributeValue({ SS: ['b', 'a', 'b', 'c'] }), V, `${INVALID}Input collection [b, a, b, c] contains duplicates.`);
  rejects(() => normalizeAttributeValue({ SS: ['', ''] }), V, `${INVALID}Input collection [, ] contains duplicates.`);
  rejects(() => normalizeAttributeValue({ NS: ['1', '1.0'] }), V, 'Input collection contains duplicates');
  rejects(() => normalizeAttributeValue({ NS: ['1', '1', 'x'] }), V, 'Input collection contains duplicates');
  rejects(() => normalizeAttributeValue({ NS: ['x', '1', '1'] }), V, 'The parameter cannot be converted to a numeric value: x');
  rejects(() => normalizeAttributeValue({ BS: ['YQ==', 'YQ=='] }), V, `${INVALID}Input collection [YQ==, YQ==]of type BS contains duplicates.`);
  rejects(() => normalizeAttributeValue({ N: 'x' }), V, 'The parameter cannot be converted to a numeric value: x');
  rejects(() => normalizeAttributeValue({ N: '' }), V, 'The parameter cannot be converted to a numeric value');
  rejects(() => normalizeAttributeValue({ M: { a: {} } }), V, 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
  rejects(() => normalizeAttributeValue({ M: { a: null } }), V, 'The supplied Item contains a null AttributeValue: a is null');
  rejects(() => normalizeAttributeValue({ L: [null] }), V, 'The supplied Item contains a null AttributeValue');
  rejects(() => normalizeAttributeValue({ M: { '': { S: 'x' } } }), V, 'Empty attribute name');
  rejects(() => normalizeAttributeValue(null, 'pk'), V, 'The supplied Item contains a null AttributeValue: pk is null');
  // wrong JSON types are deserialization errors
  assert.throws(() => normalizeAttributeValue({ S: 1 }), (e: unknown) => e instanceof DynamoError && e.name === 'SerializationException');
  assert.throws(() => normalizeAttributeValue({ BOOL: 'true' }), (e: unknown) => e instanceof DynamoError && e.name === 'SerializationException');
  assert.throws(() => normalizeAttributeValue({ B: '!!' }), (e: unknown) => e instanceof DynamoError && e.name === 'SerializationException');
  assert.throws(() => normalizeAttributeValue({ B: 'YQ' }), (e: unknown) => e instanceof DynamoError && e.name === 'SerializationException');
  assert.throws(() => normalizeAttributeValue({ L: {} }), (e: unknown) => e instanceof DynamoError && e.name === 'SerializationException');
});

test('items and expression values', () => {
  assert.deepEqual(normalizeItem({ a: { N: '1.0' }, b: { S: 'x' } }), { a: { N: '1' }, b: { S: 'x' } });
  rejects(() => normalizeItem({ v: null }), V, 'The supplied Item contains a null AttributeValue: v is null');
  rejects(() => normalizeItem({ '': { S: 'x' } }), V, 'Empty attribute name');
  rejects(
    () => normalizeExpressionValue({}, ':v'),
    V,
    'ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes for key :v',
  );
  rejects(
    () => normalizeExpressionValue(null, ':v'),
    V,
    'ExpressionAttributeValues contains invalid value: The supplied Item contains a null AttributeValue for key :v',
  );
  rejects(
    () => normalizeExpressionValue({ M: { a: null } }, ':v'),
    V,
    'ExpressionAttributeValues contains invalid value: The supplied Item contains a null AttributeValue: a is null for key :v',
  );
  rejects(
    () => normalizeExpressionValue({ N: '1e200' }, ':v'),
    V,
    'ExpressionAttributeValues contains invalid value: Number overflow. Attempting to store a number with magnitude larger than supported range for key :v',
  );
  rejects(
    () => normalizeExpressionValue({ SS: ['a', 'a'] }, ':x'),
    V,
    'ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: Input collection [a, a] contains duplicates. for key :x',
  );
});

test('equality: sets ignore order, numbers are numeric', () => {
  const eq = (a: AttributeValue, b: AttributeValue) => attributeValuesEqual(a, b);
  assert.ok(eq({ N: '1' }, { N: '1.0' }));
  assert.ok(eq({ SS: ['a', 'b'] }, { SS: ['b', 'a'] }));
  assert.ok(eq({ NS: ['1', '2'] }, { NS: ['2.0', '1'] }));
  assert.ok(!eq({ NS: ['1', '2'] }, { NS: ['1'] }));
  assert.ok(eq({ M: { a: { N: '1' }, b: { L: [] } } }, { M: { b: { L: [] }, a: { N: '1.00' } } }));
  assert.ok(!eq({ M: { a: { N: '1' } } }, { M: { a: { N: '1' }, b: { N: '1' } } }));
  assert.ok(!eq({ L: [{ N: '1' }, { N: '2' }] }, { L: [{ N: '2' }, { N: '1' }] }));
  assert.ok(!eq({ S: '1' }, { N: '1' }));
  assert.ok(!eq({ SS: ['1'] }, { NS: ['1'] }));
  assert.ok(eq({ NULL: true }, { NULL: true }));
  assert.ok(!eq({ BOOL: true }, { BOOL: false }));
});

test('ordering: strings by UTF-8 bytes, binary unsigned', () => {
  // U+FFFF sorts before U+1F600 in UTF-8 (but after it in UTF-16 code units)
  assert.ok(compareUtf8('\uffff', '😀') < 0);
  assert.ok(compareUtf8('a', 'b') < 0);
  assert.ok(compareUtf8('ab', 'a') > 0);
  assert.ok(compareUtf8('Z', 'a') < 0);
  assert.ok(compareUtf8('é', 'z') > 0);
  assert.ok(compareUtf8('😀', '😁') < 0);
  assert.equal(compareUtf8('same', 'same'), 0);
  assert.ok((compareAttributeValues({ B: '/w==' }, { B: 'AQ==' }) ?? 0) > 0); // 0xff > 0x01
  assert.ok((compareAttributeValues({ B: 'AA==' }, { B: 'AAA=' }) ?? 0) < 0);
  assert.ok((compareAttributeValues({ N: '10' }, { N: '9' }) ?? 0) > 0);
  assert.equal(compareAttributeValues({ N: '1' }, { S: '1' }), undefined);
  assert.equal(compareAttributeValues({ BOOL: true }, { BOOL: true }), undefined);
  assert.equal(compareAttributeValues({ SS: ['a'] }, { SS: ['a'] }), undefined);
});

test('number sizes: base-100 digits aligned on the decimal point, +1, +1 when negative (as DynamoDB Local measures them)', () => {
  // [number, bytes], each read off DynamoDB Local's TableSizeBytes for a one-attribute item.
  const measured: Array<[string, number]> = [
    ['0', 1], ['1', 2], ['-1', 3], ['1.5', 3], ['-1.5', 4], ['15', 2], ['-15', 3], ['0.001', 2], ['-0.001', 3],
    ['12345', 4], ['-12345', 5], ['1E-130', 2], ['-1E-130', 3], ['9.9999999999999999999999999999999999999E+125', 20],
    ['-9.9999999999999999999999999999999999999E+125', 21], ['123456789012345678901234567890', 16], ['0.5', 2],
    ['100', 2], ['-100', 3], ['10.25', 3],
  ];
  for (const [n, bytes] of measured) assert.equal(itemSize({ a: { N: n } }) - 1, bytes, n);
});

test('item size', () => {
  assert.equal(itemSize({}), 0);
  assert.equal(itemSize({ ab: { S: 'xyz' } }), 5);
  assert.equal(itemSize({ a: { S: 'é' } }), 3); // é is 2 UTF-8 bytes
  assert.equal(itemSize({ é: { S: '' } }), 2);
  assert.equal(itemSize({ a: { N: '12345' } }), 1 + 3 + 1); // 5 digits -> 3 bytes + 1
  assert.equal(itemSize({ a: { N: '-0.00100' } }), 1 + 1 + 1 + 1); // one base-100 digit, +1, +1 for the sign
  assert.equal(itemSize({ a: { B: 'YWJj' } }), 4);
  assert.equal(itemSize({ a: { B: 'YQ==' } }), 2);
  assert.equal(itemSize({ a: { BOOL: true } }), 2);
  assert.equal(itemSize({ a: { NULL: true } }), 2);
  assert.equal(itemSize({ a: { SS: ['ab', 'c'] } }), 4);
  assert.equal(itemSize({ a: { NS: ['1', '123'] } }), 1 + 2 + 3);
  assert.equal(itemSize({ a: { BS: ['YQ==', 'YWI='] } }), 1 + 1 + 2);
  assert.equal(itemSize({ a: { L: [] } }), 4);
  assert.equal(itemSize({ a: { M: {} } }), 4);
  assert.equal(itemSize({ a: { L: [{ S: 'x' }, { N: '1' }] } }), 1 + 3 + (1 + 1) + (1 + 2));
  assert.equal(itemSize({ a: { M: { bc: { S: 'x' } } } }), 1 + 3 + (1 + 2 + 1));
  assert.equal(itemSize({ a: { M: { b: { M: { c: { BOOL: false } } } } } }), 1 + 3 + (1 + 1 + 3 + (1 + 1 + 1)));
});
