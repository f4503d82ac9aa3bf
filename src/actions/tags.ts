// TagResource, UntagResource and ListTagsOfResource. Two tags carry storage choices:
// dynamo-cassandra:translator (fixed at creation) and dynamo-cassandra:write_isolation.
import { WRITE_ISOLATION_MODES } from '../config.js';
import { resourceNotFound, validation } from '../dynamo/errors.js';
import { compileValidator, list, obj, str } from '../dynamo/validation.js';
import type { CatalogEntry } from '../storage/catalog.js';
import type { ActionContext, ActionSpec } from './context.js';

export const TRANSLATOR_TAG = 'dynamo-cassandra:translator';
export const WRITE_ISOLATION_TAG = 'dynamo-cassandra:write_isolation';

export const TAG_LIST = list(obj({ Key: str({ min: 1, max: 128 }), Value: str({ min: 0, max: 256 }) }, ['Key', 'Value']));
const ARN = str({ min: 1, max: 1283 });

async function entryOfArn(ctx: ActionContext, arn: string): Promise<CatalogEntry> {
  const m = /^arn:aws[a-z-]*:dynamodb:([^:]*):([^:]*):table\/([a-zA-Z0-9_.-]{3,255})$/.exec(arn);
  if (!m) throw validation(`Invalid TableArn: Invalid ResourceArn provided as input ${arn}`);
  ctx.catalog.invalidate(m[3]);
  const entry = m[1] === ctx.config.region && m[2] === ctx.config.accountId ? await ctx.catalog.get(m[3]) : undefined;
  if (!entry) throw resourceNotFound(`Requested resource not found: ResourcArn: ${arn} not found`);
  return entry;
}

async function changeTags(ctx: ActionContext, arn: string, change: (tags: Record<string, string>) => void): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await entryOfArn(ctx, arn);
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
  validate: compileValidator(obj({ ResourceArn: ARN, Tags: TAG_LIST }, ['ResourceArn', 'Tags'])),
  async run(ctx, req) {
    await changeTags(ctx, req.ResourceArn, (tags) => {
      for (const t of req.Tags as { Key: string; Value: string }[]) tags[t.Key] = t.Value;
    });
    return {};
  },
};

export const untagResource: ActionSpec = {
  validate: compileValidator(obj({ ResourceArn: ARN, TagKeys: list(str({ min: 1, max: 128 })) }, ['ResourceArn', 'TagKeys'])),
  async run(ctx, req) {
    await changeTags(ctx, req.ResourceArn, (tags) => {
      for (const k of req.TagKeys as string[]) delete tags[k];
    });
    return {};
  },
};

export const listTagsOfResource: ActionSpec = {
  validate: compileValidator(obj({ ResourceArn: ARN, NextToken: str() }, ['ResourceArn'])),
  async run(ctx, req) {
    const entry = await entryOfArn(ctx, req.ResourceArn);
    return { Tags: Object.entries(entry.definition.tags).map(([Key, Value]) => ({ Key, Value })) };
  },
};
