// Every command's option table, for the README generator and the tests of --help. The README block
// of a command is `<!-- options:NAME:begin -->` (serve's is `<!-- options:begin -->`).
import { KEYS_COMMAND } from './auth/options.js';
import { SERVE_COMMAND } from './config.js';
import { CQL_PROXY_COMMAND, READ_REPORT_COMMAND, REPLAY_COMMAND } from './cqlproxy/options.js';
import { LOCAL_NODE_COMMAND } from './local-node/cli.js';
import type { CommandSpec } from './options.js';
import { REPLICATE_COMMAND, REPLICATE_STATUS_COMMAND, VERIFY_COMMAND } from './replication/options.js';

export const COMMAND_SPECS: CommandSpec[] = [
  SERVE_COMMAND,
  REPLICATE_COMMAND,
  REPLICATE_STATUS_COMMAND,
  VERIFY_COMMAND,
  KEYS_COMMAND,
  CQL_PROXY_COMMAND,
  REPLAY_COMMAND,
  READ_REPORT_COMMAND,
  LOCAL_NODE_COMMAND,
];

export const readmeBlockName = (command: CommandSpec): string => (command === SERVE_COMMAND ? 'options' : `options:${command.name.replace(/ /g, '-')}`);
