// Answers for the discovery tables: the client must see the proxy as the only node,
// or drivers would connect to the cluster nodes directly and bypass the dual writes.

import { BodyWriter, inetToBytes, responseBodyStart, type Frame } from './frame.js';
import { ResultKind, cell, resultKind, rowsWith, splitRows } from './messages.js';

export interface Advertised {
  address: string;
  port: number;
  /** Optional datacenter name to present instead of the source's. */
  datacenter?: string | undefined;
}

const ADDRESS_COLUMNS = new Set(['rpc_address', 'broadcast_address', 'listen_address', 'native_address', 'preferred_ip']);
const PORT_COLUMNS = new Set(['rpc_port', 'native_port']);

/** Rewrite a RESULT from the source for system.local / system.peers / system.peers_v2. */
export function rewriteSystemResult(res: Frame, table: 'local' | 'peers' | 'peers_v2', adv: Advertised): Buffer {
  const start = responseBodyStart(res.flags, res.body);
  if (resultKind(res.body, start) !== ResultKind.ROWS) return res.body;
  const prefix = res.body.subarray(0, start);
  if (table !== 'local') {
    // No peers: the proxy is the whole cluster, and owns the whole ring through
    // the source node's tokens in system.local.
    return Buffer.concat([prefix, rowsWith(res.body, start, [])]);
  }
  const { meta, rows } = splitRows(res.body, start);
  const addr = inetToBytes(adv.address);
  const port = Buffer.allocUnsafe(4);
  port.writeInt32BE(adv.port, 0);
  const newRows = rows.map((row) =>
    row.map((c, i) => {
      const name = meta.columns[i]?.name ?? '';
      if (ADDRESS_COLUMNS.has(name) && c.readInt32BE(0) >= 0) return cell(addr);
      if (PORT_COLUMNS.has(name) && c.readInt32BE(0) >= 0) return cell(port);
      if (name === 'data_center' && adv.datacenter) return cell(Buffer.from(adv.datacenter, 'utf8'));
      return c;
    }),
  );
  return Buffer.concat([prefix, rowsWith(res.body, start, newRows)]);
}

export function supportedBody(cqlVersion: string, compressions: string[]): Buffer {
  return new BodyWriter()
    .stringMultimap({
      CQL_VERSION: [cqlVersion],
      COMPRESSION: compressions,
      PROTOCOL_VERSIONS: ['3/v3', '4/v4', '5/v5'],
    })
    .build();
}
