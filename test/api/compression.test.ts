// Response compression (Accept-Encoding) and compressed request bodies (Content-Encoding) over the
// real server: what is compressed, the CRC32 over the bytes sent, and the errors for bodies that
// cannot be decoded. Raw HTTP (node:http, which does not decode) and the AWS SDK with a middleware.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { crc32, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createPkTable, startTestServer, type TestServer } from '../helpers/server.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: Buffer;
}

/** A POST whose response body is returned exactly as sent on the wire. */
function post(endpoint: string, action: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      endpoint,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${action}`, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, bytes: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const big = 'x'.repeat(5000);
const small = 'small';

describe('HTTP compression', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('compression');
    await createPkTable(t.client, 'comp');
    await t.client.send(new PutItemCommand({ TableName: 'comp', Item: { pk: { S: 'big' }, v: { S: big } } }));
    await t.client.send(new PutItemCommand({ TableName: 'comp', Item: { pk: { S: 'small' }, v: { S: small } } }));
  });
  after(() => t?.close());

  const getItem = (pk: string) => JSON.stringify({ TableName: 'comp', Key: { pk: { S: pk } } });

  test('a large response is compressed with the accepted coding, and x-amz-crc32 covers the compressed bytes', async () => {
    for (const [coding, decode] of [
      ['gzip', gunzipSync],
      ['deflate', inflateSync],
    ] as const) {
      const res = await post(t.endpoint, 'GetItem', getItem('big'), { 'accept-encoding': coding });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(res.headers['x-amz-crc32'], String(crc32(res.bytes)));
      assert.ok(res.bytes.length < 1000, `compressed to ${res.bytes.length} bytes`);
      const decoded = JSON.parse(decode(res.bytes).toString('utf8'));
      assert.deepEqual(decoded, { Item: { pk: { S: 'big' }, v: { S: big } } });
    }
  });

  test('small responses, and clients that do not ask, get the body uncompressed', async () => {
    for (const [pk, headers] of [
      ['small', { 'accept-encoding': 'gzip, deflate' }],
      ['big', {}],
      ['big', { 'accept-encoding': 'identity' }],
      ['big', { 'accept-encoding': 'gzip;q=0, br' }],
    ] as const) {
      const res = await post(t.endpoint, 'GetItem', getItem(pk), headers);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers['x-amz-crc32'], String(crc32(res.bytes)));
      assert.equal(JSON.parse(res.bytes.toString('utf8')).Item.pk.S, pk);
    }
  });

  test('the AWS SDK asking for gzip through a middleware decodes the response after checking its CRC32', async () => {
    const seen: string[] = [];
    const client = t.client;
    // The SDK neither asks for nor decodes compressed responses; this middleware does both, and
    // checks the CRC32 over the compressed bytes as the Go and Java SDKs do.
    const name = 'gzipResponses';
    client.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['accept-encoding'] = 'gzip';
        return next(args);
      },
      { step: 'build', name: `${name}Ask` },
    );
    client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const response = out.response as { headers: Record<string, string>; body: AsyncIterable<Buffer> };
        const chunks: Buffer[] = [];
        for await (const c of response.body) chunks.push(Buffer.from(c));
        const wire = Buffer.concat(chunks);
        assert.equal(response.headers['x-amz-crc32'], String(crc32(wire)));
        const coding = response.headers['content-encoding'];
        seen.push(coding ?? 'none');
        response.body = Readable.from([coding === 'gzip' ? gunzipSync(wire) : wire]);
        return out;
      },
      { step: 'deserialize', name: `${name}Decode`, priority: 'low' },
    );
    try {
      const got = await client.send(new GetItemCommand({ TableName: 'comp', Key: { pk: { S: 'big' } } }));
      assert.equal(got.Item?.v?.S, big);
      const scan = await client.send(new ScanCommand({ TableName: 'comp' }));
      assert.equal(scan.Count, 2);
      const tiny = await client.send(new GetItemCommand({ TableName: 'comp', Key: { pk: { S: 'small' } } }));
      assert.equal(tiny.Item?.v?.S, small);
      assert.deepEqual(seen, ['gzip', 'gzip', 'none']);
    } finally {
      client.middlewareStack.remove(`${name}Ask`);
      client.middlewareStack.remove(`${name}Decode`);
    }
  });

  test('gzip and deflate request bodies are decoded, also several gzip members in a row', async () => {
    const item = (pk: string) => JSON.stringify({ TableName: 'comp', Item: { pk: { S: pk }, v: { S: 'c' } } });
    for (const [pk, body, coding] of [
      ['gz', gzipSync(item('gz')), 'gzip'],
      ['df', deflateSync(item('df')), 'deflate'],
      ['two', Buffer.concat([gzipSync(item('two').slice(0, 10)), gzipSync(item('two').slice(10))]), 'gzip'],
    ] as const) {
      const res = await post(t.endpoint, 'PutItem', body, { 'content-encoding': coding });
      assert.equal(res.status, 200, res.bytes.toString());
      const got = await t.client.send(new GetItemCommand({ TableName: 'comp', Key: { pk: { S: pk } }, ConsistentRead: true }));
      assert.equal(got.Item?.v?.S, 'c');
    }
  });

  test('bodies that cannot be decoded get InternalServerError, as DynamoDB answers, and write nothing', async () => {
    const item = JSON.stringify({ TableName: 'comp', Item: { pk: { S: 'bad' } } });
    for (const [body, coding] of [
      [Buffer.alloc(0), 'gzip'],
      [Buffer.from(item), 'gzip'],
      [gzipSync(item).subarray(0, -1), 'gzip'],
      [Buffer.from(item), 'deflate'],
      [Buffer.from(item), 'garbage'],
    ] as const) {
      const res = await post(t.endpoint, 'PutItem', body, { 'content-encoding': coding });
      assert.equal(res.status, 500, `${coding} ${body.length}`);
      assert.equal(JSON.parse(res.bytes.toString()).__type, 'com.amazonaws.dynamodb.v20120810#InternalServerError');
    }
    const got = await t.client.send(new GetItemCommand({ TableName: 'comp', Key: { pk: { S: 'bad' } }, ConsistentRead: true }));
    assert.equal(got.Item, undefined);
  });

  test('a compressed empty body is answered as an empty body is', async () => {
    const plain = await post(t.endpoint, 'ListTables', '');
    const compressed = await post(t.endpoint, 'ListTables', gzipSync(''), { 'content-encoding': 'gzip' });
    assert.equal(compressed.status, plain.status);
    assert.equal(compressed.bytes.toString(), plain.bytes.toString());
  });

  test('a compressed body that decodes to more than 16 MiB gets 413', async () => {
    const json = '{"TableName":"comp","Item":{"pk":{"S":"huge"}}' + ' '.repeat(17 * 1024 * 1024) + '}';
    const res = await post(t.endpoint, 'PutItem', gzipSync(json), { 'content-encoding': 'gzip' });
    assert.equal(res.status, 413);
  });
});
