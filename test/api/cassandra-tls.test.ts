// serve's own connection to Cassandra over TLS (--cassandra-tls, --cassandra-ca,
// --cassandra-tls-verify), through a TLS relay in front of the test node.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { makeCerts, relay, type Relay } from '../helpers/relay.js';
import { contactPoints, createPkTable, startTestServer } from '../helpers/server.js';

describe('Cassandra over TLS', () => {
  let tmp: string;
  let certs: Record<string, string>;
  let good: Relay;
  let wrong: Relay;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dc-cassandra-tls-'));
    certs = await makeCerts(tmp);
    const [host, port] = contactPoints()[0]!.split(':');
    const node = { host: host!, port: Number(port ?? 9042) };
    good = await relay(node, { cert: certs.goodCert!, key: certs.goodKey! });
    wrong = await relay(node, { cert: certs.wrongCert!, key: certs.wrongKey! });
  });
  after(() => {
    good?.close();
    wrong?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const roundTrip = async (keyspace: string, relayed: Relay, verify: boolean) => {
    const t = await startTestServer(keyspace, { contactPoints: [`127.0.0.1:${relayed.port}`], cassandraTls: true, cassandraCa: certs.ca, cassandraTlsVerify: verify });
    try {
      await createPkTable(t.client, 'secure');
      await t.client.send(new PutItemCommand({ TableName: 'secure', Item: { pk: { S: 'a' }, v: { S: 'over tls' } } }));
      const got = await t.client.send(new GetItemCommand({ TableName: 'secure', Key: { pk: { S: 'a' } } }));
      assert.deepEqual(got.Item, { pk: { S: 'a' }, v: { S: 'over tls' } });
      assert.ok(relayed.sockets.size > 0, 'the server reached Cassandra through the TLS relay');
    } finally {
      await t.close();
    }
  };

  test('with the CA, a certificate naming the host: items round-trip', () => roundTrip('t_tls_good', good, true));

  test('a certificate that does not name the host is refused; --cassandra-tls-verify false accepts it', async () => {
    await assert.rejects(
      startTestServer('t_tls_wrong', { contactPoints: [`127.0.0.1:${wrong.port}`], cassandraTls: true, cassandraCa: certs.ca }),
      /wrong\.example|altnames|certificate/i,
    );
    await roundTrip('t_tls_unverified', wrong, false);
  });
});
