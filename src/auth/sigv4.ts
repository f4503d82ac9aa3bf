// AWS Signature Version 4 verification of an incoming request. The checks run in the order
// DynamoDB applies them (header shape, date, scope, key, signature), so each failure gets the
// error DynamoDB would give. aws4 does the signing arithmetic over the request as received.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import aws4 from 'aws4';
import { incompleteSignature, invalidSignature, missingAuthenticationToken, SIGNATURE_MISMATCH } from './errors.js';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** DynamoDB and DynamoDB Streams both sign with the service name "dynamodb". */
export const SERVICE = 'dynamodb';
/** Allowed clock difference between the signer and us, either way. */
export const CLOCK_WINDOW_MS = 15 * 60 * 1000;

const ISO_BASIC = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const REGION = /^[a-z0-9-]{1,64}$/;

export interface Authorization {
  accessKeyId: string;
  /** YYYYMMDD/region/service/aws4_request */
  scope: { date: string; region: string; service: string };
  signedHeaders: string[];
  signature: string;
  /** The request time (ISO 8601 basic) the signature covers. */
  amzDate: string;
}

export interface ReceivedRequest {
  method: string;
  /** Path and query exactly as on the request line. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The body bytes as received (before any content decoding). */
  body: Buffer | undefined;
}

export const isoBasic = (ms: number) => new Date(ms).toISOString().replace(/[:-]|\.\d{3}/g, '');

function parseIsoBasic(s: string): number {
  const m = ISO_BASIC.exec(s);
  if (!m) return NaN;
  const [y, mo, d, h, mi, sec] = [+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]];
  const t = Date.UTC(y, mo - 1, d, h, mi, sec);
  // Reject dates that Date.UTC would silently roll over (month 13, day 31 of April, hour 25, ...).
  const valid = mo >= 1 && mo <= 12 && h < 24 && mi < 60 && sec < 60 && d >= 1 && new Date(t).getUTCDate() === d;
  return valid ? t : NaN;
}

const single = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : v);

/**
 * Reads and checks the Authorization header (everything that does not need the secret).
 * Throws DynamoDB's MissingAuthenticationToken / IncompleteSignature / InvalidSignature errors.
 */
export function parseAuthorization(headers: IncomingHttpHeaders, now = Date.now()): Authorization {
  const header = single(headers.authorization)?.trim();
  if (!header || !header.startsWith('AWS4-')) throw missingAuthenticationToken();
  const space = header.search(/\s/);
  const algorithm = space < 0 ? header : header.slice(0, space);
  const params: Record<string, string> = {};
  // Parameters are separated by commas or white space, as DynamoDB reads them.
  for (const raw of (space < 0 ? '' : header.slice(space + 1)).split(/[\s,]+/)) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) {
      throw incompleteSignature(`'${part}' not a valid key=value pair (missing equal-sign) in Authorization header: '${header}'.`);
    }
    params[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  const amzHeader = single(headers['x-amz-date']);
  const dateHeader = amzHeader ?? single(headers.date);
  let missing = '';
  for (const name of ['Credential', 'Signature', 'SignedHeaders']) {
    if (!params[name]) missing += `Authorization header requires '${name}' parameter. `;
  }
  if (!dateHeader) missing += `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. `;
  if (missing) throw incompleteSignature(missing + 'Authorization=' + header);

  // X-Amz-Date is ISO 8601 basic; a plain Date header may also be an HTTP date.
  let requestTime = parseIsoBasic(dateHeader!);
  if (Number.isNaN(requestTime) && amzHeader === undefined && /[a-z]/i.test(dateHeader!)) requestTime = Date.parse(dateHeader!);
  if (Number.isNaN(requestTime)) {
    throw incompleteSignature(`Date must be in ISO-8601 'basic format'. Got '${dateHeader}'. See http://en.wikipedia.org/wiki/ISO_8601`);
  }
  const amzDate = ISO_BASIC.test(dateHeader!) ? dateHeader! : isoBasic(requestTime);
  if (requestTime < now - CLOCK_WINDOW_MS) {
    throw invalidSignature(`Signature expired: ${amzDate} is now earlier than ${isoBasic(now - CLOCK_WINDOW_MS)} (${isoBasic(now)} - 15 min.)`);
  }
  if (requestTime > now + CLOCK_WINDOW_MS) {
    throw invalidSignature(`Signature not yet current: ${amzDate} is still later than ${isoBasic(now + CLOCK_WINDOW_MS)} (${isoBasic(now)} + 15 min.)`);
  }

  const signedHeaders = params.SignedHeaders.split(';').map((h) => h.trim().toLowerCase());
  if (!signedHeaders.includes('host')) throw invalidSignature(`'Host' must be a 'SignedHeader' in the AWS Authorization.`);
  if (algorithm !== ALGORITHM) {
    throw incompleteSignature(`Unsupported AWS 'algorithm': '${algorithm}' (only ${ALGORITHM} for now). `);
  }
  const credential = params.Credential.replace(/\/+$/, '');
  const pieces = credential.split('/');
  if (pieces.length !== 5) {
    throw incompleteSignature(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${params.Credential}'`,
    );
  }
  const [accessKeyId, date, region, service, terminator] = pieces;
  let wrong = '';
  if (!REGION.test(region)) wrong += `Credential should be scoped to a valid region, not '${region}'. `;
  if (service !== SERVICE) wrong += `Credential should be scoped to correct service: '${SERVICE}'. `;
  if (terminator !== 'aws4_request') wrong += `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. `;
  if (date !== amzDate.slice(0, 8)) {
    wrong += `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`;
  }
  if (wrong) throw invalidSignature(wrong.trim());
  if (!accessKeyId) throw incompleteSignature(`Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${params.Credential}'`);
  return { accessKeyId, scope: { date, region, service }, signedHeaders, signature: params.Signature, amzDate };
}

const sha256Hex = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/**
 * Recomputes the signature with the key's secret and compares it in constant time.
 * Throws InvalidSignatureException when the body or a signed header was changed, or the secret
 * is wrong.
 */
export function verifySignature(request: ReceivedRequest, auth: Authorization, secretAccessKey: string): void {
  const body = request.body ?? Buffer.alloc(0);
  // Only the headers the client signed take part, with the values we received.
  const headers: Record<string, string> = {};
  const include: Record<string, boolean> = Object.create(null);
  for (const name of auth.signedHeaders) {
    headers[name] = single(request.headers[name]) ?? '';
    include[name] = true; // aws4 would otherwise skip some (user-agent, expect, ...)
  }
  // aws4 trusts a signed x-amz-content-sha256 as the body hash, so check it against the bytes.
  const claimed = headers['x-amz-content-sha256'];
  if (claimed !== undefined && claimed !== sha256Hex(body)) {
    throw invalidSignature(`The provided 'x-amz-content-sha256' header does not match what was computed.`);
  }
  let expected: string;
  let signer: aws4.RequestSigner;
  try {
    signer = new aws4.RequestSigner(
      {
        method: request.method,
        path: request.url,
        headers,
        body,
        service: auth.scope.service,
        region: auth.scope.region,
        doNotModifyHeaders: true,
        extraHeadersToInclude: include,
      } as aws4.Request,
      { accessKeyId: auth.accessKeyId, secretAccessKey },
    );
    // With doNotModifyHeaders aws4 does not read the date from the headers: give it the one signed.
    (signer as unknown as { datetime: string }).datetime = auth.amzDate;
    expected = signer.signature();
  } catch {
    throw invalidSignature(SIGNATURE_MISMATCH); // e.g. a path aws4 cannot decode
  }
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(auth.signature) ? auth.signature : '', 'hex');
  const wanted = Buffer.from(expected, 'hex');
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    // DynamoDB tells the client what it signed; neither string holds a secret.
    throw invalidSignature(
      `${SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n'${signer.canonicalString()}'\n\n` +
        `The String-to-Sign should have been\n'${signer.stringToSign()}'\n`,
    );
  }
}
