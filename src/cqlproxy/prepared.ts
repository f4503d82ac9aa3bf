// Prepared statements known to the proxy. The client only ever sees the source's id
// (its "client id"); the target's id for the same text is kept beside it.

import type { Classified, NdFunction } from './classify.js';

export interface PreparedEntry {
  clientId: Buffer;
  clientHex: string;
  /** Text sent to the clusters (non-deterministic calls replaced by bind markers). */
  query: string;
  /** Text the client prepared. */
  originalQuery: string;
  keyspace: string | null;
  cls: Classified;
  sourceId: Buffer;
  targetId?: Buffer | undefined;
  /** v5: result metadata ids, which EXECUTE carries and which each cluster computes itself. */
  sourceMetadataId?: Buffer | undefined;
  targetMetadataId?: Buffer | undefined;
  /**
   * Bind markers the proxy added for now()/uuid()/…: the function and the index of the
   * marker among all markers of `query`. The client's own values fill the other slots.
   */
  nd?: Array<{ fn: NdFunction; index: number }>;
  /** Number of bind markers in `query` (client's plus the proxy's). */
  markerCount?: number;
  /** Applying it twice changes the result (counter update, list append): see replay. */
  repeats?: boolean;
}

export class PreparedRegistry {
  private readonly byClient = new Map<string, PreparedEntry>();
  private readonly bySource = new Map<string, PreparedEntry>();
  private readonly byTarget = new Map<string, PreparedEntry>();

  get(clientHex: string): PreparedEntry | undefined {
    return this.byClient.get(clientHex);
  }

  /** Find the entry an UNPREPARED answer refers to (the id is the cluster's own). */
  byClusterId(which: 'source' | 'target', idHex: string): PreparedEntry | undefined {
    return (which === 'source' ? this.bySource : this.byTarget).get(idHex) ?? this.byClient.get(idHex);
  }

  add(e: PreparedEntry): PreparedEntry {
    const existing = this.byClient.get(e.clientHex);
    if (existing) {
      // Same text prepared again (another connection): keep one entry, refresh ids.
      if (e.targetId) this.setTarget(existing, e.targetId, e.targetMetadataId);
      this.setSource(existing, e.sourceId, e.sourceMetadataId);
      return existing;
    }
    this.byClient.set(e.clientHex, e);
    this.bySource.set(e.sourceId.toString('hex'), e);
    if (e.targetId) this.byTarget.set(e.targetId.toString('hex'), e);
    return e;
  }

  setSource(e: PreparedEntry, id: Buffer, metadataId?: Buffer): void {
    e.sourceId = id;
    if (metadataId) e.sourceMetadataId = metadataId;
    this.bySource.set(id.toString('hex'), e);
  }

  setTarget(e: PreparedEntry, id: Buffer, metadataId?: Buffer): void {
    e.targetId = id;
    if (metadataId) e.targetMetadataId = metadataId;
    this.byTarget.set(id.toString('hex'), e);
  }

  get size(): number {
    return this.byClient.size;
  }
}
