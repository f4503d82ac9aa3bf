// Request authentication for the API: decides the auth mode, opens the key store and builds the
// hook the HTTP app runs before every action (SigV4 check, key lookup, per-key authorization).
import { readFileSync } from 'node:fs';
import type { FastifyRequest } from 'fastify';
import type { ActionContext } from '../actions/context.js';
import { ConfigError, type Config } from '../config.js';
import { DynamoError } from '../dynamo/errors.js';
import { connect, type CqlSession } from '../storage/session.js';
import { unrecognizedClient } from './errors.js';
import { KeyStore } from './key-store.js';
import { authorize } from './policy.js';
import { loadServerKey } from './secret-box.js';
import { parseAuthorization, verifySignature } from './sigv4.js';

export { KeyStore } from './key-store.js';
export type AuthMode = 'off' | 'warn' | 'enforce';

/** What the hook gives back: the per-request context of the key (its account id in ARNs). */
export type AuthContext = Partial<Omit<ActionContext, 'host'>>;
export type AuthenticateHook = (request: FastifyRequest, action: string, body: Record<string, unknown>) => Promise<AuthContext | void>;

export interface Auth {
  mode: AuthMode;
  store?: KeyStore;
  authenticate?: AuthenticateHook;
  /** Certificate and key of the API listener (--tls-cert/--tls-key). */
  https?: { cert: Buffer; key: Buffer };
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\./.test(h);
}

export const refusalMessage = (host: string) =>
  `refusing to serve on ${host} without authentication: anyone who can reach this address could read and change every table. ` +
  `Create a key (dynamo-cassandra keys create) or pass --access-key/--secret-key (DC_ACCESS_KEY/DC_SECRET_KEY) to enforce ` +
  `signatures, or pass --auth off (DC_AUTH=off) to serve without them on purpose.`;

/**
 * The mode that applies: an explicit --auth wins; otherwise (auto) a key given at start means
 * enforce, loopback means off (the developer default, like DynamoDB Local), and any other
 * address means enforce when keys exist and a refusal to start when none do.
 */
export async function resolveMode(config: Config, hasStoredKeys: () => Promise<boolean>): Promise<AuthMode> {
  if (config.auth !== 'auto') return config.auth;
  if (config.accessKey) return 'enforce';
  if (isLoopback(config.host)) return 'off';
  if (await hasStoredKeys()) return 'enforce';
  throw new ConfigError(refusalMessage(config.host));
}

export function openKeyStore(config: Config, session: CqlSession, log?: (m: string) => void): KeyStore {
  const box = loadServerKey({ literal: config.authServerKey, file: config.authServerKeyFile });
  return new KeyStore(session, box, { accountId: config.accountId, region: config.region, log });
}

/** Sets up authentication for a server on this session (creates dc_keys, ensures --access-key). */
export async function setupAuth(config: Config, session: CqlSession, log: (m: string) => void): Promise<Auth> {
  const https = tlsOptions(config);
  if ((config.accessKey === undefined) !== (config.secretKey === undefined)) {
    throw new ConfigError('--access-key and --secret-key go together (DC_ACCESS_KEY / DC_SECRET_KEY)');
  }
  let store: KeyStore | undefined;
  const getStore = async () => {
    if (!store) {
      store = openKeyStore(config, session, log);
      await store.init();
    }
    return store;
  };
  if (config.accessKey) {
    const outcome = await (await getStore()).ensure(config.accessKey, config.secretKey!);
    if (outcome !== 'unchanged') log(`access key ${config.accessKey} ${outcome}`);
  }
  const mode = await resolveMode(config, async () => (await getStore()).hasActiveKeys());
  if (mode === 'off') return { mode, store, https };
  const keys = await getStore();
  return { mode, store: keys, authenticate: createHook(config, keys, mode), https };
}

export function createHook(config: Config, store: KeyStore, mode: Exclude<AuthMode, 'off'>): AuthenticateHook {
  // One Config per account id, so every ARN an action builds names the key's account.
  const contexts = new Map<string, AuthContext>();
  const contextOf = (accountId: string): AuthContext | undefined => {
    if (accountId === config.accountId) return undefined;
    let ctx = contexts.get(accountId);
    if (!ctx) contexts.set(accountId, (ctx = { config: { ...config, accountId } }));
    return ctx;
  };
  let lastWarning = 0;
  let suppressed = 0;
  return async (request, action, body) => {
    try {
      const auth = parseAuthorization(request.headers);
      const found = store.lookup(auth.accessKeyId);
      const key = found instanceof Promise ? await found : found;
      if (!key) throw unrecognizedClient();
      verifySignature({ method: request.method, url: request.url, headers: request.headers, body: request.rawBody }, auth, key.secretAccessKey);
      authorize(key.principal, action, body);
      return contextOf(key.principal.accountId);
    } catch (e) {
      if (mode === 'enforce' || !(e instanceof DynamoError)) throw e;
      // warn: let the request through, but say (at most once a second) what enforce would refuse.
      const now = Date.now();
      if (now - lastWarning >= 1000) {
        request.log.warn({ action, error: e.name, reason: e.message.split('\n')[0], suppressed }, 'auth warn: request would be refused');
        lastWarning = now;
        suppressed = 0;
      } else suppressed++;
    }
  };
}

/** The API listener's certificate and key (--tls-cert/--tls-key), or undefined for plain HTTP. */
export function tlsOptions(config: Config): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tlsCert && !config.tlsKey) return undefined;
  if (!config.tlsCert || !config.tlsKey) throw new ConfigError('--tls-cert and --tls-key go together');
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new ConfigError(`--${flag}: cannot read ${file}: ${(e as Error).message}`);
    }
  };
  return { cert: read(config.tlsCert, 'tls-cert'), key: read(config.tlsKey, 'tls-key') };
}

/**
 * Checks made once by `serve` before it starts workers: TLS files readable, the server key in
 * place (so workers do not race to create it), and the refusal to serve a non-loopback address
 * without keys, asked of Cassandra only in the one case that needs it.
 */
export async function preflightAuth(config: Config, points: string[]): Promise<void> {
  tlsOptions(config);
  if (config.auth === 'off' && !config.accessKey) return;
  if (config.auth === 'auto' && !config.accessKey && isLoopback(config.host)) return;
  loadServerKey({ literal: config.authServerKey, file: config.authServerKeyFile });
  if (config.auth !== 'auto' || config.accessKey) return;
  const session = await connect(config, points);
  try {
    const store = openKeyStore(config, session);
    await store.init();
    await resolveMode(config, () => store.hasActiveKeys());
  } finally {
    await session.shutdown();
  }
}
