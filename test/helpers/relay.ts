// Test stand-ins for the network around a Cassandra node: a TCP or TLS relay in front of it (which
// can also play a hung node), and a throwaway CA with certificates to serve TLS with.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A CA and two certificates signed by it: `good` names 127.0.0.1, `wrong` only wrong.example. */
export async function makeCerts(dir: string): Promise<Record<string, string>> {
  const f = (n: string): string => path.join(dir, n);
  const ssl = (args: string[]) => run('openssl', args);
  await ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=dynamo-cassandra-test-ca']);
  for (const [name, san] of [['good', 'IP:127.0.0.1'], ['wrong', 'DNS:wrong.example']] as const) {
    await ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
    fs.writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\n`);
    await ssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '1', '-extfile', f(`${name}.ext`)]);
  }
  return { ca: f('ca.crt'), goodCert: f('good.crt'), goodKey: f('good.key'), wrongCert: f('wrong.crt'), wrongKey: f('wrong.key') };
}

export interface Relay {
  port: number;
  /** Its own sockets (both sides), so leak checks can tell them from the proxy's. */
  sockets: Set<net.Socket>;
  /** Stop reading both ways: the node behind looks hung (requests unanswered, writes pile up). */
  freeze(): void;
  thaw(): void;
  close(): void;
}

/** A TCP (or TLS) front for a node that can be frozen, standing in for a hung or TLS cluster. */
export async function relay(to: { host: string; port: number }, tlsFiles?: { cert: string; key: string }): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  let frozen = false;
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    if (frozen) s.pause();
  };
  const onClient = (sock: net.Socket): void => {
    const up = net.connect(to.port, to.host);
    track(sock);
    track(up);
    sock.on('data', (d) => up.write(d));
    up.on('data', (d) => sock.write(d));
    sock.on('close', () => up.destroy());
    up.on('close', () => sock.destroy());
  };
  const srv = tlsFiles ? tls.createServer({ cert: fs.readFileSync(tlsFiles.cert), key: fs.readFileSync(tlsFiles.key) }, onClient) : net.createServer(onClient);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    sockets,
    freeze() {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    thaw() {
      frozen = false;
      for (const s of sockets) s.resume();
    },
    close() {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}
