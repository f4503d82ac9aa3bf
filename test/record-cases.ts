// `node dist/test/record-cases.js`: records test/unit/recorded-cases.json again against Amazon
// DynamoDB Local. Each case's request is sent as raw JSON (exactly the case's values, binaries as
// base64), against an item written just before it, and its answer replaces `expect`. The
// unit test replays the same cases against our expression engine.
import { writeFileSync } from 'node:fs';
import { signedCall, startDynamoDBLocal } from './helpers/dynamodb-local.js';
import { CASES, ITEMS, RECORDED_CASES_FILE, canon, formatRecordedCases, type RecordedCase } from './recorded-cases-data.js';

/** DynamoDB Local lists operand types from a Java set, whose order varies between runs. */
const sameAnswer = (a: RecordedCase['expect'], b: RecordedCase['expect']): boolean => {
  const unordered = (x: RecordedCase['expect']) =>
    JSON.stringify({ ...x, msg: x.msg?.replace(/\{([A-Z,]+)\}/g, (_, list: string) => `{${list.split(',').sort().join(',')}}`) });
  return unordered(a) === unordered(b);
};

type Answer = { ok: true; body: Record<string, unknown> } | { ok: false; name: string; message: string };

function client(endpoint: string) {
  return async (action: string, input: Record<string, unknown>): Promise<Answer> => {
    const { status, body } = await signedCall(endpoint, action, input);
    if (status === 200) return { ok: true, body };
    return { ok: false, name: String(body.__type).split('#').pop()!, message: String(body.message ?? body.Message ?? '') };
  };
}

const keyOf = (c: RecordedCase): Record<string, unknown> => (c.table === 'xp_hr' ? { pk: { S: 'dk' }, sk: { N: '1' } } : { pk: { S: 'dk' } });
const tableOf = (c: RecordedCase) => c.table ?? 'xp_h';
const error = (a: Answer & { ok: false }) => ({ err: a.name, msg: a.message });

/** What DynamoDB Local answers to one case, in the form the unit test compares. */
async function record(send: ReturnType<typeof client>, c: RecordedCase): Promise<RecordedCase['expect']> {
  const TableName = tableOf(c);
  const Key = keyOf(c);
  await send('DeleteItem', { TableName, Key });
  if (c.item >= 0) {
    const put = await send('PutItem', { TableName, Item: { ...Key, ...ITEMS[c.item] } });
    if (!put.ok) throw new Error(`cannot write item ${c.item}: ${put.message}`);
  }
  const names = c.names ? { ExpressionAttributeNames: c.names } : {};
  const values = c.values ? { ExpressionAttributeValues: c.values } : {};
  // A condition that does not hold is an answer, not an error.
  const held = (a: Answer) => (a.ok ? { ok: true } : a.name === 'ConditionalCheckFailedException' ? { ok: false } : error(a));
  switch (c.kind) {
    case 'cond':
      return held(await send('DeleteItem', { TableName, Key, ConditionExpression: c.expr, ...names, ...values }));
    case 'lcond':
      return held(await send('PutItem', { TableName, Item: Key, ...c.body }));
    case 'update':
    case 'lupdate': {
      const expression = c.kind === 'update' ? { UpdateExpression: c.expr, ...names, ...values } : c.body;
      const a = await send('UpdateItem', { TableName, Key, ...expression, ReturnValues: c.rv ?? 'ALL_NEW' });
      return a.ok ? { ok: canon(a.body.Attributes ?? {}) } : error(a);
    }
    case 'proj': {
      const a = await send('GetItem', { TableName, Key, ProjectionExpression: c.expr, ...names });
      return a.ok ? { ok: canon(a.body.Item ?? {}) } : error(a);
    }
    case 'raw': {
      const a = await send(c.action!, { TableName, ...c.body });
      return a.ok || a.name === 'ConditionalCheckFailedException' ? { ok: 'ok' } : error(a);
    }
    case 'item': {
      const put = await send('PutItem', { TableName, Item: { ...Key, v: c.value } });
      if (!put.ok) return error(put);
      const got = await send('GetItem', { TableName, Key, ConsistentRead: true });
      if (!got.ok) return error(got);
      return { ok: canon((got.body.Item as Record<string, unknown>).v) };
    }
  }
}

async function main(): Promise<void> {
  const local = await startDynamoDBLocal();
  try {
    const send = client(local.endpoint);
    for (const [TableName, range] of [['xp_h', false], ['xp_hr', true]] as const) {
      await send('CreateTable', {
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...(range ? [{ AttributeName: 'sk', AttributeType: 'N' }] : [])],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, ...(range ? [{ AttributeName: 'sk', KeyType: 'RANGE' }] : [])],
      });
    }
    let changed = 0;
    const cases: RecordedCase[] = [];
    for (const c of CASES) {
      const answer = await record(send, c);
      const expect = sameAnswer(answer, c.expect) ? c.expect : answer;
      if (expect !== c.expect) {
        changed++;
        process.stderr.write(`changed: ${c.kind} ${JSON.stringify(c.expr ?? c.body ?? c.value)}\n  was ${JSON.stringify(c.expect)}\n  now ${JSON.stringify(expect)}\n`);
      }
      // `expect` keeps its place among the case's fields, so an unchanged answer is an unchanged line.
      cases.push(Object.fromEntries(Object.entries(c).map(([k, v]) => [k, k === 'expect' ? expect : v])) as unknown as RecordedCase);
    }
    writeFileSync(RECORDED_CASES_FILE, formatRecordedCases(ITEMS, cases));
    process.stderr.write(`recorded ${cases.length} cases, ${changed} answers changed\n`);
  } finally {
    await local.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
