// The client's handshake: protocol version, OPTIONS, STARTUP (compression is the proxy's to
// negotiate; the links to the clusters stay uncompressed) and the SASL exchange, which goes to
// the source while its token is kept for the target. The client's version is spoken to both
// clusters too; with v5 every link switches to segments after the answer to STARTUP.

import { BodyReader, BodyWriter, ErrorCode, Opcode, encodeFrame, errorBody, type Frame } from './frame.js';
import { supportedCompressions, type Compression } from './compress.js';
import { supportedBody } from './system.js';
import type { ClusterLinks } from './cluster-links.js';
import type { ClientReplies } from './replies.js';
import type { ConnectionState, ProxyContext } from './context.js';
import type { Result } from './request.js';

const SUPPORTED_VERSIONS = [3, 4, 5];
const MAX_VERSION = 5;

/** Compression the client asked for in STARTUP, and the options left for the clusters. */
export function negotiateStartup(
  opts: Record<string, string>,
  version: number,
): { compression?: Compression; clusterOptions: Record<string, string> } | { refused: string } {
  const asked = Object.entries(opts).find(([k]) => k.toUpperCase() === 'COMPRESSION');
  if (!asked) return { clusterOptions: opts };
  const c = asked[1].toLowerCase();
  // v5 compresses segments, with LZ4 only.
  const offered: string[] = version >= 5 ? ['lz4'] : supportedCompressions();
  if (!offered.includes(c)) return { refused: `Unsupported compression: ${asked[1]}` };
  const clusterOptions = { ...opts };
  delete clusterOptions[asked[0]];
  return { compression: c as Compression, clusterOptions };
}

export class Handshake {
  constructor(
    private readonly ctx: ProxyContext,
    private readonly state: ConnectionState,
    private readonly links: ClusterLinks,
    private readonly replies: ClientReplies,
    private readonly onEvent: (ev: Frame) => void,
    /** v5: switch the client connection to segments (LZ4-compressed or not). */
    private readonly useSegments: (lz4: boolean) => void,
  ) {}

  /**
   * Fix the connection's protocol version on its first frame; false when the frame was answered
   * with an error instead (an unsupported or changed version).
   */
  acceptVersion(f: Frame): boolean {
    if (f.version === this.state.version) return true;
    if (!SUPPORTED_VERSIONS.includes(f.version)) {
      // Answer like Cassandra does for an unsupported version, so drivers retry with one we speak.
      const v = f.version > MAX_VERSION ? MAX_VERSION : Math.max(1, f.version);
      const message = `Invalid or unsupported protocol version (${f.version}); supported versions are (3/v3, 4/v4, 5/v5)`;
      this.replies.write(encodeFrame(v, true, 0, f.stream, Opcode.ERROR, errorBody(ErrorCode.PROTOCOL_ERROR, message)));
      return false;
    }
    if (this.state.version !== 0) {
      this.replies.error(f.stream, ErrorCode.PROTOCOL_ERROR, `protocol version changed from ${this.state.version} to ${f.version}`);
      return false;
    }
    this.state.version = f.version;
    return true;
  }

  options(stream: number): void {
    this.replies.reply(stream, Opcode.SUPPORTED, supportedBody(this.ctx.settings.cqlVersion, supportedCompressions()));
  }

  async startup(stream: number, body: Buffer): Promise<void> {
    let opts: Record<string, string>;
    try {
      opts = new BodyReader(body).stringMap();
    } catch {
      // Thrown here it would be an unhandled rejection, which ends the process.
      return this.replies.error(stream, ErrorCode.PROTOCOL_ERROR, 'cql-proxy: cannot decode STARTUP');
    }
    const n = negotiateStartup(opts, this.state.version);
    if ('refused' in n) return this.replies.error(stream, ErrorCode.PROTOCOL_ERROR, n.refused);
    let source;
    try {
      source = await this.links.open(n.clusterOptions, this.onEvent);
    } catch (err) {
      return this.replies.failure(stream, 'source', err as Error);
    }
    source.send(Opcode.STARTUP, 0, new BodyWriter().stringMap(n.clusterOptions).build(), async (res) => {
      if (res instanceof Error) return this.replies.failure(stream, 'source', res);
      if (res.opcode === Opcode.READY) {
        await this.ready(stream, res);
        this.started(n.compression);
      } else {
        this.replies.relay(stream, res);
        // Compression (v5: segments) starts after the answer to STARTUP, so AUTH_RESPONSE comes so.
        if (res.opcode === Opcode.AUTHENTICATE) this.started(n.compression);
      }
    });
  }

  /** The answer to STARTUP is out: what follows is compressed (v3/v4) or in segments (v5). */
  private started(compression: Compression | undefined): void {
    if (this.state.version >= 5) this.useSegments(compression === 'lz4');
    else this.replies.compression = compression;
  }

  authResponse(stream: number, body: Buffer): void {
    const source = this.links.source;
    if (!source) return this.replies.error(stream, ErrorCode.PROTOCOL_ERROR, 'STARTUP first');
    const token = new BodyReader(body).bytes();
    if (token) this.links.token.resolve(Buffer.from(token));
    source.send(Opcode.AUTH_RESPONSE, 0, body, async (res: Result) => {
      if (res instanceof Error) return this.replies.failure(stream, 'source', res);
      if (res.opcode === Opcode.AUTH_SUCCESS) await this.ready(stream, res);
      else this.replies.relay(stream, res);
    });
  }

  /** The source accepted the client: no more token is coming; the target gets its moment. */
  private async ready(stream: number, res: Frame): Promise<void> {
    this.links.token.resolve(undefined);
    await this.links.targetReady();
    this.ctx.metrics.startups.inc({ protocol_version: String(this.state.version) });
    this.replies.relay(stream, res);
  }
}
