// A failure the user must act on (printed without a stack trace, with what to do).
export class ReplicationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplicationError';
  }
}

/** The advice every "records were lost" failure carries. */
export const RESNAPSHOT_ADVICE =
  'The target can no longer be brought up to date from the stream. Take a new snapshot: run `dynamo-cassandra replicate --resnapshot` with the same --table (this empties the target table and copies it again).';

/** The target table was deleted while being replicated into: its copy is gone, so the replication starts over. */
export class TargetDeleted extends Error {
  constructor(target: string) {
    super(`target table ${target} was deleted while the replicator was writing into it; creating it again from the source and taking a new snapshot`);
    this.name = 'TargetDeleted';
  }
}
