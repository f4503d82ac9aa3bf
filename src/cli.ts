#!/usr/bin/env node
// dynamo-cassandra: one program, several jobs, chosen by the first argument.
import { ConfigError, loadConfig, optionsMarkdown, SERVE_COMMAND } from './config.js';
import { helpText } from './options.js';
import { keysCommand } from './auth/cli.js';
import { cqlProxyCommand, readReportCommand, replayCommand } from './cqlproxy/commands.js';
import { localNodeCommand } from './local-node/index.js';
import { replicateCommand, runReplicationCommand, verifyCommand } from './replication/cli.js';
import { serveCommand } from './server.js';

const USAGE = `Usage: dynamo-cassandra <command> [options]

Commands:
  serve        DynamoDB-compatible HTTP API over Cassandra (default port 8000)
  local-node   run a managed local Cassandra 5.0 node in the foreground
  replicate    copy DynamoDB tables into Cassandra and follow their streams ("replicate status": positions, lag)
  verify       compare a DynamoDB table with its replica item by item (exit code 0 only when identical)
  keys         create, list and revoke the access keys the API accepts (keys --help)
  cql-proxy    CQL dual-write proxy for migrations between clusters (cql-proxy --help)
  replay       apply the writes a target cluster missed, from the proxy's failed-write log
  read-report  summary of mirrored reads that differed between the clusters
  options      print the options of serve as a Markdown table

"dynamo-cassandra <command> --help" shows a command's options, their defaults and environment variables.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(helpText(SERVE_COMMAND) + '\n');
        return 0;
      }
      return serveCommand(loadConfig(rest));
    case 'local-node':
      return localNodeCommand(rest);
    case 'keys':
      return keysCommand(rest);
    case 'cql-proxy':
      return cqlProxyCommand(rest);
    case 'replay':
      return replayCommand(rest);
    case 'read-report':
      return readReportCommand(rest);
    case 'replicate':
      return runReplicationCommand(() => replicateCommand(rest));
    case 'verify':
      return runReplicationCommand(() => verifyCommand(rest));
    case 'options':
      process.stdout.write(optionsMarkdown() + '\n');
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command ${command}\n\n${USAGE}\n`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    const known = e instanceof ConfigError || (e as Error)?.name === 'LocalNodeError';
    process.stderr.write(`dynamo-cassandra: ${known ? (e as Error).message : (e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
