// DynamoDB numbers: decimal strings of at most 38 significant digits whose magnitude lies in
// [1E-130, 9.99..E+125]. Everything here works on decimal digits (strings or decimal.js), never on
// IEEE doubles, so no value silently loses precision.
import { Decimal } from 'decimal.js';
import { validation } from './errors.js';

// A private clone: nobody else's Decimal.set() can change our precision. 400 digits is enough to
// hold the exact sum of any two in-range numbers (125 + 130 + 38 digits).
const D = Decimal.clone({ precision: 400, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -9e15, toExpPos: 9e15, minE: -9e15, maxE: 9e15 });
type Dec = InstanceType<typeof D>;

// DynamoDB's words for a number given in a request (DynamoDB Local says 'A value provided cannot be
// converted into a number' and 'DynamoDB only supports precision up to 38 digits' instead).
const notANumber = (s: string) => validation(`The parameter cannot be converted to a numeric value${s === '' ? '' : `: ${s}`}`);
export const MSG_INPUT_PRECISION = 'Attempting to store more than 38 significant digits in a Number';
/** An update's arithmetic result with more than 38 digits. */
export const MSG_PRECISION = 'DynamoDB only supports precision up to 38 digits';
export const MSG_OVERFLOW = 'Number overflow. Attempting to store a number with magnitude larger than supported range';
export const MSG_UNDERFLOW = 'Number underflow. Attempting to store a number with magnitude smaller than supported range';

/** Parsed form of a number: sign, significant digits (no leading/trailing zeros), and the
 *  exponent of the last digit (value = digits * 10^exp). Zero has digits ''. */
interface Parsed {
  neg: boolean;
  digits: string;
  exp: number;
}

// Java's BigDecimal (which DynamoDB uses) rejects exponents outside the int range.
const MAX_EXP = 2147483647;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function parse(s: string): Parsed {
  const n = s.length;
  let i = 0;
  let neg = false;
  if (i < n && (s.charCodeAt(i) === 43 || s.charCodeAt(i) === 45)) {
    neg = s.charCodeAt(i) === 45;
    i++;
  }
  let intStart = i;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  const intPart = s.slice(intStart, i);
  let fracPart = '';
  if (i < n && s.charCodeAt(i) === 46) {
    i++;
    const fs = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    fracPart = s.slice(fs, i);
  }
  if (intPart.length === 0 && fracPart.length === 0) throw notANumber(s);
  let e = 0;
  if (i < n && (s.charCodeAt(i) === 101 || s.charCodeAt(i) === 69)) {
    i++;
    let eneg = false;
    if (i < n && (s.charCodeAt(i) === 43 || s.charCodeAt(i) === 45)) {
      eneg = s.charCodeAt(i) === 45;
      i++;
    }
    const es = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === es) throw notANumber(s);
    // strip leading zeros before measuring so "1e0000005" is fine
    let ed = s.slice(es, i).replace(/^0+/, '');
    if (ed.length > 10) throw notANumber(s);
    e = ed.length ? Number(ed) : 0;
    if (e > MAX_EXP) throw notANumber(s);
    if (eneg) e = -e;
  }
  if (i !== n) throw notANumber(s);
  let all = intPart + fracPart;
  let exp = e - fracPart.length;
  // trim leading zeros, then trailing zeros (moving them into the exponent)
  let a = 0;
  while (a < all.length && all.charCodeAt(a) === 48) a++;
  let b = all.length;
  while (b > a && all.charCodeAt(b - 1) === 48) b--;
  exp += all.length - b;
  all = all.slice(a, b);
  if (all.length === 0) return { neg: false, digits: '', exp: 0 };
  return { neg, digits: all, exp };
}

function checkRange(p: Parsed, precision: string): void {
  if (p.digits.length === 0) return;
  if (p.digits.length > 38) throw validation(precision);
  // scientific exponent of the leading digit
  const sci = p.exp + p.digits.length - 1;
  if (sci > 125) throw validation(MSG_OVERFLOW);
  if (sci < -130) throw validation(MSG_UNDERFLOW);
}

function format(p: Parsed): string {
  if (p.digits.length === 0) return '0';
  const sign = p.neg ? '-' : '';
  if (p.exp >= 0) return sign + p.digits + '0'.repeat(p.exp);
  const point = p.digits.length + p.exp; // digits before the decimal point
  if (point > 0) return sign + p.digits.slice(0, point) + '.' + p.digits.slice(point);
  return sign + '0.' + '0'.repeat(-point) + p.digits;
}

/** Validates a DynamoDB number string and returns it in DynamoDB's canonical plain notation. */
export function normalizeNumber(s: string): string {
  return checked(s, MSG_INPUT_PRECISION);
}

function checked(s: string, precision: string): string {
  const p = parse(s);
  checkRange(p, precision);
  return format(p);
}

function dec(s: string): Dec {
  return new D(s);
}

/** Numeric comparison of two valid number strings: negative, zero or positive. */
export function compareNumbers(a: string, b: string): number {
  if (a === b) return 0;
  const fast = compareCanonical(a, b);
  return fast !== undefined ? fast : dec(a).cmp(dec(b));
}

/** Numeric equality of two valid number strings. */
export function numbersEqual(a: string, b: string): boolean {
  if (a === b) return true;
  const fast = compareCanonical(a, b);
  return fast !== undefined ? fast === 0 : dec(a).eq(dec(b));
}

/** Length of the integer part when s is in canonical plain form (what normalizeNumber returns). */
function canonicalIntLength(s: string, start: number): number {
  const n = s.length;
  if (start >= n) return -1;
  let i = start;
  const first = s.charCodeAt(i);
  if (!isDigit(first)) return -1;
  i++;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  const intLen = i - start;
  if (first === 48 && intLen > 1) return -1;
  if (i === n) return intLen;
  if (s.charCodeAt(i) !== 46 || i + 1 === n) return -1;
  for (let j = i + 1; j < n; j++) if (!isDigit(s.charCodeAt(j))) return -1;
  if (s.charCodeAt(n - 1) === 48) return -1; // canonical fractions have no trailing zero
  return intLen;
}

// Stored numbers are canonical, so most comparisons need no decimal arithmetic: compare signs,
// then integer-part lengths, then digits. Anything else falls back to decimal.js.
function compareCanonical(a: string, b: string): number | undefined {
  const an = a.charCodeAt(0) === 45;
  const bn = b.charCodeAt(0) === 45;
  const al = canonicalIntLength(a, an ? 1 : 0);
  const bl = canonicalIntLength(b, bn ? 1 : 0);
  if (al < 0 || bl < 0) return undefined;
  if (an !== bn) return an ? -1 : 1; // canonical zero is never negative
  let r: number;
  if (al !== bl) r = al - bl;
  else {
    const x = an ? a.slice(1) : a;
    const y = bn ? b.slice(1) : b;
    r = x < y ? -1 : x > y ? 1 : 0; // same integer length: plain string order is numeric order
  }
  return an ? -r : r;
}

// Update arithmetic: the exact result is computed, then validated like a stored number
// (DynamoDB reports precision before range, e.g. 9.99..E125 + 1E125 is a precision error).
function finish(d: Dec): string {
  return checked(d.toFixed(), MSG_PRECISION);
}

export function addNumbers(a: string, b: string): string {
  return finish(dec(a).plus(dec(b)));
}

export function subtractNumbers(a: string, b: string): string {
  return finish(dec(a).minus(dec(b)));
}

/**
 * Bytes DynamoDB counts for a number: one per base-100 digit, the pairs aligned on the decimal point
 * (1.5 is 01|50, two bytes; 15 is one), plus one; negative numbers one more; at most 21.
 */
export function numberBytes(s: string): number {
  let p: Parsed;
  try {
    p = parse(s);
  } catch {
    return Math.ceil(s.length / 2) + 1; // not a number: only sized while refusing it
  }
  if (p.digits.length === 0) return 1;
  const pair = (power: number) => Math.floor(power / 2);
  const pairs = pair(p.exp + p.digits.length - 1) - pair(p.exp) + 1;
  return Math.min(21, pairs + 1 + (p.neg ? 1 : 0));
}
