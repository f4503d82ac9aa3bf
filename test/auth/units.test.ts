// Unit tests of the pieces of authentication that need no server: SigV4 parsing and verification,
// allow rules, resource extraction, secret sealing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import aws4 from 'aws4';
import { DynamoError } from '../../src/dynamo/errors.js';
import { authorize, needsOf, parseRule, partiqlTarget, type Principal } from '../../src/auth/policy.js';
import { SecretBox } from '../../src/auth/secret-box.js';
import { isoBasic, parseAuthorization, verifySignature, type ReceivedRequest } from '../../src/auth/sigv4.js';
import { isLoopback } from '../../src/auth/index.js';

const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** Signs like an SDK would and returns the request as the server would receive it. */
function signedRequest(body: string, extra: Record<string, string> = {}, date = new Date()): ReceivedRequest {
  const opts = {
    host: 'localhost:8000',
    path: '/',
    method: 'POST',
    service: 'dynamodb',
    region: 'eu-west-1',
    body,
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': 'DynamoDB_20120810.ListTables',
      'X-Amz-Date': isoBasic(date.getTime()),
      ...extra,
    } as Record<string, string>,
  };
  aws4.sign(opts, creds);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers)) headers[k.toLowerCase()] = String(v);
  return { method: 'POST', url: '/', headers, body: Buffer.from(body) };
}

const errorName = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DynamoError, String(e));
    return { name: e.name, message: e.message };
  }
  return { name: 'none', message: '' };
};

describe('SigV4 verification', () => {
  it('accepts a correctly signed request and rejects any change', () => {
    const req = signedRequest('{"Limit":5}');
    const auth = parseAuthorization(req.headers);
    assert.equal(auth.accessKeyId, 'AKIDEXAMPLE');
    assert.equal(auth.scope.region, 'eu-west-1');
    verifySignature(req, auth, creds.secretAccessKey);
    assert.equal(errorName(() => verifySignature(req, auth, creds.secretAccessKey + 'x')).name, 'InvalidSignatureException');
    const tampered = { ...req, body: Buffer.from('{"Limit":6}') };
    assert.equal(errorName(() => verifySignature(tampered, auth, creds.secretAccessKey)).name, 'InvalidSignatureException');
    const retargeted = { ...req, headers: { ...req.headers, 'x-amz-target': 'DynamoDB_20120810.DeleteTable' } };
    assert.equal(errorName(() => verifySignature(retargeted, auth, creds.secretAccessKey)).name, 'InvalidSignatureException');
    const otherPath = { ...req, url: '/?x=1' };
    assert.equal(errorName(() => verifySignature(otherPath, auth, creds.secretAccessKey)).name, 'InvalidSignatureException');
  });

  it('tells the client the canonical string it should have signed', () => {
    const req = signedRequest('{}');
    const { message } = errorName(() => verifySignature(req, parseAuthorization(req.headers), 'wrong'));
    assert.match(message, /^The request signature we calculated does not match/);
    assert.match(message, /The Canonical String for this request should have been\n'POST\n\/\n/);
  });

  it('checks a signed x-amz-content-sha256 against the body', () => {
    const body = '{"a":1}';
    const req = signedRequest(body, { 'X-Amz-Content-Sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
    const { name, message } = errorName(() => verifySignature(req, parseAuthorization(req.headers), creds.secretAccessKey));
    assert.equal(name, 'InvalidSignatureException');
    assert.match(message, /x-amz-content-sha256/);
  });

  it('signs headers aws4 would otherwise leave out when the client listed them', () => {
    const req = signedRequest('{}');
    // Re-sign by hand including user-agent, as some SDKs do.
    const opts = {
      host: 'localhost:8000', path: '/', method: 'POST', service: 'dynamodb', region: 'us-east-1', body: '{}',
      headers: { 'x-amz-date': req.headers['x-amz-date'] as string, 'user-agent': 'agent/1.0' } as Record<string, string>,
      extraHeadersToInclude: { 'user-agent': true },
    };
    aws4.sign(opts as aws4.Request, creds);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers)) headers[k.toLowerCase()] = String(v);
    const received = { method: 'POST', url: '/', headers, body: Buffer.from('{}') };
    const auth = parseAuthorization(headers);
    assert.ok(auth.signedHeaders.includes('user-agent'));
    verifySignature(received, auth, creds.secretAccessKey);
  });

  it('gives DynamoDB errors for missing and malformed headers', () => {
    const date = isoBasic(Date.now());
    const cred = `AKID/${date.slice(0, 8)}/us-east-1/dynamodb/aws4_request`;
    const check = (headers: Record<string, string>, name: string, pattern?: RegExp) => {
      const e = errorName(() => parseAuthorization(headers));
      assert.equal(e.name, name, JSON.stringify(headers) + ' ' + e.message);
      if (pattern) assert.match(e.message, pattern);
    };
    check({}, 'MissingAuthenticationTokenException', /^Request is missing Authentication Token$/);
    check({ authorization: 'Bearer x', 'x-amz-date': date }, 'MissingAuthenticationTokenException');
    check({ authorization: 'AWS4-HMAC-SHA256 Credential=abc', 'x-amz-date': date }, 'IncompleteSignatureException', /requires 'Signature' parameter/);
    check({ authorization: `AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=host, Signature=ab` }, 'IncompleteSignatureException', /'X-Amz-Date' or a 'Date' header/);
    check({ authorization: `AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders, Signature=ab`, 'x-amz-date': date }, 'IncompleteSignatureException', /missing equal-sign/);
    check({ authorization: `AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=host, Signature=ab`, 'x-amz-date': '2024-01-01' }, 'IncompleteSignatureException', /ISO-8601 'basic format'/);
    check({ authorization: `AWS4-HMAC-SHA1 Credential=${cred}, SignedHeaders=host, Signature=ab`, 'x-amz-date': date }, 'IncompleteSignatureException', /Unsupported AWS 'algorithm'/);
    check({ authorization: `AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=ab`, 'x-amz-date': date }, 'IncompleteSignatureException', /exactly 5 slash-delimited/);
    // White space separates parameters as a comma does.
    check({ authorization: 'AWS4- Signature=b Credential=a', date: 'a' }, 'IncompleteSignatureException', /^Authorization header requires 'SignedHeaders' parameter\. Authorization=AWS4- Signature=b Credential=a$/);
    check({ authorization: `AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=x-amz-date, Signature=ab`, 'x-amz-date': date }, 'InvalidSignatureException', /'Host' must be a 'SignedHeader'/);
    check(
      { authorization: `AWS4-HMAC-SHA256 Credential=AKID/19990101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab`, 'x-amz-date': date },
      'InvalidSignatureException',
      /correct service: 'dynamodb'.*Date in Credential scope does not match/,
    );
    const old = isoBasic(Date.now() - 20 * 60_000);
    check({ authorization: `AWS4-HMAC-SHA256 Credential=AKID/${old.slice(0, 8)}/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=ab`, 'x-amz-date': old }, 'InvalidSignatureException', /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
    const future = isoBasic(Date.now() + 20 * 60_000);
    check({ authorization: `AWS4-HMAC-SHA256 Credential=AKID/${future.slice(0, 8)}/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=ab`, 'x-amz-date': future }, 'InvalidSignatureException', /^Signature not yet current/);
  });

  it('rejects impossible dates and accepts an HTTP Date header in place of X-Amz-Date', () => {
    const auth = (date: string) => `AWS4-HMAC-SHA256 Credential=AKID/${date.slice(0, 8)}/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=ab`;
    assert.equal(errorName(() => parseAuthorization({ authorization: auth('20240231T000000Z'), 'x-amz-date': '20240231T000000Z' })).name, 'IncompleteSignatureException');
    const now = new Date();
    const parsed = parseAuthorization({ authorization: auth(isoBasic(now.getTime())), date: now.toUTCString() });
    assert.equal(parsed.amzDate, isoBasic(Math.floor(now.getTime() / 1000) * 1000));
  });

  it('accepts a date within the 15-minute window either way', () => {
    for (const skew of [-14 * 60_000, 14 * 60_000]) {
      const req = signedRequest('{}', {}, new Date(Date.now() + skew));
      verifySignature(req, parseAuthorization(req.headers), creds.secretAccessKey);
    }
  });
});

describe('allow rules', () => {
  const principal = (...rules: string[]): Principal => ({
    arn: 'arn:aws:iam::111122223333:user/test',
    accountId: '111122223333',
    region: 'us-east-1',
    rules: rules.map(parseRule),
  });
  const denied = (p: Principal, action: string, body: Record<string, unknown>) => errorName(() => authorize(p, action, body));

  it('parses groups, names and table patterns, and rejects typos', () => {
    assert.equal(parseRule('*').actions, undefined);
    assert.ok(parseRule('read').actions?.has('Query'));
    assert.ok(!parseRule('read').actions?.has('PutItem'));
    assert.deepEqual([...parseRule('dynamodb:GetItem,putitem:app.*').actions!], ['GetItem', 'PutItem']);
    assert.ok(parseRule('read:app.*').tables![0].test('app.users'));
    assert.ok(!parseRule('read:app.*').tables![0].test('appXusers'));
    assert.throws(() => parseRule('reed'), /unknown action or group 'reed'/);
    assert.throws(() => parseRule('read:ap$p'), /not a table name pattern/);
  });

  it('allows and denies per action and table', () => {
    const readOnly = principal('read');
    assert.equal(denied(readOnly, 'GetItem', { TableName: 't' }).name, 'none');
    const e = denied(readOnly, 'PutItem', { TableName: 't' });
    assert.equal(e.name, 'AccessDeniedException');
    assert.equal(
      e.message,
      'User: arn:aws:iam::111122223333:user/test is not authorized to perform: dynamodb:PutItem on resource: ' +
        'arn:aws:dynamodb:us-east-1:111122223333:table/t because no identity-based policy allows the dynamodb:PutItem action',
    );
    const app = principal('read,write:app.*');
    assert.equal(denied(app, 'PutItem', { TableName: 'app.users' }).name, 'none');
    assert.equal(denied(app, 'PutItem', { TableName: 'other' }).name, 'AccessDeniedException');
    assert.equal(denied(app, 'CreateTable', { TableName: 'app.new' }).name, 'AccessDeniedException');
    assert.equal(denied(app, 'ListTables', {}).name, 'none'); // account-level: the action decides
    assert.equal(denied(app, 'DescribeEndpoints', {}).name, 'none');
    assert.equal(denied(app, 'GetItem', { TableName: 'arn:aws:dynamodb:us-east-1:1:table/app.x' }).name, 'none');
    assert.equal(denied(app, 'GetItem', { TableName: 'arn:aws:dynamodb:us-east-1:1:table/secret' }).name, 'AccessDeniedException');
    assert.equal(denied(app, 'GetItem', { TableName: 42 }).name, 'AccessDeniedException'); // unknown table: restricted keys are denied
    assert.equal(denied(principal('read', 'write:app.*'), 'PutItem', { TableName: 'app.x' }).name, 'none');
  });

  it('checks every table of batch, transaction, tag and stream requests', () => {
    const app = principal('*:app.*');
    assert.equal(denied(app, 'BatchGetItem', { RequestItems: { 'app.a': {}, 'app.b': {} } }).name, 'none');
    assert.equal(denied(app, 'BatchWriteItem', { RequestItems: { 'app.a': [], secret: [] } }).name, 'AccessDeniedException');
    assert.equal(
      denied(app, 'TransactWriteItems', { TransactItems: [{ Put: { TableName: 'app.a' } }, { ConditionCheck: { TableName: 'secret' } }] }).name,
      'AccessDeniedException',
    );
    assert.equal(denied(app, 'TagResource', { ResourceArn: 'arn:aws:dynamodb:us-east-1:1:table/app.a' }).name, 'none');
    assert.equal(denied(app, 'TagResource', { ResourceArn: 'arn:aws:dynamodb:us-east-1:1:table/secret' }).name, 'AccessDeniedException');
    assert.equal(denied(app, 'DescribeStream', { StreamArn: 'arn:aws:dynamodb:us-east-1:1:table/secret/stream/2024' }).name, 'AccessDeniedException');
    assert.deepEqual(needsOf('Query', { TableName: 'a', IndexName: 'i' }), [{ action: 'Query', table: 'a' }]);
  });

  it('authorizes PartiQL by statement kind and table, never fooled by quoted text', () => {
    assert.deepEqual(partiqlTarget(`SELECT * FROM "app.users" WHERE pk = 'x'`), { action: 'PartiQLSelect', table: 'app.users' });
    assert.deepEqual(partiqlTarget(`select "x FROM app.y" from secret`), { action: 'PartiQLSelect', table: 'secret' });
    assert.deepEqual(partiqlTarget(`INSERT INTO "t" VALUE {'from': 'app.x'}`), { action: 'PartiQLInsert', table: 't' });
    assert.deepEqual(partiqlTarget(`UPDATE t SET a = 1`), { action: 'PartiQLUpdate', table: 't' });
    assert.deepEqual(partiqlTarget(`DELETE FROM "t"."idx" WHERE pk = 1`), { action: 'PartiQLDelete', table: 't' });
    assert.equal(partiqlTarget('EXPLAIN x'), null);
    const readApp = principal('read:app.*');
    assert.equal(denied(readApp, 'ExecuteStatement', { Statement: 'SELECT * FROM "app.u"' }).name, 'none');
    assert.equal(denied(readApp, 'ExecuteStatement', { Statement: 'DELETE FROM "app.u" WHERE pk = 1' }).name, 'AccessDeniedException');
    assert.equal(denied(readApp, 'ExecuteStatement', { Statement: 'SELECT * FROM secret' }).name, 'AccessDeniedException');
    assert.equal(denied(readApp, 'ExecuteStatement', { Statement: 'garbage' }).name, 'AccessDeniedException');
  });
});

describe('secret sealing', () => {
  it('round-trips, and refuses another server key, another key id or altered bytes', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('s3cret', 'DCKEY');
    assert.equal(box.open(sealed, 'DCKEY'), 's3cret');
    assert.ok(!sealed.includes(Buffer.from('s3cret')));
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'DCKEY'));
    assert.throws(() => box.open(sealed, 'OTHER'));
    const altered = Buffer.from(sealed);
    altered[altered.length - 1] ^= 1;
    assert.throws(() => box.open(altered, 'DCKEY'));
    assert.notEqual(box.keyId, new SecretBox(randomBytes(32)).keyId);
  });
});

describe('loopback', () => {
  it('knows which addresses only this machine can reach', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) assert.ok(!isLoopback(h), h);
  });
});
