// What a key may do: rules of the form ACTIONS[:TABLES], e.g. "read", "read,write:app.*",
// "GetItem,Query:orders,orders-*". ACTIONS are groups (read, write, admin, *) or action names;
// TABLES are name patterns where * matches any run of characters (default: every table).
// A request is allowed when, for every table it touches, one rule allows its action there.
import { ConfigError } from '../config.js';
import { accessDenied } from './errors.js';

export const ACTION_GROUPS: Record<string, readonly string[]> = {
  read: [
    'GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems', 'ConditionCheckItem', 'PartiQLSelect',
    'DescribeTable', 'ListTables', 'DescribeTimeToLive', 'ListTagsOfResource', 'DescribeContinuousBackups',
    'DescribeContributorInsights', 'ListContributorInsights', 'DescribeKinesisStreamingDestination',
    'DescribeTableReplicaAutoScaling', 'DescribeLimits', 'ListBackups', 'DescribeBackup', 'ListGlobalTables',
    'DescribeGlobalTable', 'DescribeGlobalTableSettings', 'ListExports', 'DescribeExport', 'ListImports',
    'DescribeImport', 'GetResourcePolicy',
    // DynamoDB Streams
    'ListStreams', 'DescribeStream', 'GetShardIterator', 'GetRecords',
  ],
  write: [
    'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems',
    'PartiQLInsert', 'PartiQLUpdate', 'PartiQLDelete',
  ],
  admin: [
    'CreateTable', 'DeleteTable', 'UpdateTable', 'TagResource', 'UntagResource', 'UpdateTimeToLive',
    'UpdateContinuousBackups', 'UpdateContributorInsights', 'CreateBackup', 'DeleteBackup', 'RestoreTableFromBackup',
    'RestoreTableToPointInTime', 'CreateGlobalTable', 'UpdateGlobalTable', 'UpdateGlobalTableSettings',
    'EnableKinesisStreamingDestination', 'DisableKinesisStreamingDestination', 'UpdateKinesisStreamingDestination',
    'ExportTableToPointInTime', 'ImportTable', 'UpdateTableReplicaAutoScaling', 'PutResourcePolicy',
    'DeleteResourcePolicy',
  ],
};

const KNOWN = new Map<string, string>();
for (const names of Object.values(ACTION_GROUPS)) for (const n of names) KNOWN.set(n.toLowerCase(), n);
// The PartiQL wire actions are authorized per statement kind (PartiQLSelect, ...), like IAM does.
for (const n of ['ExecuteStatement', 'BatchExecuteStatement', 'ExecuteTransaction']) KNOWN.set(n.toLowerCase(), n);

/** Needs no permission (SDK endpoint discovery), as in DynamoDB. */
const ALWAYS_ALLOWED = new Set(['DescribeEndpoints']);

export interface Rule {
  /** undefined: every action. */
  actions?: ReadonlySet<string>;
  /** undefined: every table. */
  tables?: readonly RegExp[];
  source: string;
}

const globToRegExp = (glob: string) =>
  new RegExp('^' + glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');

/** Parses one rule; throws ConfigError with a hint on typos. */
export function parseRule(source: string): Rule {
  const text = source.trim();
  const colon = text.indexOf(':', text.startsWith('dynamodb:') ? 'dynamodb:'.length : 0);
  const actionPart = colon < 0 ? text : text.slice(0, colon);
  const tablePart = colon < 0 ? '*' : text.slice(colon + 1);
  let actions: Set<string> | undefined = new Set();
  for (const rawName of actionPart.split(',').map((s) => s.trim()).filter(Boolean)) {
    const name = rawName.replace(/^dynamodb:/i, '');
    if (name === '*' || name.toLowerCase() === 'all') actions = undefined;
    else if (ACTION_GROUPS[name.toLowerCase()]) ACTION_GROUPS[name.toLowerCase()].forEach((a) => actions?.add(a));
    else if (KNOWN.has(name.toLowerCase())) actions?.add(KNOWN.get(name.toLowerCase())!);
    else throw new ConfigError(`allow rule '${source}': unknown action or group '${rawName}' (groups: read, write, admin, *)`);
  }
  if (actions && actions.size === 0) throw new ConfigError(`allow rule '${source}' names no action`);
  const patterns = tablePart.split(',').map((s) => s.trim()).filter(Boolean);
  if (patterns.length === 0) throw new ConfigError(`allow rule '${source}' names no table`);
  for (const p of patterns) {
    if (!/^[a-zA-Z0-9_.*-]+$/.test(p)) throw new ConfigError(`allow rule '${source}': '${p}' is not a table name pattern`);
  }
  const tables = patterns.includes('*') ? undefined : patterns.map(globToRegExp);
  return { actions, tables, source: text };
}

/** One thing a request does: an action, on a table (undefined: account-level; null: unknown). */
export interface Need {
  action: string;
  table: string | undefined | null;
}

/** The table an ARN names: arn:aws:dynamodb:region:account:table/NAME[/index|stream|backup/...] */
function tableOfArn(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const m = /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/([^/]+)/.exec(value);
  return m ? m[1] : null;
}

/** TableName may be a name or, in newer API versions, a table ARN. */
function tableOfName(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  return value.startsWith('arn:') ? tableOfArn(value) : value;
}

/** Splits a PartiQL statement into its kind and table, skipping quoted text; null if unsure. */
export function partiqlTarget(statement: unknown): { action: string; table: string | null } | null {
  if (typeof statement !== 'string') return null;
  const tokens: { text: string; quoted: boolean }[] = [];
  const re = /\s+|--[^\n]*|"((?:[^"]|"")*)"|'(?:[^']|'')*'|([A-Za-z0-9_.-]+)|(.)/gy;
  for (let m: RegExpExecArray | null; (m = re.exec(statement)); ) {
    if (m[1] !== undefined) tokens.push({ text: m[1].replace(/""/g, '"'), quoted: true });
    else if (m[2] !== undefined) tokens.push({ text: m[2], quoted: false });
    else if (m[3] !== undefined || m[0].startsWith("'")) tokens.push({ text: m[0], quoted: true });
  }
  const word = (i: number) => (tokens[i] && !tokens[i].quoted ? tokens[i].text.toLowerCase() : '');
  const nameAt = (i: number) => (tokens[i] && (tokens[i].quoted || /^[A-Za-z_]/.test(tokens[i].text)) ? tokens[i].text : null);
  switch (word(0)) {
    case 'select': {
      const from = tokens.findIndex((t, i) => i > 0 && !t.quoted && t.text.toLowerCase() === 'from');
      return { action: 'PartiQLSelect', table: from < 0 ? null : nameAt(from + 1) };
    }
    case 'insert':
      return { action: 'PartiQLInsert', table: word(1) === 'into' ? nameAt(2) : null };
    case 'update':
      return { action: 'PartiQLUpdate', table: nameAt(1) };
    case 'delete':
      return { action: 'PartiQLDelete', table: word(1) === 'from' ? nameAt(2) : null };
    default:
      return null;
  }
}

const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asObject = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** What the request would do, read from its body before it is validated. */
export function needsOf(action: string, body: Record<string, unknown>): Need[] {
  const needs: Need[] = [];
  const add = (table: string | null) => needs.push({ action, table });
  switch (action) {
    case 'BatchGetItem':
    case 'BatchWriteItem':
      for (const name of Object.keys(asObject(body.RequestItems))) add(tableOfName(name));
      break;
    case 'TransactGetItems':
    case 'TransactWriteItems':
      for (const entry of asArray(body.TransactItems)) {
        for (const op of Object.values(asObject(entry))) add(tableOfName(asObject(op).TableName));
      }
      break;
    case 'ExecuteStatement':
    case 'BatchExecuteStatement':
    case 'ExecuteTransaction': {
      const statements =
        action === 'ExecuteStatement'
          ? [body.Statement]
          : asArray(action === 'BatchExecuteStatement' ? body.Statements : body.TransactStatements).map((s) => asObject(s).Statement);
      for (const s of statements) {
        const target = partiqlTarget(s);
        // An unreadable statement needs every right on every table; validation rejects it anyway.
        needs.push(target ? { action: target.action, table: target.table } : { action: '*', table: null });
      }
      break;
    }
    default: {
      let found = false;
      for (const field of ['TableName', 'SourceTableName', 'TargetTableName', 'GlobalTableName']) {
        if (body[field] !== undefined) (found = true), add(tableOfName(body[field]));
      }
      for (const field of ['TableArn', 'SourceTableArn', 'ResourceArn', 'StreamArn', 'BackupArn']) {
        if (body[field] !== undefined) (found = true), add(tableOfArn(body[field]));
      }
      const creation = asObject(body.TableCreationParameters).TableName;
      if (creation !== undefined) (found = true), add(tableOfName(creation));
      if (!found) needs.push({ action, table: undefined });
    }
  }
  if (needs.length === 0) needs.push({ action, table: undefined });
  return needs;
}

function allows(rule: Rule, need: Need): boolean {
  if (need.action === '*' ? rule.actions !== undefined : rule.actions && !rule.actions.has(need.action)) return false;
  if (need.table === undefined || rule.tables === undefined) return true; // account-level, or every table
  return need.table !== null && rule.tables.some((re) => re.test(need.table!));
}

export interface Principal {
  /** arn:aws:iam::ACCOUNT:user/NAME, for messages. */
  arn: string;
  accountId: string;
  region: string;
  rules: readonly Rule[];
}

/** Throws AccessDeniedException unless the principal's rules allow everything the request does. */
export function authorize(principal: Principal, action: string, body: Record<string, unknown>): void {
  if (ALWAYS_ALLOWED.has(action)) return;
  for (const need of needsOf(action, body)) {
    if (principal.rules.some((r) => allows(r, need))) continue;
    const resource =
      need.table === undefined || need.table === null
        ? `arn:aws:dynamodb:${principal.region}:${principal.accountId}:table/*`
        : `arn:aws:dynamodb:${principal.region}:${principal.accountId}:table/${need.table}`;
    throw accessDenied(principal.arn, need.action === '*' ? action : need.action, resource);
  }
}
