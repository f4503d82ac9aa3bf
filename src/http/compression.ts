// HTTP content codings as DynamoDB applies them: request bodies sent with Content-Encoding gzip or
// deflate are decoded, and responses of at least 4 KiB are compressed when the client's
// Accept-Encoding allows gzip or deflate. Smaller responses are sent as they are, as DynamoDB does.
import { deflate, gunzip, gzip, inflate } from 'node:zlib';
import { promisify } from 'node:util';

export type ResponseEncoding = 'gzip' | 'deflate';

/** DynamoDB compresses a response only from this size on (smaller ones would hardly shrink). */
export const COMPRESSION_THRESHOLD = 4096;

const gzipAsync = promisify(gzip);
const deflateAsync = promisify(deflate);
const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/** An error that the HTTP layer answers with DynamoDB's 500, as DynamoDB answers undecodable bodies. */
export class UndecodableBodyError extends Error {
  readonly undecodableBody = true;
}

/** A compressed body that decodes to more than the request size limit (answered with 413). */
export class DecodedBodyTooLargeError extends Error {}

/**
 * The decoded request body. DynamoDB answers an unknown coding, a corrupt stream and an empty body
 * claimed to be compressed with InternalServerError (500); the decoded size is bounded by `limit`
 * so that a small compressed body cannot fill the memory.
 */
export async function decodeRequestBody(body: Buffer, coding: string | undefined, limit: number): Promise<Buffer> {
  const name = coding?.trim().toLowerCase();
  if (name === undefined || name === '' || name === 'identity') return body;
  const decode = name === 'gzip' ? gunzipAsync : name === 'deflate' ? inflateAsync : undefined;
  if (!decode) throw new UndecodableBodyError(`unsupported Content-Encoding ${name}`);
  try {
    return await decode(body, { maxOutputLength: limit });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new DecodedBodyTooLargeError('decoded body over the limit');
    throw new UndecodableBodyError(`undecodable ${name} body: ${(e as Error).message}`);
  }
}

/** Compresses a response body with the chosen coding (on libuv's thread pool, off the event loop). */
export function encodeBody(body: Buffer, encoding: ResponseEncoding): Promise<Buffer> {
  return encoding === 'gzip' ? gzipAsync(body) : deflateAsync(body);
}

/** A coding's quality: the first q parameter; a malformed one counts as 1, out of range is clamped. */
function quality(params: string[]): number {
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const q = Number(param.slice(eq + 1).trim());
    if (Number.isNaN(q) || param.slice(eq + 1).trim() === '') return 1;
    return Math.min(1, Math.max(0, q));
  }
  return 1;
}

interface Candidate {
  encoding: ResponseEncoding;
  q: number;
}

/**
 * The coding to answer with for an Accept-Encoding header, or undefined for none. As DynamoDB:
 * case-insensitive names; the highest quality wins, ties go to the coding named first, and a coding
 * named explicitly beats one covered by "*" ("*" prefers gzip); "identity" and unknown or malformed
 * entries ("gzip br", "\"gzip\"") are ignored; q=0 refuses a coding.
 */
export function responseEncoding(header: string | undefined): ResponseEncoding | undefined {
  if (!header) return undefined;
  const named = new Map<ResponseEncoding, Candidate>();
  let star: number | undefined;
  for (const entry of header.split(',')) {
    const [rawName, ...params] = entry.split(';');
    const name = rawName.trim().toLowerCase();
    if (name === '') continue;
    const q = quality(params);
    if (name === '*') {
      star = Math.max(star ?? 0, q);
    } else if (name === 'gzip' || name === 'deflate') {
      const seen = named.get(name);
      // A coding listed twice counts with its best quality.
      if (!seen) named.set(name, { encoding: name, q });
      else seen.q = Math.max(seen.q, q);
    }
  }
  // In header order, then the codings "*" covers: the first of equal quality wins.
  const candidates = [...named.values()];
  if (star !== undefined) {
    for (const encoding of ['gzip', 'deflate'] as const) {
      if (!named.has(encoding)) candidates.push({ encoding, q: star });
    }
  }
  let best: Candidate | undefined;
  for (const c of candidates) {
    if (c.q > 0 && (!best || c.q > best.q)) best = c;
  }
  return best?.encoding;
}
