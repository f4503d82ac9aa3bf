// What the replicator writes into, whatever it is: a table in our Cassandra keyspace (through a
// translator, target.ts) or a table behind any DynamoDB-API endpoint (api-target.ts). The
// replicator sees only this interface; its checkpoints and leases stay in Cassandra either way.
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import type { Item } from '../dynamo/types.js';
import type { BatchResult } from './apply.js';
import type { StreamRecord } from './source.js';

/** Writes a snapshot's items and a shard's stream records into the target. */
export interface ReplicaWriter {
  /**
   * Snapshot items (whole items). `writtenAt` (ms) precedes every write of the stream tail; a
   * target without write timestamps must make sure a snapshot write cannot undo the tail's.
   */
  putItems(items: readonly Item[], writtenAt: number, check?: () => void): Promise<void>;
  /** A batch of one shard's records, in order per item; records created before `skipBefore` are skipped. */
  applyRecords(records: readonly StreamRecord[], skipBefore: number, check?: () => void): Promise<BatchResult>;
}

export interface ReplicaTarget {
  /** Identifies this incarnation of the target table: it changes when the table is deleted and created again. */
  readonly id: string;
  /** This replicator created the table just now. */
  readonly created: boolean;
  isEmpty(): Promise<boolean>;
  /** Removes every item (a new snapshot follows). */
  truncate(): Promise<void>;
  /** Throws TargetDeleted when the table is gone or replaced; `fresh`: bypass any cached description. */
  check(fresh: boolean): Promise<void>;
  writer(concurrency: number): ReplicaWriter;
}

/** Creates the target from the source's description, or checks that the existing one matches. */
export type TargetOpener = (source: TableDescription, target: string, log: (line: string) => void) => Promise<ReplicaTarget>;

/**
 * The loop guard of two-way replication: records that a replicator wrote (stream records whose
 * `replicated` mark is set) are not applied, so a change never travels back to where it came from.
 */
export function skippingReplicated(writer: ReplicaWriter): ReplicaWriter {
  return {
    putItems: (items, writtenAt, check) => writer.putItems(items, writtenAt, check),
    async applyRecords(records, skipBefore, check) {
      const own = records.filter((r) => !r.replicated);
      const result = await writer.applyRecords(own, skipBefore, check);
      result.skipped += records.length - own.length;
      result.echoes = records.length - own.length;
      if (records.length) result.lastRecordAt = records[records.length - 1]!.approximateCreation;
      return result;
    },
  };
}
