/**
 * One LDAP connection: bind, streaming search, writes, StartTLS.
 *
 * Requests are encoded with ldapts' message classes. Responses are decoded here, because ldapts collects a
 * whole search in memory before returning it, drops the controls attached to entries (RFC 4533's syncState)
 * and has no intermediate responses (syncInfo) — all three of which a streaming, resumable import needs.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  AbandonRequest,
  AddRequest,
  type Attribute,
  BindRequest,
  type Change,
  type Control,
  DeleteRequest,
  ExtendedRequest,
  type Filter,
  ModifyDNRequest,
  ModifyRequest,
  SearchRequest,
  UnbindRequest,
} from 'ldapts';
import { BerCursor, elementLength } from './ber.js';

export interface TlsOptions {
  /** PEM text of the CA certificates to trust (the system's when absent) */
  ca?: string;
  /** SHA-256 fingerprint of the server certificate (hex, colons allowed) */
  pinSha256?: string;
  rejectUnauthorized: boolean;
  startTls: boolean;
  /** the name the certificate must carry, when it differs from the URL's host */
  serverName?: string;
}

export interface ConnectOptions {
  url: string;
  tls: TlsOptions;
  connectTimeoutMs: number;
  /** a write, bind or the wait for the next search message longer than this fails the connection; 0: none */
  operationTimeoutMs: number;
}

export interface RawControl {
  oid: string;
  critical: boolean;
  value?: Buffer;
}

export interface RawAttribute {
  type: string;
  values: (string | Buffer)[];
}

export interface SearchEntry {
  dn: string;
  attributes: RawAttribute[];
  controls: RawControl[];
}

export interface LdapResult {
  resultCode: number;
  matchedDN: string;
  diagnosticMessage: string;
  controls: RawControl[];
  responseName?: string;
  responseValue?: Buffer;
}

export type SearchMessage =
  | { type: 'entry'; entry: SearchEntry }
  | { type: 'reference'; uris: string[] }
  | { type: 'intermediate'; name?: string; value?: Buffer; controls: RawControl[] }
  | { type: 'done'; result: LdapResult };

export interface SearchParams {
  baseDN: string;
  scope: 'base' | 'one' | 'sub';
  filter: Filter;
  attributes: string[];
  sizeLimit?: number;
  controls?: Control[];
  /** which attribute types (as the server spells them, options included) to keep as bytes */
  binary?: (type: string) => boolean;
  /** a persistent search waits for changes as long as it likes */
  persistent?: boolean;
}

/** The server answered with a result code other than success. */
export class LdapResultError extends Error {
  override readonly name = 'LdapResultError';
  constructor(
    readonly operation: string,
    readonly result: LdapResult,
  ) {
    super(
      `${operation} failed: ${resultCodeName(result.resultCode)} (${result.resultCode})${result.diagnosticMessage ? `: ${result.diagnosticMessage}` : ''}`,
    );
  }
  get resultCode(): number {
    return this.result.resultCode;
  }
}

/** The connection could not be made, was lost, or an operation timed out. */
export class LdapConnectionError extends Error {
  override readonly name = 'LdapConnectionError';
}

const RESULT_NAMES: Record<number, string> = {
  0: 'success',
  1: 'operationsError',
  2: 'protocolError',
  3: 'timeLimitExceeded',
  4: 'sizeLimitExceeded',
  7: 'authMethodNotSupported',
  8: 'strongerAuthRequired',
  10: 'referral',
  11: 'adminLimitExceeded',
  12: 'unavailableCriticalExtension',
  13: 'confidentialityRequired',
  16: 'noSuchAttribute',
  17: 'undefinedAttributeType',
  18: 'inappropriateMatching',
  19: 'constraintViolation',
  20: 'attributeOrValueExists',
  21: 'invalidAttributeSyntax',
  32: 'noSuchObject',
  34: 'invalidDNSyntax',
  48: 'inappropriateAuthentication',
  49: 'invalidCredentials',
  50: 'insufficientAccessRights',
  51: 'busy',
  52: 'unavailable',
  53: 'unwillingToPerform',
  54: 'loopDetect',
  64: 'namingViolation',
  65: 'objectClassViolation',
  66: 'notAllowedOnNonLeaf',
  67: 'notAllowedOnRDN',
  68: 'entryAlreadyExists',
  69: 'objectClassModsProhibited',
  71: 'affectsMultipleDSAs',
  80: 'other',
  4096: 'e-syncRefreshRequired',
};

export function resultCodeName(code: number): string {
  return RESULT_NAMES[code] ?? `resultCode${code}`;
}

/** what ldapts' request classes have in common */
interface Message {
  messageId: number;
  write(): Buffer;
}

const OP_SEARCH_ENTRY = 0x64;
const OP_SEARCH_DONE = 0x65;
const OP_SEARCH_REFERENCE = 0x73;
const OP_INTERMEDIATE = 0x79;
const TAG_CONTROLS = 0xa0;
const NO_CONTROLS: RawControl[] = Object.freeze([]) as unknown as RawControl[];
const STARTTLS_OID = '1.3.6.1.4.1.1466.20037';

/** Pause the socket when this many search messages wait for their consumer; resume below the low mark. */
const HIGH_WATER = 4000;
const LOW_WATER = 1000;

interface Pending {
  operation: string;
  /** a message for this operation arrived; returns true when the operation is complete */
  onMessage(tag: number, cursor: BerCursor, messageEnd: number): boolean;
  onError(error: Error): void;
}

export class LdapConnection {
  private socket: net.Socket;
  private receive: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private queued = 0;
  private paused = false;
  private failure: Error | undefined;
  private closedListeners: ((error: Error) => void)[] = [];
  encrypted: boolean;

  private constructor(
    socket: net.Socket,
    readonly options: ConnectOptions,
    encrypted: boolean,
  ) {
    this.socket = socket;
    this.encrypted = encrypted;
    this.attach(socket);
  }

  static async open(options: ConnectOptions): Promise<LdapConnection> {
    const url = new URL(options.url);
    const secure = url.protocol === 'ldaps:';
    if (!secure && url.protocol !== 'ldap:')
      throw new LdapConnectionError(`${options.url}: not an ldap:// or ldaps:// URL`);
    const host = url.hostname.replace(/^\[|\]$/g, '') || 'localhost';
    const port = url.port ? Number(url.port) : secure ? 636 : 389;
    let plain: net.Socket | undefined;
    const socket = secure
      ? await connectTls({ host, port }, options)
      : await withTimeout(
          new Promise<net.Socket>((resolve, reject) => {
            plain = net.connect({ host, port });
            const s = plain;
            s.once('connect', () => {
              s.removeAllListeners('error');
              resolve(s);
            });
            s.once('error', reject);
          }),
          options.connectTimeoutMs,
          `connecting to ${options.url}`,
        ).catch((err: unknown) => {
          plain?.destroy();
          throw new LdapConnectionError(`cannot connect to ${options.url}: ${(err as Error).message}`);
        });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const connection = new LdapConnection(socket, options, secure);
    if (!secure && options.tls.startTls) await connection.startTls(host, port);
    return connection;
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  onClose(listener: (error: Error) => void): void {
    this.closedListeners.push(listener);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', (err) =>
      this.fail(new LdapConnectionError(`connection to ${this.options.url} failed: ${err.message}`)),
    );
    socket.on('close', () => this.fail(new LdapConnectionError(`connection to ${this.options.url} closed`)));
  }

  private async startTls(host: string, port: number): Promise<void> {
    const result = await this.request(
      'StartTLS',
      new ExtendedRequest({ messageId: this.id(), oid: STARTTLS_OID }),
    );
    if (result.resultCode !== 0) throw new LdapResultError('StartTLS', result);
    const plain = this.socket;
    plain.removeListener('data', this.onData);
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    const secured = await connectTls({ host, port, socket: plain }, this.options);
    this.socket = secured;
    this.encrypted = true;
    this.attach(secured);
  }

  private readonly onData = (chunk: Buffer): void => {
    let buf = this.receive.length === 0 ? chunk : Buffer.concat([this.receive, chunk]);
    let offset = 0;
    try {
      for (;;) {
        const length = elementLength(buf, offset);
        if (length < 0) break;
        this.dispatch(buf, offset, offset + length);
        offset += length;
      }
    } catch (err) {
      this.fail(
        new LdapConnectionError(`undecodable message from ${this.options.url}: ${(err as Error).message}`),
      );
      return;
    }
    buf = offset === buf.length ? Buffer.alloc(0) : buf.subarray(offset);
    // a partial message left at the end of a large chunk would pin the whole chunk: copy it out
    this.receive = buf.length > 0 && buf.length < 65536 ? Buffer.from(buf) : buf;
  };

  private dispatch(buf: Buffer, start: number, end: number): void {
    const cursor = new BerCursor(buf, start, end);
    cursor.enter(0x30);
    const messageId = cursor.int(0x02);
    const tag = cursor.peekTag();
    if (messageId === 0) {
      // unsolicited notification (notice of disconnection): the server is going away
      const result = readResult(cursor.enter(), end);
      this.fail(
        new LdapConnectionError(
          `${this.options.url} disconnected: ${result.diagnosticMessage || resultCodeName(result.resultCode)}`,
        ),
      );
      return;
    }
    const pending = this.pending.get(messageId);
    if (!pending) return; // the answer to an abandoned operation
    if (pending.onMessage(tag, cursor, end)) this.pending.delete(messageId);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.onError(error);
    this.socket.destroy();
    for (const listener of this.closedListeners) listener(error);
  }

  private id(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    return id;
  }

  private send(message: Message): void {
    if (this.failure) throw this.failure;
    this.socket.write(message.write());
  }

  /** sends a request with one response message and waits for it */
  private request(operation: string, message: Message): Promise<LdapResult> {
    return new Promise<LdapResult>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      if (this.options.operationTimeoutMs > 0) {
        timer = setTimeout(() => {
          this.fail(
            new LdapConnectionError(
              `${operation} on ${this.options.url}: no answer within ${this.options.operationTimeoutMs} ms`,
            ),
          );
        }, this.options.operationTimeoutMs);
      }
      this.pending.set(message.messageId, {
        operation,
        onMessage: (_tag, cursor, end) => {
          clearTimeout(timer);
          resolve(readResult(cursor.enter(), end));
          return true;
        },
        onError: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.send(message);
    });
  }

  private async checked(operation: string, message: Message): Promise<LdapResult> {
    const result = await this.request(operation, message);
    if (result.resultCode !== 0) throw new LdapResultError(operation, result);
    return result;
  }

  async bind(dn: string, password: string): Promise<void> {
    await this.checked('bind', new BindRequest({ messageId: this.id(), dn, password }));
  }

  async add(dn: string, attributes: Attribute[], controls?: Control[]): Promise<void> {
    await this.checked('add', new AddRequest({ messageId: this.id(), dn, attributes, controls }));
  }

  async modify(dn: string, changes: Change[], controls?: Control[]): Promise<void> {
    if (changes.length === 0) return;
    await this.checked('modify', new ModifyRequest({ messageId: this.id(), dn, changes, controls }));
  }

  async delete(dn: string, controls?: Control[]): Promise<void> {
    await this.checked('delete', new DeleteRequest({ messageId: this.id(), dn, controls }));
  }

  async modifyDN(
    dn: string,
    newRdn: string,
    newSuperior: string | undefined,
    controls?: Control[],
  ): Promise<void> {
    await this.checked(
      'modifyDN',
      new ModifyDNRequest({ messageId: this.id(), dn, newRdn, newSuperior, deleteOldRdn: true, controls }),
    );
  }

  async extended(oid: string, value?: Buffer): Promise<LdapResult> {
    return this.checked('extended', new ExtendedRequest({ messageId: this.id(), oid, value }));
  }

  search(params: SearchParams): SearchOperation {
    return new SearchOperation(this, params);
  }

  /** collects a small search in memory */
  async searchAll(params: SearchParams): Promise<SearchEntry[]> {
    const entries: SearchEntry[] = [];
    for await (const message of this.search(params)) {
      if (message.type === 'entry') entries.push(message.entry);
      else if (message.type === 'done' && message.result.resultCode !== 0)
        throw new LdapResultError('search', message.result);
    }
    return entries;
  }

  async close(): Promise<void> {
    if (this.failure) return;
    try {
      this.send(new UnbindRequest({ messageId: this.id() }));
    } catch {
      // closing anyway
    }
    this.socket.end();
    this.fail(new LdapConnectionError(`connection to ${this.options.url} closed by idsync`));
  }

  /** @internal used by SearchOperation */
  startSearch(params: SearchParams, pending: Omit<Pending, 'operation'>): number {
    const messageId = this.id();
    this.pending.set(messageId, { operation: 'search', ...pending });
    this.send(
      new SearchRequest({
        messageId,
        baseDN: params.baseDN,
        scope: params.scope,
        filter: params.filter,
        attributes: params.attributes,
        sizeLimit: params.sizeLimit ?? 0,
        timeLimit: 0,
        controls: params.controls,
      }),
    );
    return messageId;
  }

  /** @internal */
  abandon(messageId: number): void {
    if (!this.pending.delete(messageId) || this.failure) return;
    this.send(new AbandonRequest({ messageId: this.id(), abandonId: messageId }));
  }

  /** @internal flow control across the searches of this connection */
  adjustQueued(delta: number): void {
    this.queued += delta;
    if (!this.paused && this.queued >= HIGH_WATER) {
      this.paused = true;
      this.socket.pause();
    } else if (this.paused && this.queued <= LOW_WATER) {
      this.paused = false;
      this.socket.resume();
    }
  }

  get failed(): Error | undefined {
    return this.failure;
  }
}

/** A running search: an async iterable of its messages, ending after `done`. */
export class SearchOperation implements AsyncIterable<SearchMessage> {
  private readonly queue: SearchMessage[] = [];
  private error: Error | undefined;
  private finished = false;
  private wake: (() => void) | undefined;
  private readonly messageId: number;
  private readonly binaryCache = new Map<string, boolean>();

  constructor(
    private readonly connection: LdapConnection,
    private readonly params: SearchParams,
  ) {
    this.messageId = connection.startSearch(params, {
      onMessage: (tag, cursor, end) => this.onMessage(tag, cursor, end),
      onError: (error) => {
        this.error = error;
        this.signal();
      },
    });
  }

  private isBinary(type: string): boolean {
    let binary = this.binaryCache.get(type);
    if (binary === undefined) {
      binary = this.params.binary?.(type) ?? false;
      this.binaryCache.set(type, binary);
    }
    return binary;
  }

  private onMessage(tag: number, cursor: BerCursor, end: number): boolean {
    let message: SearchMessage;
    if (tag === OP_SEARCH_ENTRY) {
      message = { type: 'entry', entry: this.readEntry(cursor, end) };
    } else if (tag === OP_SEARCH_DONE) {
      message = { type: 'done', result: readResult(cursor.enter(), end) };
    } else if (tag === OP_INTERMEDIATE) {
      cursor.enter();
      const opEnd = cursor.end;
      let name: string | undefined;
      let value: Buffer | undefined;
      while (cursor.pos < opEnd) {
        const t = cursor.peekTag();
        if (t === 0x80) name = cursor.string();
        else if (t === 0x81) value = cursor.bytes();
        else cursor.next();
      }
      message = { type: 'intermediate', name, value, controls: readControls(cursor, end) };
    } else if (tag === OP_SEARCH_REFERENCE) {
      cursor.enter();
      const opEnd = cursor.end;
      const uris: string[] = [];
      while (cursor.pos < opEnd) uris.push(cursor.string());
      message = { type: 'reference', uris };
    } else {
      return false;
    }
    this.queue.push(message);
    this.connection.adjustQueued(1);
    if (message.type === 'done') this.finished = true;
    this.signal();
    return message.type === 'done';
  }

  private readEntry(cursor: BerCursor, end: number): SearchEntry {
    cursor.enter(OP_SEARCH_ENTRY);
    const dn = cursor.string();
    cursor.enter(0x30);
    const listEnd = cursor.end;
    const attributes: RawAttribute[] = [];
    const buf = cursor.buf;
    while (cursor.pos < listEnd) {
      cursor.enter(0x30);
      const type = cursor.string();
      cursor.enter(0x31);
      const setEnd = cursor.end;
      const binary = this.isBinary(type);
      const values: (string | Buffer)[] = [];
      while (cursor.pos < setEnd) {
        cursor.next();
        values.push(
          binary
            ? Buffer.from(buf.subarray(cursor.start, cursor.end))
            : buf.toString('utf8', cursor.start, cursor.end),
        );
      }
      attributes.push({ type, values });
    }
    return { dn, attributes, controls: readControls(cursor, end) };
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** stops the search on the server; the iterator ends */
  abandon(): void {
    if (this.finished) return;
    this.finished = true;
    this.connection.abandon(this.messageId);
    this.connection.adjustQueued(-this.queue.length);
    this.queue.length = 0;
    this.signal();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<SearchMessage> {
    for await (const batch of this.batches()) yield* batch;
  }

  /** the messages in the order they came, as many at a time as have arrived (one await per batch, not per entry) */
  async *batches(): AsyncGenerator<SearchMessage[]> {
    const timeoutMs = this.params.persistent ? 0 : this.connection.options.operationTimeoutMs;
    try {
      for (;;) {
        if (this.queue.length > 0) {
          const batch = this.queue.splice(0);
          this.connection.adjustQueued(-batch.length);
          const done = batch[batch.length - 1]!.type === 'done';
          yield batch;
          if (done) return;
          continue;
        }
        if (this.error) throw this.error;
        if (this.finished) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          if (timeoutMs > 0) {
            const timer = setTimeout(() => {
              this.error ??= new LdapConnectionError(
                `search on ${this.connection.options.url}: no answer within ${timeoutMs} ms`,
              );
              this.connection.abandon(this.messageId);
              resolve();
            }, timeoutMs);
            this.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          }
        });
      }
    } finally {
      // a consumer that stops early (break, throw) abandons the search instead of leaving it running
      if (!this.finished) this.abandon();
    }
  }
}

function readResult(cursor: BerCursor, end: number): LdapResult {
  const opEnd = cursor.end;
  const resultCode = cursor.int(0x0a);
  const matchedDN = cursor.string();
  const diagnosticMessage = cursor.string();
  const result: LdapResult = { resultCode, matchedDN, diagnosticMessage, controls: [] };
  while (cursor.pos < opEnd) {
    const tag = cursor.peekTag();
    if (tag === 0x8a) result.responseName = cursor.string();
    else if (tag === 0x8b) result.responseValue = cursor.bytes();
    else cursor.next(); // referral [3], serverSaslCreds [7]
  }
  cursor.pos = opEnd;
  result.controls = readControls(cursor, end);
  return result;
}

function readControls(cursor: BerCursor, end: number): RawControl[] {
  if (cursor.pos >= end || cursor.peekTag() !== TAG_CONTROLS) return NO_CONTROLS;
  cursor.enter(TAG_CONTROLS);
  const listEnd = cursor.end;
  const controls: RawControl[] = [];
  while (cursor.pos < listEnd) {
    cursor.enter(0x30);
    const controlEnd = cursor.end;
    const oid = cursor.string(0x04);
    let critical = false;
    let value: Buffer | undefined;
    while (cursor.pos < controlEnd) {
      const tag = cursor.peekTag();
      if (tag === 0x01) critical = cursor.boolean();
      else if (tag === 0x04) value = cursor.bytes();
      else cursor.next();
    }
    controls.push({ oid, critical, value });
  }
  return controls;
}

async function connectTls(
  target: { host: string; port: number; socket?: net.Socket },
  options: ConnectOptions,
): Promise<tls.TLSSocket> {
  const t = options.tls;
  const servername = t.serverName ?? (net.isIP(target.host) ? undefined : target.host);
  const connect = new Promise<tls.TLSSocket>((resolve, reject) => {
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      socket: target.socket,
      servername,
      ca: t.ca,
      // with a pin, the pin is what authenticates the server; the chain is still checked unless told not to
      rejectUnauthorized: t.rejectUnauthorized,
      checkServerIdentity: (host, cert) => tls.checkServerIdentity(t.serverName ?? host, cert),
    });
    socket.once('secureConnect', () => {
      socket.removeAllListeners('error');
      if (t.pinSha256) {
        const expected = t.pinSha256.replace(/:/g, '').toLowerCase();
        const actual = createHash('sha256').update(socket.getPeerCertificate().raw).digest('hex');
        if (actual !== expected) {
          socket.destroy();
          reject(
            new Error(`the server certificate's SHA-256 fingerprint ${actual} does not match the pinned one`),
          );
          return;
        }
      }
      resolve(socket);
    });
    socket.once('error', reject);
  });
  return withTimeout(connect, options.connectTimeoutMs, `TLS handshake with ${options.url}`).catch(
    (err: unknown) => {
      throw new LdapConnectionError(`cannot connect to ${options.url} over TLS: ${(err as Error).message}`);
    },
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!ms) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
