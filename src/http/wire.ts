// DynamoDB's HTTP framing around the JSON protocol: which content types carry a request, what
// answers a method or content type it does not serve, and CORS for browser clients.
import { crc32 } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const AMZ_JSON = 'application/x-amz-json-1.0';
const PLAIN_JSON = 'application/json';

/**
 * The response content type for a request's Content-Type, or undefined when DynamoDB would not
 * treat the body as JSON. Parameters (";charset=...") and spaces around the type are ignored;
 * DynamoDB answers application/x-amz-json-1.0 requests in kind and everything else as application/json.
 */
export function responseContentType(header: string | undefined): { type: string; json: boolean } {
  const semi = header ? header.indexOf(';') : -1;
  const type = (header ? (semi < 0 ? header : header.slice(0, semi)) : '').trim();
  if (type === AMZ_JSON) return { type: AMZ_JSON, json: true };
  return { type: PLAIN_JSON, json: type === PLAIN_JSON };
}

// What DynamoDB sends for a method other than GET and POST, or a body that is not JSON.
const NOT_FOUND_BODY = '<UnknownOperationException/>\n';
const NOT_FOUND_CRC = String(crc32(NOT_FOUND_BODY));

export function sendNotFound(reply: FastifyReply, requestId: string): FastifyReply {
  return reply.code(404).header('x-amzn-requestid', requestId).header('x-amz-crc32', NOT_FOUND_CRC).type('text/plain').send(NOT_FOUND_BODY);
}

/** A CORS preflight (OPTIONS with Origin): allowed from anywhere, for two days, as DynamoDB does. */
export function sendPreflight(request: FastifyRequest, reply: FastifyReply, requestId: string): FastifyReply {
  const headers = request.headers['access-control-request-headers'];
  const method = request.headers['access-control-request-method'];
  if (headers) reply.header('access-control-allow-headers', headers);
  if (method) reply.header('access-control-allow-methods', method);
  return reply.code(200).header('x-amzn-requestid', requestId).header('access-control-max-age', '172800').header('content-length', '0').send();
}
