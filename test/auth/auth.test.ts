// Authentication end to end: a real server with --auth enforce over the test Cassandra node, the
// AWS SDK v3 and raw signed requests. Every refused request must get DynamoDB's error and leave
// the data as it was.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import aws4 from 'aws4';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { openKeyStore, type KeyStore } from '../../src/auth/index.js';
import { isoBasic } from '../../src/auth/sigv4.js';
import { errorOf, startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = { accessKeyId: 'AUTHTESTADMIN', secretAccessKey: 'admin-secret-' + randomBytes(8).toString('hex') };

function client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
}

interface RawOptions {
  /** Signing time (default now). */
  date?: Date;
  /** Body actually sent, when it differs from the one signed. */
  sentBody?: Buffer;
  headers?: Record<string, string>;
  /** Skip signing altogether. */
  unsigned?: boolean;
  authorization?: string;
  gzip?: boolean;
}

/** A request signed with aws4 (independently of the SDK), sent with node:http exactly as built. */
function raw(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, action: string, body: object, o: RawOptions = {}) {
  const url = new URL(endpoint);
  const json = Buffer.from(JSON.stringify(body));
  const payload = o.gzip ? gzipSync(json) : json;
  const req = {
    host: url.host,
    path: '/',
    method: 'POST',
    service: 'dynamodb',
    region: 'us-east-1',
    body: payload,
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDB_20120810.${action}`,
      ...(o.gzip ? { 'Content-Encoding': 'gzip' } : {}),
      ...(o.date ? { 'X-Amz-Date': isoBasic(o.date.getTime()) } : {}),
      ...o.headers,
    } as Record<string, string | number>,
  };
  if (!o.unsigned) aws4.sign(req as unknown as aws4.Request, creds);
  if (o.authorization !== undefined) req.headers.Authorization = o.authorization;
  const sent = o.sentBody ?? payload;
  req.headers['Content-Length'] = sent.length;
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const r = httpRequest({ host: url.hostname, port: url.port, path: '/', method: 'POST', headers: req.headers as Record<string, string> }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    r.on('error', reject);
    r.end(sent);
  });
}

const typeName = (body: any) => String(body?.__type ?? '').split('#')[1];

describe('SigV4 authentication and per-key authorization', () => {
  let t: TestServer;
  let keys: KeyStore;
  let admin: DynamoDBClient;
  const key = { pk: { S: 'k1' } };
  const original = { ...key, v: { S: 'original' } };

  const current = async (table = 'app.items') => (await admin.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
  const assertUnchanged = async (table = 'app.items') => assert.deepEqual(await current(table), original);

  before(async () => {
    t = await startTestServer('auth_sigv4', {
      auth: 'enforce',
      accessKey: ADMIN.accessKeyId,
      secretKey: ADMIN.secretAccessKey,
      authServerKey: randomBytes(32).toString('hex'),
      accountId: '123456789012',
    });
    keys = openKeyStore(t.config, t.server.session);
    admin = client(t.endpoint, ADMIN);
    for (const name of ['app.items', 'other']) {
      await admin.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await admin.send(new PutItemCommand({ TableName: name, Item: original }));
    }
  });

  after(async () => {
    admin?.destroy();
    await t?.close();
  });

  it('lets the right key work, with its account id in ARNs', async () => {
    const created = await keys.create({ name: 'ops', accountId: '210987654321' });
    const c = client(t.endpoint, created);
    const d = await c.send(new DescribeTableCommand({ TableName: 'app.items' }));
    assert.equal(d.Table?.TableArn, 'arn:aws:dynamodb:us-east-1:210987654321:table/app.items');
    const a = await admin.send(new DescribeTableCommand({ TableName: 'app.items' }));
    assert.equal(a.Table?.TableArn, 'arn:aws:dynamodb:us-east-1:123456789012:table/app.items');
    assert.deepEqual((await c.send(new GetItemCommand({ TableName: 'app.items', Key: key }))).Item, original);
    c.destroy();
  });

  it('passes x-amz-security-token through', async () => {
    const c = client(t.endpoint, { ...ADMIN, sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN' });
    assert.ok((await c.send(new ListTablesCommand({}))).TableNames?.includes('app.items'));
    c.destroy();
  });

  it('refuses a wrong secret with InvalidSignatureException', async () => {
    const c = client(t.endpoint, { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'not-the-secret' });
    const e = await errorOf(() => c.send(new PutItemCommand({ TableName: 'app.items', Item: { ...key, v: { S: 'changed' } } })));
    assert.equal(e.name, 'InvalidSignatureException');
    assert.equal(e.$metadata?.httpStatusCode, 400);
    assert.match(e.message, /^The request signature we calculated does not match the signature you provided/);
    c.destroy();
    await assertUnchanged();
  });

  it('refuses an unknown key with UnrecognizedClientException', async () => {
    const c = client(t.endpoint, { accessKeyId: 'DCUNKNOWNKEY0000000', secretAccessKey: 'whatever-secret' });
    const e = await errorOf(() => c.send(new PutItemCommand({ TableName: 'app.items', Item: { ...key, v: { S: 'changed' } } })));
    assert.equal(e.name, 'UnrecognizedClientException');
    assert.equal(e.message, 'The security token included in the request is invalid.');
    c.destroy();
    await assertUnchanged();
  });

  it('stops a revoked key within seconds', async () => {
    const created = await keys.create({ name: 'to-revoke' });
    const c = client(t.endpoint, created);
    await c.send(new ListTablesCommand({}));
    const listed = await keys.list();
    assert.ok(listed.some((k) => k.accessKeyId === created.accessKeyId && !k.revokedAt && k.name === 'to-revoke'));
    assert.ok(await keys.revoke(created.accessKeyId));
    assert.equal(await keys.revoke('DCNOSUCHKEY000000000'), false);
    const revokedAt = Date.now();
    let e: Error & { name: string };
    for (;;) {
      try {
        await c.send(new PutItemCommand({ TableName: 'app.items', Item: { ...key, v: { S: 'changed' } } }));
      } catch (err) {
        e = err as Error;
        break;
      }
      assert.ok(Date.now() - revokedAt < 5000, 'the revoked key still works after 5 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(e.name, 'UnrecognizedClientException');
    c.destroy();
    // The write the revoked key made before it was refused (if any) is tolerated; reset and check the refusal did nothing.
    await admin.send(new PutItemCommand({ TableName: 'app.items', Item: original }));
    const again = await errorOf(() => c.send(new PutItemCommand({ TableName: 'app.items', Item: { ...key, v: { S: 'changed' } } })));
    assert.equal(again.name, 'UnrecognizedClientException');
    await assertUnchanged();
  });

  it('refuses a request without Authorization with MissingAuthenticationTokenException', async () => {
    const r = await raw(t.endpoint, ADMIN, 'PutItem', { TableName: 'app.items', Item: { ...key, v: { S: 'changed' } } }, { unsigned: true });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { __type: 'com.amazon.coral.service#MissingAuthenticationTokenException', message: 'Request is missing Authentication Token' });
    await assertUnchanged();
  });

  it('refuses a malformed Authorization header with IncompleteSignatureException', async () => {
    const r = await raw(t.endpoint, ADMIN, 'PutItem', { TableName: 'app.items', Item: { ...key, v: { S: 'changed' } } }, {
      authorization: `AWS4-HMAC-SHA256 Credential=${ADMIN.accessKeyId}/20240101/us-east-1/dynamodb/aws4_request`,
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.__type, 'com.amazon.coral.service#IncompleteSignatureException');
    assert.match(r.body.message, /^Authorization header requires 'Signature' parameter\. Authorization header requires 'SignedHeaders' parameter\. Authorization=AWS4/);
    await assertUnchanged();
  });

  it('refuses a signature 20 minutes old with InvalidSignatureException', async () => {
    const r = await raw(t.endpoint, ADMIN, 'PutItem', { TableName: 'app.items', Item: { ...key, v: { S: 'changed' } } }, { date: new Date(Date.now() - 20 * 60_000) });
    assert.equal(r.status, 400);
    assert.equal(r.body.__type, 'com.amazon.coral.service#InvalidSignatureException');
    assert.match(r.body.message, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
    await assertUnchanged();
  });

  it('refuses a body changed after signing with InvalidSignatureException', async () => {
    const signed = { TableName: 'app.items', Item: { ...key, v: { S: 'changeA' } } };
    const sentBody = Buffer.from(JSON.stringify({ TableName: 'app.items', Item: { ...key, v: { S: 'changeB' } } }));
    const r = await raw(t.endpoint, ADMIN, 'PutItem', signed, { sentBody });
    assert.equal(r.status, 400);
    assert.equal(typeName(r.body), 'InvalidSignatureException');
    await assertUnchanged();
  });

  it('verifies the signature over the gzip-compressed body as sent', async () => {
    const ok = await raw(t.endpoint, ADMIN, 'GetItem', { TableName: 'app.items', Key: key, ConsistentRead: true }, { gzip: true });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.Item, original);
    const other = gzipSync(Buffer.from(JSON.stringify({ TableName: 'app.items', Item: { ...key, v: { S: 'changed' } } })));
    const bad = await raw(t.endpoint, ADMIN, 'PutItem', { TableName: 'app.items', Item: original }, { gzip: true, sentBody: other });
    assert.equal(typeName(bad.body), 'InvalidSignatureException');
    await assertUnchanged();
  });

  it('refuses a read-only key writing with AccessDeniedException', async () => {
    const created = await keys.create({ name: 'reader', allow: ['read'] });
    const c = client(t.endpoint, created);
    assert.deepEqual((await c.send(new GetItemCommand({ TableName: 'app.items', Key: key }))).Item, original);
    const e = await errorOf(() => c.send(new PutItemCommand({ TableName: 'app.items', Item: { ...key, v: { S: 'changed' } } })));
    assert.equal(e.name, 'AccessDeniedException');
    assert.equal(e.$metadata?.httpStatusCode, 400);
    assert.equal(
      e.message,
      'User: arn:aws:iam::123456789012:user/reader is not authorized to perform: dynamodb:PutItem on resource: ' +
        'arn:aws:dynamodb:us-east-1:123456789012:table/app.items because no identity-based policy allows the dynamodb:PutItem action',
    );
    c.destroy();
    await assertUnchanged();
  });

  it('refuses a key limited to app.* touching another table', async () => {
    const created = await keys.create({ name: 'app-only', allow: ['read,write:app.*'] });
    const c = client(t.endpoint, created);
    await c.send(new PutItemCommand({ TableName: 'app.items', Item: { ...key, v: { S: 'by-app' } } }));
    assert.equal((await current())?.v?.S, 'by-app');
    await admin.send(new PutItemCommand({ TableName: 'app.items', Item: original }));
    for (const call of [
      () => c.send(new PutItemCommand({ TableName: 'other', Item: { ...key, v: { S: 'changed' } } })),
      () => c.send(new GetItemCommand({ TableName: 'other', Key: key })),
      () => c.send(new DescribeTableCommand({ TableName: 'other' })),
      () => c.send(new CreateTableCommand({ TableName: 'app.new', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' })),
    ]) {
      const e = await errorOf(call);
      assert.equal(e.name, 'AccessDeniedException');
    }
    c.destroy();
    await assertUnchanged('other');
    assert.ok(!(await admin.send(new ListTablesCommand({}))).TableNames?.includes('app.new'));
  });

  it('rejects unparseable JSON and unknown operations the same way with or without a key', async () => {
    const r = await raw(t.endpoint, ADMIN, 'NoSuchAction', {});
    assert.equal(typeName(r.body), 'UnknownOperationException');
  });
});

describe('auth modes', () => {
  it('warn lets unsigned and wrongly signed requests through', async () => {
    const t = await startTestServer('auth_warn', { auth: 'warn', authServerKey: randomBytes(32).toString('hex'), logLevel: 'error' });
    try {
      const c = client(t.endpoint, { accessKeyId: 'nobody', secretAccessKey: 'nothing' });
      assert.ok(Array.isArray((await c.send(new ListTablesCommand({}))).TableNames));
      c.destroy();
      const r = await raw(t.endpoint, ADMIN, 'ListTables', {}, { unsigned: true });
      assert.equal(r.status, 200);
    } finally {
      await t.close();
    }
  });

  it('off on loopback by default; refuses a non-loopback address without keys', async () => {
    const t = await startTestServer('auth_default', {});
    try {
      const r = await raw(t.endpoint, ADMIN, 'ListTables', {}, { unsigned: true });
      assert.equal(r.status, 200);
    } finally {
      await t.close();
    }
    await assert.rejects(
      startTestServer('auth_refuse', { host: '0.0.0.0', authServerKey: randomBytes(32).toString('hex') }),
      (e: Error) => e.name === 'Error' && /refusing to serve on 0\.0\.0\.0 without authentication/.test(e.message),
    );
    const open = await startTestServer('auth_refuse', { host: '0.0.0.0', auth: 'off' });
    await open.close();
  });

  it('enforces by default off loopback once a key exists', async () => {
    const serverKey = randomBytes(32).toString('hex');
    const first = await startTestServer('auth_auto', { host: '0.0.0.0', accessKey: 'AUTOKEY', secretKey: 'auto-secret-123', authServerKey: serverKey });
    await first.server.close(); // keep the keyspace: the key stays stored
    const t = await startTestServer('auth_auto', { host: '0.0.0.0', authServerKey: serverKey });
    try {
      const r = await raw(t.endpoint, ADMIN, 'ListTables', {}, { unsigned: true });
      assert.equal(typeName(r.body), 'MissingAuthenticationTokenException');
      const ok = await raw(t.endpoint, { accessKeyId: 'AUTOKEY', secretAccessKey: 'auto-secret-123' }, 'ListTables', {});
      assert.equal(ok.status, 200);
    } finally {
      await t.close();
    }
  });
});

describe('HTTPS', () => {
  it('serves the API over TLS with keep-alive connections, signatures checked', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-auth-tls-'));
    const cert = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    const made = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', cert, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    if (made.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      ctx.skip('openssl is not available to make a test certificate');
      return;
    }
    const t = await startTestServer('auth_tls', {
      tlsCert: cert,
      tlsKey: keyFile,
      accessKey: ADMIN.accessKeyId,
      secretKey: ADMIN.secretAccessKey,
      authServerKey: randomBytes(32).toString('hex'),
    });
    let connections = 0;
    t.server.app.server.on('secureConnection', () => connections++);
    const endpoint = `https://localhost:${t.server.port}`;
    const agent = new HttpsAgent({ ca: readFileSync(cert), keepAlive: true, maxSockets: 1 });
    const c = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: ADMIN, maxAttempts: 1, requestHandler: { httpsAgent: agent } });
    const wrong = new DynamoDBClient({
      endpoint, region: 'us-east-1', maxAttempts: 1, requestHandler: { httpsAgent: agent },
      credentials: { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'wrong-secret' },
    });
    try {
      for (let i = 0; i < 5; i++) assert.ok(Array.isArray((await c.send(new ListTablesCommand({}))).TableNames));
      assert.equal((await errorOf(() => wrong.send(new ListTablesCommand({})))).name, 'InvalidSignatureException');
      assert.equal(connections, 1, 'SDK requests should reuse one TLS connection');
      const plain = await fetch(`http://127.0.0.1:${t.server.port}/`).then(() => 'answered', () => 'refused');
      assert.equal(plain, 'refused');
    } finally {
      c.destroy();
      wrong.destroy();
      agent.destroy();
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('keys command and --access-key', () => {
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli.js');
  const serverKey = randomBytes(32).toString('hex');
  const keysCli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, 'keys', ...args, '--contact-points', process.env.DC_TEST_CONTACT_POINTS!, '--keyspace', 'auth_cli', '--local-dc', process.env.DC_TEST_LOCAL_DC ?? 'datacenter1'], {
      env: { ...process.env, DC_AUTH_SERVER_KEY: serverKey },
      encoding: 'utf8',
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('creates, lists and revokes keys that a server accepts, and never shows secrets again', async () => {
    const t = await startTestServer('auth_cli', { auth: 'enforce', authServerKey: serverKey });
    try {
      const made = keysCli('create', '--name', 'from-cli', '--allow', 'read', '--json');
      assert.equal(made.status, 0, made.stderr);
      const created = JSON.parse(made.stdout) as { AccessKeyId: string; SecretAccessKey: string; Allow: string[] };
      assert.deepEqual(created.Allow, ['read']);
      const c = client(t.endpoint, { accessKeyId: created.AccessKeyId, secretAccessKey: created.SecretAccessKey });
      assert.ok(Array.isArray((await c.send(new ListTablesCommand({}))).TableNames));
      const denied = await errorOf(() =>
        c.send(new CreateTableCommand({ TableName: 'nope', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' })),
      );
      assert.equal(denied.name, 'AccessDeniedException');
      const listed = keysCli('list');
      assert.equal(listed.status, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`${created.AccessKeyId}\\s+from-cli\\s+\\(server\\)\\s+read\\s+\\S+\\s+active`));
      assert.ok(!listed.stdout.includes(created.SecretAccessKey));
      const stored = await t.server.session.client.execute('SELECT secret FROM auth_cli.dc_keys WHERE access_key_id = ?', [created.AccessKeyId], { prepare: true });
      assert.ok(!(stored.first().get('secret') as Buffer).includes(Buffer.from(created.SecretAccessKey)), 'the secret is stored encrypted');
      assert.equal(keysCli('create', '--allow', 'reed').status, 1);
      const revoked = keysCli('revoke', created.AccessKeyId);
      assert.equal(revoked.status, 0, revoked.stderr);
      assert.equal(keysCli('revoke', 'DCNOSUCHKEY').status, 1);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal((await errorOf(() => c.send(new ListTablesCommand({})))).name, 'UnrecognizedClientException');
      c.destroy();
    } finally {
      await t.close();
    }
  });

  it('--access-key creates the key, takes a new secret, and refuses a revoked key', async () => {
    const serverKey2 = randomBytes(32).toString('hex');
    const base = { authServerKey: serverKey2, accessKey: 'STARTKEY', secretKey: 'first-secret' };
    const first = await startTestServer('auth_start', base);
    await first.server.close();
    const second = await startTestServer('auth_start', { ...base, secretKey: 'second-secret' });
    const old = client(second.endpoint, { accessKeyId: 'STARTKEY', secretAccessKey: 'first-secret' });
    const now = client(second.endpoint, { accessKeyId: 'STARTKEY', secretAccessKey: 'second-secret' });
    assert.equal((await errorOf(() => old.send(new ListTablesCommand({})))).name, 'InvalidSignatureException');
    assert.ok(Array.isArray((await now.send(new ListTablesCommand({}))).TableNames));
    old.destroy();
    now.destroy();
    await openKeyStore(second.config, second.server.session).revoke('STARTKEY');
    await second.server.close();
    try {
      await assert.rejects(startTestServer('auth_start', base), /access key STARTKEY was revoked/);
    } finally {
      const cleanup = await startTestServer('auth_start', { auth: 'off' });
      await cleanup.close();
    }
  });
});
