// Test fixtures for `serve` run as users run it: a separate process, its output collected for
// assertion messages, waited for until it answers, stopped with SIGTERM as a process manager does.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import cassandra from 'cassandra-driver';
import { contactPoints } from './server.js';

/** The compiled command line entry point. */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli.js');

/** `serve` on `port` over the test node, in `keyspace`, followed by `extra` flags. */
export function serveArgs(port: number, keyspace: string, ...extra: string[]): string[] {
  return [CLI, 'serve', '--port', String(port), '--contact-points', contactPoints().join(','), '--local-dc', process.env.DC_TEST_LOCAL_DC ?? 'datacenter1', '--keyspace', keyspace, ...extra];
}

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

/** Waits until GET / answers (at most `timeoutMs`), failing at once if the process exits. */
export async function waitServing(endpoint: string, serve: ServeProcess, timeoutMs = 60_000): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(endpoint)).ok) return;
    } catch {
      /* not yet */
    }
    assert.ok(i < timeoutMs / 100 && serve.child.exitCode === null, `serve did not start: ${serve.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the process has printed `text` (at most `timeoutMs`), e.g. a test pause point. */
export async function waitForOutput(serve: Pick<ServeProcess, 'output'>, text: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !serve.output().includes(text); ) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in: ${serve.output()}`);
    await new Promise((r) => setTimeout(r, 50));
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
