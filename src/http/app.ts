// The HTTP face of the server: DynamoDB's JSON 1.0 protocol on POST /, health on GET /, and
// Prometheus metrics on GET /metrics.
import { randomBytes } from 'node:crypto';
import { crc32, gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { actions } from '../actions/index.js';
import { streamActions } from '../streams/actions.js';
import { RawJson, type ActionContext } from '../actions/context.js';
import { DynamoError, internalServerError, resourceNotFound, serialization, unknownOperation } from '../dynamo/errors.js';
import { metricsText, type ApiMetrics } from './metrics.js';

const gunzipAsync = promisify(gunzip);

/** DynamoDB accepts requests up to 16 MB (BatchWriteItem); leave room for JSON overhead. */
const BODY_LIMIT = 20 * 1024 * 1024;
const TARGET_PREFIX = 'DynamoDB_20120810.';
const STREAMS_PREFIX = 'DynamoDBStreams_20120810.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';

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

function send(reply: FastifyReply, status: number, body: string): FastifyReply {
  // Bytes, not a string: Fastify would append "; charset=utf-8", which DynamoDB never sends.
  const bytes = Buffer.from(body, 'utf8');
  return reply
    .code(status)
    .header('content-type', CONTENT_TYPE)
    .header('x-amzn-requestid', requestId())
    .header('x-amz-crc32', String(crc32(bytes)))
    .send(bytes);
}

function errorBody(e: DynamoError): string {
  return JSON.stringify({ __type: e.type, message: e.message, ...e.extra });
}

/** Cassandra says a table is unknown when another process dropped it: the table is gone. */
function isMissingCqlTable(e: unknown): boolean {
  const message = (e as Error)?.message ?? '';
  return /unconfigured table|does not exist/i.test(message) && (e as { code?: number }).code === 0x2200;
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
    if (request.headers['content-encoding'] === 'gzip') {
      return gunzipAsync(body, { maxOutputLength: BODY_LIMIT });
    }
    return body;
  });

  app.get('/', async (request, reply) =>
    reply.type('text/plain').send(`healthy: ${request.headers.host ?? 'dynamo-cassandra'} `),
  );

  const text = metricsText(metrics.registry);
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await text()),
  );

  app.post('/', async (request, reply) => {
    const started = process.hrtime.bigint();
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
      if (!spec) throw unknownOperation();
      const body = parseBody(request.body as Buffer | undefined);
      table = spec.tableOf?.(body);
      const scope = options.authenticate ? await options.authenticate(request, action, body) : undefined;
      spec.validate(body);
      const ctx = { ...options.context, ...scope, host: request.headers.host };
      let result: object;
      try {
        result = await spec.run(ctx, body);
      } catch (e) {
        // A CQL table missing under a cached catalog entry: the table was dropped (and maybe made
        // again) by another process. Nothing was written to it, so read the catalog and run again.
        if (!isMissingCqlTable(e) || !table) throw e;
        options.context.catalog.invalidate(table);
        result = await spec.run(ctx, body);
      }
      const json = result instanceof RawJson ? result.json : JSON.stringify(result);
      return send(reply, 200, json);
    } catch (e) {
      let error: DynamoError;
      if (e instanceof DynamoError) error = e;
      else if (isMissingCqlTable(e)) {
        if (table) options.context.catalog.invalidate(table);
        error = resourceNotFound();
      } else {
        request.log.error({ err: e, action, table }, 'request failed');
        error = internalServerError();
      }
      status = error.statusCode;
      errorName = error.name;
      return send(reply, status, errorBody(error));
    } finally {
      metrics.tables.record(table, { action, status, errorName }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  return app;
}

function parseBody(body: Buffer | undefined): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body && body.length ? body.toString('utf8') : '{}');
  } catch {
    throw serialization('Unexpected end-of-input or malformed JSON in request body');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw serialization('Start of structure or map not found at the top level of the request body');
  }
  // SDKs may send null for absent members; DynamoDB treats them as absent.
  const out = parsed as Record<string, unknown>;
  for (const k in out) if (out[k] === null) delete out[k];
  return out;
}
