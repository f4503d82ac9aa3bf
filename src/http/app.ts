// The HTTP face of the server: DynamoDB's JSON 1.0 protocol on POST /, health on GET /, and
// Prometheus metrics on GET /metrics.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { actions } from '../actions/index.js';
import { streamActions } from '../streams/actions.js';
import { REPLICATOR_HEADER } from '../streams/model.js';
import { RawJson, TableGoneError, type ActionContext } from '../actions/context.js';
import { DynamoError, internalServerError, resourceNotFound, serialization } from '../dynamo/errors.js';
import { metricsText, type ApiMetrics } from './metrics.js';
import { unknownOperationError } from './operations.js';
import { AMZ_JSON, responseContentType, sendNotFound, sendPreflight } from './wire.js';
import { COMPRESSION_THRESHOLD, DecodedBodyTooLargeError, decodeRequestBody, encodeBody, responseEncoding, UndecodableBodyError, type ResponseEncoding } from './compression.js';

/** DynamoDB refuses request bodies over 16 MiB with 413. */
const BODY_LIMIT = 16 * 1024 * 1024;
const TARGET_PREFIX = 'DynamoDB_20120810.';
const STREAMS_PREFIX = 'DynamoDBStreams_20120810.';
const CONTENT_TYPE = AMZ_JSON;

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received (before gunzip), for request signatures. */
    rawBody?: Buffer;
  }
}

export interface AppOptions {
  context: Omit<ActionContext, 'host'>;
  metrics: ApiMetrics;
  logLevel: string;
  https?: { cert: Buffer; key: Buffer };
  /** Runs before an action, e.g. request authentication; may return context for this request (src/auth). */
  authenticate?: (
    request: FastifyRequest,
    action: string,
    body: Record<string, unknown>,
  ) => Promise<Partial<Omit<ActionContext, 'host'>> | void>;
}

// Request ids look like DynamoDB's (52 characters, [0-9A-Z]): a random prefix per process and a
// counter, so no request pays for a call into the kernel's random source.
const ID_PREFIX = randomBytes(20).toString('hex').toUpperCase();
let idCounter = 0;
const requestId = () => ID_PREFIX + (idCounter++).toString(36).toUpperCase().padStart(12, '0');

/**
 * Writes a JSON-protocol response straight to the socket: the status line, a header block and the
 * body go out in one write (Node joins a string body to its unsent header block), with none of
 * Fastify's per-reply work (content-type parsing, serializer lookup, onSend hooks) that a
 * preformatted body does not need. The CRC32 is of the body's UTF-8 bytes, as DynamoDB's; a
 * client that accepts gzip or deflate gets large bodies compressed.
 */
function send(
  reply: FastifyReply,
  status: number,
  body: string,
  contentType = CONTENT_TYPE,
  encoding?: ResponseEncoding,
): FastifyReply | Promise<FastifyReply> {
  reply.hijack();
  const length = Buffer.byteLength(body);
  if (encoding && length >= COMPRESSION_THRESHOLD) return sendCompressed(reply, status, Buffer.from(body, 'utf8'), contentType, encoding);
  reply.raw.writeHead(status, responseHeaders(reply, contentType, length, crc32(body)));
  reply.raw.end(body);
  return reply;
}

function responseHeaders(reply: FastifyReply, contentType: string, length: number, crc: number): string[] {
  const headers = ['content-type', contentType, 'content-length', String(length), 'x-amzn-requestid', requestId(), 'x-amz-crc32', String(crc)];
  if (reply.request.headers.origin !== undefined) headers.push('access-control-allow-origin', '*');
  return headers;
}

async function sendCompressed(
  reply: FastifyReply,
  status: number,
  bytes: Buffer,
  contentType: string,
  encoding: ResponseEncoding,
): Promise<FastifyReply> {
  const sent = await encodeBody(bytes, encoding);
  // DynamoDB's x-amz-crc32 covers the bytes on the wire, i.e. the compressed body: the SDKs
  // (e.g. aws-sdk-go-v2's DynamoDB customizations) check it before decompressing.
  const headers = responseHeaders(reply, contentType, sent.length, crc32(sent));
  headers.push('content-encoding', encoding);
  reply.raw.writeHead(status, headers);
  reply.raw.end(sent);
  return reply;
}

function errorBody(e: DynamoError): string {
  const body: Record<string, unknown> = { __type: e.type };
  if (e.message) body[e.messageKey] = e.message;
  return JSON.stringify(e.extra ? { ...body, ...e.extra } : body);
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { metrics } = options;
  const app = Fastify({
    logger: { level: options.logLevel },
    bodyLimit: BODY_LIMIT,
    // Per-request log lines would dominate the hot path; errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    keepAliveTimeout: 65_000,
    ...(options.https ? { https: options.https } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  // Every content type is taken as raw bytes; the route parses JSON itself so that malformed
  // input becomes DynamoDB's SerializationException rather than Fastify's own error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, async (request: FastifyRequest, body: Buffer) => {
    request.rawBody = body;
    const coding = request.headers['content-encoding'];
    return coding === undefined ? body : decodeRequestBody(body, coding, BODY_LIMIT);
  });

  // Browsers may call from any origin, as they may call DynamoDB.
  // (The JSON responses of send() add the header themselves: they bypass Fastify's reply.)
  app.addHook('onRequest', (request, reply, done) => {
    if (request.headers.origin !== undefined) reply.header('access-control-allow-origin', '*');
    done();
  });
  // Other methods get DynamoDB's 404, except a CORS preflight.
  app.setNotFoundHandler(async (request, reply) =>
    request.method === 'OPTIONS' && request.headers.origin !== undefined
      ? sendPreflight(request, reply, requestId())
      : sendNotFound(reply, requestId()),
  );
  // A body over the limit: 413 with an empty chunked body, as DynamoDB answers.
  app.setErrorHandler(async (error: { statusCode?: number; code?: string }, request, reply) => {
    // A compressed body that decodes to more than the limit is refused the same way.
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error instanceof DecodedBodyTooLargeError) return reply.code(413).send(Readable.from([]));
    // DynamoDB answers a body it cannot decode with InternalServerError.
    if (error instanceof UndecodableBodyError) return send(reply, 500, errorBody(internalServerError()));
    // A body with a Content-Type that is no media type at all ("whatever") is not JSON either.
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendNotFound(reply, requestId());
    request.log.error({ err: error }, 'request failed before dispatch');
    return send(reply, error.statusCode && error.statusCode < 500 ? 400 : 500, errorBody(error.statusCode && error.statusCode < 500 ? serialization() : internalServerError()));
  });

  const health = `healthy: dynamodb.${options.context.config.region}.amazonaws.com `;
  app.get('/', async (_request, reply) => send(reply, 200, health, 'text/plain'));

  const text = metricsText(metrics.registry);
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await text()),
  );

  app.post('/', async (request, reply) => {
    const started = process.hrtime.bigint();
    const body = request.body as Buffer | undefined;
    const acceptEncoding = request.headers['accept-encoding'];
    const encoding = acceptEncoding === undefined ? undefined : responseEncoding(acceptEncoding);
    const { type: contentType, json } = responseContentType(request.headers['content-type']);
    if (body && body.length && !json) return sendNotFound(reply, requestId());
    const target = request.headers['x-amz-target'];
    // The Streams API shares the endpoint and the JSON 1.0 framing; only its target prefix differs.
    const targetActions = typeof target === 'string' && target.startsWith(STREAMS_PREFIX) ? streamActions : actions;
    const prefix = targetActions === streamActions ? STREAMS_PREFIX : TARGET_PREFIX;
    const action = typeof target === 'string' && target.startsWith(prefix) ? target.slice(prefix.length) : '';
    const spec = Object.hasOwn(targetActions, action) ? targetActions[action] : undefined;
    let table: string | undefined;
    let status = 200;
    let errorName: string | undefined;
    try {
      // DynamoDB's order: the body must be JSON, then the operation known, then the request signed.
      const parsed = parseBody(body);
      if (!spec) throw unknownOperationError(typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? action : '');
      const req = parsed ?? {};
      table = spec.tableOf?.(req);
      const scope = options.authenticate ? await options.authenticate(request, action, req) : undefined;
      if (!parsed) throw serialization();
      spec.validate(req);
      const ctx = { ...options.context, ...scope, host: request.headers.host, replicated: request.headers[REPLICATOR_HEADER] !== undefined };
      let result: object;
      try {
        result = await spec.run(ctx, req);
      } catch (e) {
        // A CQL table missing under a cached catalog entry: the table was dropped (and maybe made
        // again) by another process. Nothing was written to it, so read the catalog and run again.
        if (!(e instanceof TableGoneError) || !table) throw e;
        options.context.catalog.invalidate(table);
        result = await spec.run(ctx, req);
      }
      return send(reply, 200, result instanceof RawJson ? result.json : JSON.stringify(result), contentType, encoding);
    } catch (e) {
      let error: DynamoError;
      if (e instanceof DynamoError) error = e;
      else if (e instanceof TableGoneError) {
        if (table) options.context.catalog.invalidate(table);
        error = resourceNotFound();
      } else {
        request.log.error({ err: e, action, table }, 'request failed');
        error = internalServerError();
      }
      status = error.statusCode;
      errorName = error.name;
      return send(reply, status, errorBody(error), contentType, encoding);
    } finally {
      metrics.tables.record(table, { action, status, errorName }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  return app;
}

/** The request object, or undefined for an empty body (DynamoDB refuses both, at different steps). */
function parseBody(body: Buffer | undefined): Record<string, unknown> | undefined {
  if (!body || body.length === 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw serialization();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw serialization('Start of structure or map not found at the top level of the request body');
  }
  return parsed as Record<string, unknown>;
}
