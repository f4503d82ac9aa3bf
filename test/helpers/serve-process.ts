// Test fixtures for `serve` run as users run it: a separate process, its output collected for
// assertion messages, waited for until it answers, stopped with SIGTERM as a process manager does.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import cassandra from 'cassandra-driver';
import { contactPoints } from './server.js';

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

export async function dropKeyspace(keyspace: string): Promise<void> {
  const [host, port] = contactPoints()[0].split(':');
  const c = new cassandra.Client({ contactPoints: [host], protocolOptions: { port: Number(port ?? 9042) }, localDataCenter: process.env.DC_TEST_LOCAL_DC ?? 'datacenter1' });
  await c.connect();
  await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await c.shutdown();
}

export interface ServeProcess {
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
}

export function spawnServe(args: string[], options: SpawnOptions = {}): ServeProcess {
  const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return { child, output: () => output };
}

/** Waits until GET / answers (at most 60 s), failing at once if the process exits. */
export async function waitServing(endpoint: string, serve: ServeProcess): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(endpoint)).ok) return;
    } catch {
      /* not yet */
    }
    assert.ok(i < 600 && serve.child.exitCode === null, `serve did not start: ${serve.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then the exit code (SIGKILL and 'timeout' after 20 s). */
export async function stopServe(serve: ServeProcess): Promise<number | null | 'timeout'> {
  const { child } = serve;
  const exited = new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
  if (code === 'timeout') child.kill('SIGKILL');
  return code;
}
