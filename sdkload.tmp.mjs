import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
const c = new DynamoDBClient({ endpoint: 'http://127.0.0.1:8100', region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
let n = 0; const end = Date.now() + 10000; const t0 = process.cpuUsage();
await Promise.all(Array.from({ length: 32 }, async () => { while (Date.now() < end) { await c.send(new GetItemCommand({ TableName: 'btab', Key: { pk: { S: 'k7' } } })); n++; } }));
const u = process.cpuUsage(t0); console.log('ops/s', n / 10, 'client cpu us/op', ((u.user + u.system) / n).toFixed(0));
