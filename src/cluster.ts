// Where the commands find Cassandra: the configured contact points, or the embedded local node
// started (or reused) on demand. Below serve and every CLI that needs a cluster, so they depend on
// this module rather than on each other.
import type { Config } from './config.js';
import { startLocalNode, type LocalNode } from './local-node/index.js';
import { connect, type CqlSession } from './storage/session.js';

export interface ResolvedCluster {
  points: string[];
  /** The embedded node, when this process started or reused it. */
  node?: LocalNode;
}

/** Starts the embedded node unless contact points were given; returns where to connect. */
export async function resolveCluster(config: Config, log: (line: string) => void): Promise<ResolvedCluster> {
  if (config.contactPoints.length > 0) return { points: config.contactPoints };
  const node = await startLocalNode({
    address: config.embeddedAddress,
    port: config.embeddedPort,
    dataDir: config.embeddedDataDir,
    heapMb: config.embeddedHeapMb,
    commitlogSync: config.embeddedCommitlogSync,
    datacenter: config.localDc,
    log,
  });
  return { points: [`${node.address}:${node.port}`], node };
}

/**
 * A CLI's session: resolves the cluster, connects (in the embedded node's datacenter when there is
 * one), and on close shuts the session and stops a node this process started.
 */
export async function openCluster(
  config: Config,
  log: (line: string) => void,
): Promise<{ config: Config; session: CqlSession; close(): Promise<void> }> {
  const { points, node } = await resolveCluster(config, log);
  const cfg = { ...config, localDc: node?.datacenter ?? config.localDc };
  const stopNode = async () => {
    if (node && !node.reused) await node.stop();
  };
  const session = await connect(cfg, points).catch(async (e) => {
    await stopNode();
    throw e;
  });
  return {
    config: cfg,
    session,
    async close() {
      await session.shutdown();
      await stopNode();
    },
  };
}
