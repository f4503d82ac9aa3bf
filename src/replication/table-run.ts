// One table's replication as its phases (snapshot, stream tail) share it: the source and target,
// the stream followed, logging, and the checks that end it (source gone, stream lost, target deleted).
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { RESNAPSHOT_ADVICE, ReplicationError } from './errors.js';
import type { ReplicationProcess, TableMapping } from './process.js';
import { retrying } from './snapshot.js';
import { errorName } from './source.js';
import type { TableState } from '../storage/state/replication-state.js';
import { skippingReplicated, type ReplicaTarget, type ReplicaWriter } from './replica-target.js';

/** Source errors that retrying cannot cure: the user must fix something. */
const FATAL_SOURCE_ERRORS = new Set([
  'AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'CredentialsProviderError',
  'ValidationException', 'MissingAuthenticationTokenException', 'ExpiredTokenException',
]);

export class TableRun {
  target!: ReplicaTarget;
  streamArn = '';
  sourceArn = '';

  constructor(
    readonly r: ReplicationProcess,
    readonly mapping: TableMapping,
  ) {}

  /** The target's name in the replication state (scoped by where the target is). */
  get name(): string {
    return (this.r.o.targetScope ?? '') + this.mapping.target;
  }

  log(line: string): void {
    this.r.o.log(`[${this.name}] ${line}`);
  }

  readonly onError = (e: unknown): void => {
    this.r.o.metrics.errors.inc({ table: this.name, type: (e as Error)?.name || 'Error' });
    this.log(`retrying after error: ${(e as Error)?.message ?? e}`);
  };

  /** DescribeTable of the source; errors no retry can cure end the table's replication. */
  describeSource(): Promise<TableDescription> {
    const r = this.r;
    return retrying(
      () =>
        r.o.source.describeTable(this.mapping.source).catch((e: unknown) => {
          const name = errorName(e);
          if (name === 'ResourceNotFoundException') throw new ReplicationError(`source table ${this.mapping.source} does not exist (check --source-endpoint and --region)`);
          if (FATAL_SOURCE_ERRORS.has(name) || /credential|region is missing/i.test((e as Error)?.message ?? '')) {
            throw new ReplicationError(`cannot read source table ${this.mapping.source}: ${name}: ${(e as Error).message}`);
          }
          throw e;
        }),
      () => r.stopped,
      this.onError,
    );
  }

  /**
   * Why the stream this target follows cannot bring it up to date any more (disabled, or replaced by
   * a new stream), with what to do. `drained`: every record of the old stream has been applied.
   */
  async streamLost(old: string, drained: boolean, desc?: TableDescription): Promise<ReplicationError> {
    const source = this.mapping.source;
    const latest = enabledStream(desc ?? (await this.describeSource()));
    const applied = drained ? ' Every change the old stream recorded is applied.' : '';
    if (latest && latest !== old) {
      return new ReplicationError(
        `the stream of ${source} was replaced (it was disabled and enabled again, or the table was re-created): ${old} → ${latest}; changes made in between are in neither stream.${applied} ${RESNAPSHOT_ADVICE}`,
      );
    }
    return new ReplicationError(
      `the stream of ${source} was disabled (${old}): later changes are recorded nowhere.${applied} Enable the stream again with new images (aws dynamodb update-table --table-name ${source} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES), then take a new snapshot: run \`dynamo-cassandra replicate --resnapshot\` with the same --table.`,
    );
  }

  applier(): ReplicaWriter {
    const writer = this.target.writer(this.r.o.concurrency ?? 64);
    return this.r.o.ignoreReplicated ? skippingReplicated(writer) : writer;
  }

  /** The state of a replication starting with a snapshot. */
  fresh(): TableState {
    return {
      target: this.name,
      targetId: this.target.id,
      sourceTable: this.mapping.source,
      sourceArn: this.sourceArn,
      streamArn: this.streamArn,
      phase: 'snapshot',
      snapshot: {},
      updatedAt: Date.now(),
    };
  }

  async fail(state: TableState, e: Error): Promise<void> {
    this.log(`FAILED: ${e.message}`);
    await this.r.state.setPhase(this.name, state.phase, 'failed', state.snapshot, e.message).catch(() => undefined);
  }
}

/** The source's current stream, if it has one enabled. */
export function enabledStream(desc: TableDescription): string | undefined {
  return desc.StreamSpecification?.StreamEnabled ? desc.LatestStreamArn : undefined;
}

