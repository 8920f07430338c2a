/**
 * Typed errors with stable codes. Scripts and the API match on `code`, people read `message`.
 * Each error names its place: a config location, a connector, an object anchor, an attribute.
 */

export interface ErrorPlace {
  /** config file:line:column, or a data file:line */
  location?: string;
  connector?: string;
  anchor?: string;
  attribute?: string;
}

export class IdsyncError extends Error {
  override readonly name: string = 'IdsyncError';
  constructor(
    readonly code: string,
    message: string,
    readonly place: ErrorPlace = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** "hr: object E1001: attribute manager: ..." — place first, so a person scanning a list sees where. */
  describe(): string {
    const where = [
      this.place.location,
      this.place.connector && `connector ${this.place.connector}`,
      this.place.anchor && `object ${this.place.anchor}`,
      this.place.attribute && `attribute ${this.place.attribute}`,
    ].filter(Boolean);
    return where.length > 0 ? `${where.join(': ')}: ${this.message}` : this.message;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.place };
  }
}

/** Configuration is wrong: exit code 2. Carries every problem found, not only the first. */
export class ConfigError extends IdsyncError {
  override readonly name = 'ConfigError';
  constructor(readonly problems: ConfigProblem[]) {
    super('CONFIG_INVALID', problems.map(formatProblem).join('\n'));
  }
}

export interface ConfigProblem {
  code: string;
  message: string;
  /** "idsync.yaml:12:7" when known */
  location?: string;
  /** path inside the config: ["connectors", "hr", "path"] */
  path: (string | number)[];
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.location ?? (p.path.length > 0 ? p.path.join('.') : 'config');
  return `${where}: ${p.message}`;
}

/** A failure talking to a remote system. `retryable` tells the engine whether to try again later. */
export class ConnectorError extends IdsyncError {
  override readonly name = 'ConnectorError';
  constructor(
    code: string,
    message: string,
    place: ErrorPlace,
    readonly retryable: boolean,
    options?: { cause?: unknown; remoteCode?: string | number; fullImportRequired?: boolean; connection?: boolean },
  ) {
    super(code, message, place, options);
    this.remoteCode = options?.remoteCode;
    this.fullImportRequired = options?.fullImportRequired ?? false;
    this.connection = options?.connection ?? false;
  }
  readonly remoteCode: string | number | undefined;
  /**
   * The failure is the connection's or the credentials' (unreachable, refused, bind or token refused), not
   * any object's: the engine retries at the next cycle, without backing off, and exports nothing to a
   * target it could not reach.
   */
  readonly connection: boolean;
  /**
   * A delta import cannot go on from the watermark it was given (expired, from another source, ahead of the
   * system): the engine runs a full import instead, in the same cycle.
   */
  readonly fullImportRequired: boolean;
}

/** A safety rule stopped the work (deletion threshold, shrinking import): exit code 4. */
export class SafetyHold extends IdsyncError {
  override readonly name = 'SafetyHold';
}

/** Node's socket and name-resolution errors: the system is not reachable, whatever the connector. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE']);

/** Whether an error is the connection's or the credentials' rather than an object's (ConnectorError.connection). */
export function isConnectionFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ConnectorError && e.connection) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
  }
  return false;
}

export function errorMessage(err: unknown): string {
  if (err instanceof IdsyncError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
