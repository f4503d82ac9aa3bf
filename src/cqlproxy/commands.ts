// The `cql-proxy`, `replay` and `read-report` commands, configured from their option tables
// (src/cqlproxy/options.ts) like every command.
import fs from 'node:fs';
import http from 'node:http';
import { Registry } from 'prom-client';
import { ConfigError, helpText, loadOptions, type CommandSpec, type Loaded } from '../options.js';
import { backendTls, endpoints, replayFailedWrites, startCqlProxy, summarizeReadReport, type CqlProxyOptions, type CqlProxyTlsFiles } from './index.js';
import { CQL_PROXY_COMMAND, READ_REPORT_COMMAND, REPLAY_COMMAND } from './options.js';

type Values = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** The proxy's settings from the DC_CQL_PROXY_* environment variables (and file) alone: serve's listener. */
export function cqlProxyOptionsFromEnvironment(env: NodeJS.ProcessEnv = process.env): CqlProxyOptions {
  return cqlProxyOptionsFrom(loadOptions(CQL_PROXY_COMMAND, [], env).values);
}

function cqlProxyOptionsFrom(v: Values): CqlProxyOptions {
  const backendFiles = (ca: string | undefined): CqlProxyTlsFiles => ({ ca, cert: str(v['backend-cert']), key: str(v['backend-key']) });
  return {
    listen: str(v.listen),
    source: str(v.source) ?? '',
    target: str(v.target) ?? '',
    wait: v.wait as boolean,
    onTargetFailure: v['on-target-failure'] as 'fail' | 'log',
    requestTimeoutMs: num(v['timeout-ms']),
    targetTimeoutMs: num(v['target-timeout-ms']),
    mirrorReads: num(v['mirror-reads']),
    failedLog: str(v['failed-log']),
    readReport: str(v['read-report']),
    targetUsername: str(v['target-username']),
    targetPassword: str(v['target-password']),
    tls: v['tls-cert'] ? { cert: str(v['tls-cert']), key: str(v['tls-key']), ca: str(v['tls-client-ca']) } : undefined,
    sourceTls: v['source-tls'] || v['source-ca'] ? backendFiles(str(v['source-ca'])) : undefined,
    targetTls: v['target-tls'] || v['target-ca'] ? backendFiles(str(v['target-ca'])) : undefined,
    tlsVerify: v['tls-verify'] as boolean,
    advertise: str(v.advertise),
    datacenter: str(v.datacenter),
  };
}

/** Parses a command's arguments, or prints help (exit code 0) or the error and usage (exit code 2) and returns the exit code. */
function parse(command: CommandSpec, argv: string[], required: string[] = []): { values: Values } | number {
  let loaded: Loaded;
  try {
    loaded = loadOptions(command, argv);
    if (loaded.help) {
      console.log(helpText(command));
      return 0;
    }
    const missing = required.filter((flag) => !loaded.values[flag]);
    if (missing.length) throw new ConfigError(`${missing.map((f) => `--${f}`).join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required`);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${helpText(command)}`);
    return 2;
  }
  return { values: loaded.values };
}

function serveMetrics(registry: Registry, port: number): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    if (req.url?.startsWith('/metrics')) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => srv.listen(port, () => resolve(srv)));
}

/** `dynamo-cassandra cql-proxy ...`: runs until SIGINT/SIGTERM; returns the exit code. */
export async function cqlProxyCommand(argv: string[]): Promise<number> {
  const parsed = parse(CQL_PROXY_COMMAND, argv, ['source', 'target']);
  if (typeof parsed === 'number') return parsed;
  const registry = new Registry();
  const proxy = await startCqlProxy(cqlProxyOptionsFrom(parsed.values), { registry });
  const metricsPort = num(parsed.values['metrics-port']);
  const metrics = metricsPort !== undefined ? await serveMetrics(registry, metricsPort) : undefined;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  metrics?.close();
  await proxy.close();
  return 0;
}

/** `dynamo-cassandra replay ...`: applies the failed-write log to the target. */
export async function replayCommand(argv: string[]): Promise<number> {
  const parsed = parse(REPLAY_COMMAND, argv, ['target']);
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  const file = str(v['failed-log'])!;
  try {
    const r = await replayFailedWrites({
      target: endpoints(str(v.target)!, 'target'),
      file,
      tls: backendTls(
        v['target-tls'] || v['target-ca'] ? { ca: str(v['target-ca']), cert: str(v['backend-cert']), key: str(v['backend-key']) } : undefined,
        v['tls-verify'] as boolean,
      ),
      credentials: str(v['target-username']) !== undefined ? { username: str(v['target-username'])!, password: str(v['target-password']) ?? '' } : undefined,
      timeoutMs: num(v['timeout-ms']),
      applyUncertain: v['apply-uncertain'] as boolean,
    });
    console.log(
      `replayed ${r.replayed} of ${r.entries} entries` +
        (r.rejected ? `; ${r.rejected} refused by the target, kept in ${r.rejectedFile}` : '') +
        (r.uncertain ? `; ${r.uncertain} not idempotent and perhaps applied already (check the target), kept in ${r.uncertainFile}` : ''),
    );
    return r.rejected ? 1 : 0;
  } catch (err) {
    console.error(`replay failed: ${(err as Error).message} (entries not applied were kept in ${file})`);
    return 1;
  }
}

/** `dynamo-cassandra read-report ...`: per-table summary of differing mirrored reads. */
export async function readReportCommand(argv: string[]): Promise<number> {
  const parsed = parse(READ_REPORT_COMMAND, argv);
  if (typeof parsed === 'number') return parsed;
  const file = str(parsed.values['read-report'])!;
  const json = parsed.values.json === true;
  if (!fs.existsSync(file)) {
    console.log(json ? JSON.stringify({ total: 0, tables: [] }) : `no read report at ${file}: no differences recorded`);
    return 0;
  }
  const s = summarizeReadReport(file);
  if (json) console.log(JSON.stringify(s, null, 2));
  else {
    console.log(`${s.total} mirrored read(s) differed`);
    for (const t of s.tables) {
      console.log(`  ${t.keyspace ?? '?'}.${t.table ?? '?'}: ${t.differences}`);
      for (const k of t.sampleKeys) console.log(`      ${k}`);
    }
  }
  return 0;
}
