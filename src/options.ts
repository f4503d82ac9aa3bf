// The one configuration mechanism of every command: a table of options, each a flag, an
// environment variable and a key of an optional JSON file, with a default. From the table come the
// parser (precedence: flag, environment, file, default), `--help` and the README's option tables.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** Bad flags, variables or files: printed without a stack trace. */
export class ConfigError extends Error {}

/**
 * number: a whole number >= 0; fraction: a number from 0 to 1; list: comma-separated (the flag
 * repeatable); repeat: the flag repeatable, each a whole value (which may hold commas).
 */
export type Kind = 'string' | 'number' | 'fraction' | 'boolean' | 'list' | 'repeat';

export interface OptionSpec {
  /** Property of the parsed values. */
  key: string;
  flag: string;
  kind: Kind;
  default?: string | number | boolean | string[];
  choices?: readonly string[];
  help: string;
  /** Placeholder of the value in help (default: by kind). */
  value?: string;
  /** Shown instead of "(none)" when there is no default, e.g. "the source's". */
  defaultText?: string;
  /** Environment variable, when not the command's prefix plus the flag. */
  env?: string;
}

export interface CommandSpec {
  /** As typed after the program name, e.g. "replicate status". */
  name: string;
  summary: string;
  /** Usage lines without the program name. */
  usage: string[];
  /** Free text after the usage (what the command does, value syntax). */
  description?: string;
  example: string;
  options: OptionSpec[];
  /** Options shared with other commands (serve's Cassandra options): in --help, not in the command's README table. */
  shared?: OptionSpec[];
  /** Prefix of the environment variables (DC_ → DC_PORT for --port). */
  envPrefix: string;
  /** Other flag names of options here (short forms): alias → flag. */
  aliases?: Record<string, string>;
  /** Options that are taken but not listed in --help (e.g. serve's, which `serve --help` shows). */
  hidden?: OptionSpec[];
  /** Whether positional arguments are allowed. */
  positionals?: boolean;
}

export const envName = (command: Pick<CommandSpec, 'envPrefix'>, flag: string): string =>
  command.envPrefix + flag.toUpperCase().replace(/-/g, '_');

const variableOf = (command: CommandSpec, spec: OptionSpec): string => spec.env ?? envName(command, spec.flag);

/** The environment variable naming the configuration file: DC_CONFIG, DC_CQL_PROXY_CONFIG, ... */
export const configFileVariable = (command: Pick<CommandSpec, 'envPrefix'>): string => envName(command, 'config');

const BOOLEAN_WORD = /^(1|0|true|false|yes|no|on|off)$/i;

export function coerce(spec: OptionSpec, raw: unknown, origin: string): unknown {
  const fail = (): never => {
    throw new ConfigError(`${origin}: invalid value ${JSON.stringify(raw)} for ${spec.flag}`);
  };
  switch (spec.kind) {
    case 'number': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
      if (String(raw).trim() === '' || !Number.isInteger(n) || n < 0) fail();
      return n;
    }
    case 'fraction': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
      if (String(raw).trim() === '' || !(n >= 0 && n <= 1)) fail();
      return n;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (/^(1|true|yes|on)$/i.test(String(raw))) return true;
      if (/^(0|false|no|off)$/i.test(String(raw))) return false;
      return fail();
    case 'repeat':
      return Array.isArray(raw) ? raw.map(String) : [String(raw)];
    case 'list':
      return (Array.isArray(raw) ? raw.map(String) : String(raw).split(','))
        .map((s) => s.trim())
        .filter(Boolean);
    default: {
      const s = String(raw);
      if (spec.choices && !spec.choices.includes(s)) {
        throw new ConfigError(`${origin}: ${spec.flag} must be one of ${spec.choices.join(', ')} (got ${s})`);
      }
      return s;
    }
  }
}

export function defaults(options: OptionSpec[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of options) if (spec.default !== undefined) out[spec.key] = spec.default;
  return out;
}

/**
 * Booleans take `--flag`, `--no-flag`, `--flag=false` and `--flag false`: rewritten to the first
 * two forms, which is what parseArgs knows.
 */
function normalizeBooleans(argv: string[], booleans: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/s.exec(argv[i]!);
    if (!m || !booleans.has(m[1]!)) {
      out.push(argv[i]!);
      continue;
    }
    let word = m[2];
    if (word === undefined && BOOLEAN_WORD.test(argv[i + 1] ?? '')) word = argv[++i];
    if (word === undefined) out.push(`--${m[1]}`);
    else if (BOOLEAN_WORD.test(word)) out.push(/^(1|true|yes|on)$/i.test(word) ? `--${m[1]}` : `--no-${m[1]}`);
    else throw new ConfigError(`--${m[1]}: invalid value ${JSON.stringify(word)} (true or false)`);
  }
  return out;
}

export interface Loaded {
  values: Record<string, unknown>;
  positionals: string[];
  help: boolean;
}

/** Parses a command's argv with its environment variables and optional `--config FILE`. */
export function loadOptions(command: CommandSpec, argv: string[], env: NodeJS.ProcessEnv = process.env): Loaded {
  const all = [...command.options, ...(command.shared ?? []), ...(command.hidden ?? [])];
  const byFlag = new Map(all.map((o) => [o.flag, o]));
  const aliases = command.aliases ?? {};
  const parseOptions: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  const booleans = new Set<string>();
  for (const [name, spec] of [...all.map((o) => [o.flag, o] as const), ...Object.entries(aliases).map(([a, f]) => [a, byFlag.get(f)!] as const)]) {
    if (spec.kind === 'boolean') {
      booleans.add(name);
      parseOptions[name] = { type: 'boolean' };
      parseOptions['no-' + name] = { type: 'boolean' };
    } else parseOptions[name] = { type: 'string', multiple: true };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: normalizeBooleans(argv, booleans),
      options: parseOptions,
      strict: true,
      allowPositionals: command.positionals ?? false,
    }) as typeof parsed;
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const values = defaults(all);
  const file = (parsed.values.config as string | undefined) ?? env[configFileVariable(command)];
  if (file) {
    let content: Record<string, unknown>;
    try {
      content = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    for (const [name, value] of Object.entries(content)) {
      const spec = byFlag.get(name) ?? all.find((o) => o.key === name);
      if (!spec) throw new ConfigError(`${file}: unknown option ${name}`);
      values[spec.key] = coerce(spec, value, file);
    }
  }
  for (const spec of all) {
    const variable = variableOf(command, spec);
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv !== '') values[spec.key] = coerce(spec, fromEnv, variable);
  }
  // Flags last; of a flag and its aliases, the one given last wins; a list collects them all.
  const given = Object.entries(parsed.values).filter(([name]) => name !== 'config' && name !== 'help');
  const collected = new Map<string, string[]>();
  for (const [name, raw] of given) {
    const negated = name.startsWith('no-') && !byFlag.has(name) && !aliases[name];
    const flag = negated ? name.slice(3) : name;
    const spec = byFlag.get(aliases[flag] ?? flag)!;
    if (spec.kind === 'boolean') values[spec.key] = !negated;
    else if (spec.kind === 'list' || spec.kind === 'repeat') collected.set(spec.key, [...(collected.get(spec.key) ?? []), ...(raw as string[])]);
    else values[spec.key] = coerce(spec, (raw as string[]).at(-1), '--' + flag);
  }
  for (const [key, raw] of collected) {
    const spec = all.find((o) => o.key === key)!;
    values[key] = coerce(spec, spec.kind === 'list' ? raw.join(',') : raw, '--' + spec.flag);
  }
  return { values, positionals: parsed.positionals, help: parsed.values.help === true };
}

const defaultOf = (o: OptionSpec): string =>
  o.default === undefined || (Array.isArray(o.default) && o.default.length === 0)
    ? ''
    : Array.isArray(o.default)
      ? o.default.join(',')
      : String(o.default);

const flagsOf = (command: CommandSpec, o: OptionSpec): string[] => [
  `--${o.flag}`,
  ...Object.entries(command.aliases ?? {}).filter(([, f]) => f === o.flag).map(([a]) => `--${a}`),
];

/** A command's option table as Markdown, for the README. */
export function optionsMarkdown(command: CommandSpec): string {
  const rows = command.options.map((o) => {
    const def = defaultOf(o);
    return `| ${flagsOf(command, o).map((f) => '`' + f + '`').join(', ')} | \`${variableOf(command, o)}\` | ${def ? '`' + def + '`' : o.defaultText ?? '(none)'} | ${o.help} |`;
  });
  return ['| flag | environment | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function placeholder(o: OptionSpec): string {
  if (o.value) return ' ' + o.value;
  if (o.kind === 'boolean') return ' [true|false]';
  if (o.choices) return ' ' + o.choices.join('|');
  return { number: ' N', fraction: ' F', list: ' A,B', repeat: ' VALUE', string: ' VALUE' }[o.kind];
}

/** `--help` of a command: usage, each option with its default and variable, and an example. */
export function helpText(command: CommandSpec, program = 'dynamo-cassandra'): string {
  const lines = command.usage.map((u, i) => `${i === 0 ? 'Usage: ' : '       '}${program} ${u}`);
  lines.push('', command.summary + '.');
  if (command.description) lines.push('', command.description);
  const describe = (o: OptionSpec) => {
    lines.push(`  ${flagsOf(command, o).join(', ')}${placeholder(o)}`, `      ${o.help}`);
    lines.push(`      default: ${defaultOf(o) || o.defaultText || '(none)'}; environment: ${variableOf(command, o)}`);
  };
  lines.push('', 'Options:');
  command.options.forEach(describe);
  if (command.shared?.length) {
    lines.push('', 'Cassandra options (as for serve):');
    command.shared.forEach(describe);
  }
  lines.push(`  --config FILE`, `      JSON file of options (keys: the flag names); environment: ${configFileVariable(command)}`);
  lines.push('  -h, --help', '      this help');
  lines.push('', 'Precedence: flag, environment variable, configuration file, default.');
  lines.push('', 'Example:', `  ${program} ${command.example}`);
  return lines.join('\n');
}
