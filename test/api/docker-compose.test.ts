// `docker compose up` serves a working API: with no Docker engine at hand, this runs the API
// container's entry command (the Dockerfile's ENTRYPOINT + CMD) with the environment that
// docker-compose.yml gives it, against the test node instead of the compose file's Cassandra,
// and checks that the API answers through the AWS SDK. It also checks what keeps that setup
// safe: the compose file publishes its ports on the host's loopback address only.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { parse } from 'yaml';
import { contactPoints, sdkClient } from '../helpers/server.js';
import { dropKeyspace, freePort, spawnServe, stopServe, waitServing } from '../helpers/serve-process.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const KEYSPACE = 'test_docker_compose';

interface ComposeService {
  build?: string;
  environment?: Record<string, string> | string[];
  ports?: string[];
}

function composeServices(): Record<string, ComposeService> {
  return (parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> }).services;
}

/** The compose service's environment as a map (compose allows a map or a list of NAME=value). */
function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

/** The Dockerfile's exec-form ENTRYPOINT and CMD, joined as Docker runs them. */
function entryCommand(): string[] {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const instruction = (name: string): string[] => {
    const line = dockerfile.split('\n').reverse().find((l) => l.startsWith(name + ' '));
    assert.ok(line, `Dockerfile has no ${name}`);
    return JSON.parse(line.slice(name.length + 1)) as string[];
  };
  return [...instruction('ENTRYPOINT'), ...instruction('CMD')];
}

test('the compose file publishes every port on the host loopback only', () => {
  for (const [name, service] of Object.entries(composeServices())) {
    for (const port of service.ports ?? []) {
      assert.match(port, /^127\.0\.0\.1:\d+:\d+$/, `service ${name} publishes ${port} beyond the host's loopback`);
    }
  }
});

test("the API container's entry command with the compose environment serves the API", async () => {
  const service = Object.values(composeServices()).find((s) => s.build !== undefined);
  assert.ok(service, 'docker-compose.yml builds no service');
  const env = environmentOf(service);
  assert.equal(env.DC_HOST, '0.0.0.0', 'inside a container the API must listen beyond loopback');
  const [program, ...args] = entryCommand();
  assert.equal(program, 'node');
  const port = await freePort();
  await dropKeyspace(KEYSPACE);
  // Only where the test must differ from the container: its Cassandra, a free port, its keyspace.
  const serve = spawnServe(args, {
    cwd: root, // the image's WORKDIR holds the project as this checkout does
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, DC_CONTACT_POINTS: contactPoints().join(','), DC_PORT: String(port), DC_KEYSPACE: KEYSPACE },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitServing(endpoint, serve);
    const client = sdkClient(endpoint);
    await client.send(new CreateTableCommand({ TableName: 'compose', KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    await client.send(new PutItemCommand({ TableName: 'compose', Item: { k: { S: 'a' }, v: { S: 'hello' } } }));
    const got = await client.send(new GetItemCommand({ TableName: 'compose', Key: { k: { S: 'a' } } }));
    assert.deepEqual(got.Item, { k: { S: 'a' }, v: { S: 'hello' } });
    client.destroy();
  } finally {
    const code = await stopServe(serve); // SIGTERM, as `docker compose down` sends
    await dropKeyspace(KEYSPACE);
    assert.equal(code, 0, `serve exit: ${serve.output()}`);
  }
});
