/** Any failure to install, start or stop a local Cassandra node; the message is meant for the user as-is. */
export class LocalNodeError extends Error {
  override name = 'LocalNodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
