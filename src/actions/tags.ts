// TagResource, UntagResource and ListTagsOfResource. Two tags carry storage choices:
// dynamo-cassandra:translator (fixed at creation) and dynamo-cassandra:write_isolation.
import { WRITE_ISOLATION_MODES } from '../config.js';
import { DynamoError, resourceNotFound, validation } from '../dynamo/errors.js';
import { compileValidator, list, obj, str } from '../dynamo/validation.js';
import type { CatalogEntry } from '../storage/catalog.js';
import type { ActionContext, ActionSpec, Request } from './context.js';

export const TRANSLATOR_TAG = 'dynamo-cassandra:translator';
export const WRITE_ISOLATION_TAG = 'dynamo-cassandra:write_isolation';

export const TAG_LIST = list(obj({ Key: str({ min: 1, max: 128 }), Value: str({ min: 0, max: 256 }) }, ['Key', 'Value'], 'Tag'));
// The ARN and the tag list are checked by checkTagRequest, in DynamoDB's order, not as constraints.
const ARN = str();

/**
 * DynamoDB's checks of a tag request before the table: a missing ARN, one that IAM cannot even
 * read as a resource (AccessDeniedException), a missing list, an ARN that names no table, an
 * empty list.
 */
function checkTagRequest(ctx: ActionContext, req: Request, action: string, member?: { name: string; empty: string }): void {
  const arn = req.ResourceArn as string | undefined;
  if (arn === undefined) throw validation('Invalid TableArn');
  if (!/^.+:.+:.+:.+:.+:.+\/.+$/.test(arn)) {
    const message = `User: arn:aws:iam::${ctx.config.accountId}:root is not authorized to perform: dynamodb:${action} on resource: ${arn || '*'}`;
    throw new DynamoError('com.amazon.coral.service#AccessDeniedException', message, 400, undefined, 'Message');
  }
  const list = member && (req[member.name] as unknown[] | undefined);
  if (member && list === undefined) {
    throw validation(`1 validation error detected: Value null at '${member.name.charAt(0).toLowerCase()}${member.name.slice(1)}' failed to satisfy constraint: Member must not be null`);
  }
  if (!/^arn:aws:dynamodb:.+:\d+:table\/[^/]{2}[^/]+$/.test(arn)) throw validation(`Invalid TableArn: Invalid ResourceArn provided as input ${arn}`);
  if (member && list!.length === 0) throw validation(member.empty);
}

async function entryOfArn(ctx: ActionContext, arn: string, notFound = `Requested resource not found: ResourcArn: ${arn} not found`): Promise<CatalogEntry> {
  const m = /^arn:aws[a-z-]*:dynamodb:([^:]*):([^:]*):table\/([a-zA-Z0-9_.-]{3,255})$/.exec(arn);
  if (!m) throw validation(`Invalid TableArn: Invalid ResourceArn provided as input ${arn}`);
  ctx.catalog.invalidate(m[3]);
  const entry = m[1] === ctx.config.region && m[2] === ctx.config.accountId ? await ctx.catalog.get(m[3]) : undefined;
  if (!entry) throw resourceNotFound(notFound);
  return entry;
}

async function changeTags(ctx: ActionContext, arn: string, change: (tags: Record<string, string>) => void, notFound?: string): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await entryOfArn(ctx, arn, notFound);
    const tags = { ...entry.definition.tags };
    change(tags);
    if (tags[TRANSLATOR_TAG] !== entry.definition.tags[TRANSLATOR_TAG]) {
      throw validation(`The tag ${TRANSLATOR_TAG} is fixed when the table is created`);
    }
    const isolation = tags[WRITE_ISOLATION_TAG] ?? ctx.config.writeIsolation;
    if (!(WRITE_ISOLATION_MODES as readonly string[]).includes(isolation)) {
      throw validation(`Unknown ${WRITE_ISOLATION_TAG} '${isolation}'; use one of: ${WRITE_ISOLATION_MODES.join(', ')}`);
    }
    if (Object.keys(tags).length > 50) throw validation('One or more parameter values were invalid: Too many tags');
    if (await ctx.catalog.replace(entry, { ...entry.definition, tags, writeIsolation: isolation })) return;
  }
  throw new Error('catalog contention');
}

export const tagResource: ActionSpec = {
  validate: compileValidator(obj({ ResourceArn: ARN, Tags: TAG_LIST })),
  async run(ctx, req) {
    checkTagRequest(ctx, req, 'TagResource', { name: 'Tags', empty: 'Atleast one Tag needs to be provided as Input.' });
    await changeTags(ctx, req.ResourceArn, (tags) => {
      for (const t of req.Tags as { Key: string; Value: string }[]) tags[t.Key] = t.Value;
    });
    return {};
  },
};

export const untagResource: ActionSpec = {
  validate: compileValidator(obj({ ResourceArn: ARN, TagKeys: list(str({ min: 1, max: 128 })) })),
  async run(ctx, req) {
    checkTagRequest(ctx, req, 'UntagResource', { name: 'TagKeys', empty: 'Atleast one Tag Key needs to be provided as Input.' });
    // DynamoDB's UntagResource does not name the ARN it did not find.
    await changeTags(ctx, req.ResourceArn, (tags) => {
      for (const k of req.TagKeys as string[]) delete tags[k];
    }, 'Requested resource not found');
    return {};
  },
};

export const listTagsOfResource: ActionSpec = {
  validate: compileValidator(obj({ ResourceArn: ARN, NextToken: str() })),
  async run(ctx, req) {
    checkTagRequest(ctx, req, 'ListTagsOfResource');
    const entry = await entryOfArn(ctx, req.ResourceArn);
    return { Tags: Object.entries(entry.definition.tags).map(([Key, Value]) => ({ Key, Value })) };
  },
};
