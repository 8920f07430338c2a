/**
 * One side of an agent connection, without I/O: the transport hands it each frame it receives (`receive`)
 * and gives it a function that sends one (`send`); `close` is called when the transport closes. The peer
 * numbers its own requests, keeps the pending ones by id, validates params before a handler runs and
 * results before a caller sees them, cancels by a $/cancel notification (the handler's AbortSignal aborts),
 * caps the handlers running at once, and fails everything pending with the retryable AGENT_CONNECTION_LOST
 * when the connection goes.
 */
import { ConnectorError, IdsyncError } from '../../core/errors.js';
import { redact } from '../../core/redact.js';
import { AgentProtocolError } from './errors.js';
import { DEFAULT_FRAME_LIMIT, readFrame, writeFrame } from './framing.js';
import type { Message, RequestMessage, WireError } from './messages.js';
import { Cancel, type NotificationType, type RequestType } from './methods.js';

export interface PeerOptions {
  /** writes one frame to the transport */
  send(frame: string): void;
  frameLimit?: number;
  /** handlers running at once; a request beyond it is answered AGENT_BUSY (retryable) */
  maxParallel?: number;
  /** a frame that could not be read, or a response nobody waits for: the transport may close the connection */
  onProtocolError?(error: AgentProtocolError): void;
}

type Handler = (params: unknown, signal: AbortSignal) => Promise<unknown>;

interface Pending {
  type: RequestType<unknown, unknown>;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

export class Peer {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** ids this side cancelled: their late responses are expected and dropped */
  private readonly cancelled = new Set<number>();
  private readonly handlers = new Map<string, { type: RequestType<unknown, unknown>; fn: Handler }>();
  private readonly notificationHandlers = new Map<string, { type: NotificationType<unknown>; fn: (p: unknown) => void }>();
  /** the other side's requests whose handlers run, by the other side's id */
  private readonly running = new Map<number, AbortController>();
  private closedWith: AgentProtocolError | undefined;
  private readonly limit: number;
  private readonly maxParallel: number;

  constructor(private readonly options: PeerOptions) {
    this.limit = options.frameLimit ?? DEFAULT_FRAME_LIMIT;
    this.maxParallel = options.maxParallel ?? 16;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** requests sent and not yet answered */
  get inFlight(): number {
    return this.pending.size;
  }

  handle<P, R>(type: RequestType<P, R>, fn: (params: P, signal: AbortSignal) => Promise<R>): void {
    this.handlers.set(type.method, { type: type as RequestType<unknown, unknown>, fn: fn as Handler });
  }

  onNotification<P>(type: NotificationType<P>, fn: (params: P) => void): void {
    this.notificationHandlers.set(type.method, { type: type as NotificationType<unknown>, fn: fn as (p: unknown) => void });
  }

  request<P, R>(type: RequestType<P, R>, params: P, options: { signal?: AbortSignal } = {}): Promise<R> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(cancelledError(type.method));
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        this.cancelled.add(id);
        this.trySend({ kind: 'notification', method: Cancel.method, params: { id } });
        reject(cancelledError(type.method));
      };
      this.pending.set(id, {
        type: type as RequestType<unknown, unknown>,
        resolve: (r) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r as R);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.options.send(writeFrame({ kind: 'request', id, method: type.method, params }, this.limit));
      } catch (err) {
        this.pending.delete(id);
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      }
    });
  }

  notify<P>(type: NotificationType<P>, params: P): void {
    if (this.closedWith) throw this.closedWith;
    this.options.send(writeFrame({ kind: 'notification', method: type.method, params }, this.limit));
  }

  /** one frame from the transport */
  receive(frame: string | Uint8Array): void {
    if (this.closedWith) return;
    let msg: Message;
    try {
      msg = readFrame(frame, this.limit);
    } catch (err) {
      this.options.onProtocolError?.(err as AgentProtocolError);
      return;
    }
    if (msg.kind === 'request') this.runHandler(msg);
    else if (msg.kind === 'notification') this.runNotification(msg.method, msg.params);
    else this.settle(msg.id, 'error' in msg ? { error: msg.error } : { result: msg.result });
  }

  /**
   * The connection is gone (or is being closed): every pending request fails with `reason` (by default the
   * retryable AGENT_CONNECTION_LOST) and every running handler's signal aborts.
   */
  close(reason?: AgentProtocolError): void {
    if (this.closedWith) return;
    this.closedWith =
      reason ??
      new AgentProtocolError('AGENT_CONNECTION_LOST', 'the connection to the other side closed with requests pending');
    for (const p of this.pending.values()) p.reject(this.closedWith);
    this.pending.clear();
    for (const c of this.running.values()) c.abort(this.closedWith);
    this.running.clear();
  }

  private settle(id: number, outcome: { result: unknown } | { error: WireError }): void {
    const p = this.pending.get(id);
    if (!p) {
      if (this.cancelled.delete(id)) return;
      this.options.onProtocolError?.(
        new AgentProtocolError('AGENT_RESPONSE_UNEXPECTED', `a response to request ${id}, which is not pending`),
      );
      return;
    }
    this.pending.delete(id);
    if ('error' in outcome) {
      const e = outcome.error;
      const err = new AgentProtocolError(e.code, e.message, e.retryable, e.place ?? {});
      err.connection = e.connection === true;
      err.fullImportRequired = e.fullImportRequired === true;
      p.reject(err);
      return;
    }
    const parsed = p.type.result.safeParse(outcome.result);
    if (!parsed.success) {
      const at = parsed.error.issues[0]?.path.join('.') || 'result';
      p.reject(new AgentProtocolError('AGENT_RESULT_INVALID', `the answer to ${p.type.method} does not match its schema (at ${at})`));
      return;
    }
    p.resolve(parsed.data);
  }

  private runHandler(msg: RequestMessage): void {
    const handler = this.handlers.get(msg.method);
    if (!handler) {
      this.respondError(msg.id, new AgentProtocolError('AGENT_METHOD_UNKNOWN', `no method ${msg.method} on this side`));
      return;
    }
    if (this.running.size >= this.maxParallel) {
      this.respondError(
        msg.id,
        new AgentProtocolError('AGENT_BUSY', `${this.maxParallel} requests are running; ${msg.method} was not started`),
      );
      return;
    }
    const parsed = handler.type.params.safeParse(msg.params);
    if (!parsed.success) {
      const at = parsed.error.issues[0]?.path.join('.') || 'params';
      this.respondError(
        msg.id,
        new AgentProtocolError('AGENT_PARAMS_INVALID', `the params of ${msg.method} do not match its schema (at ${at})`),
      );
      return;
    }
    const controller = new AbortController();
    this.running.set(msg.id, controller);
    void handler.fn(parsed.data, controller.signal).then(
      (result) => {
        if (this.running.get(msg.id) !== controller) return;
        this.running.delete(msg.id);
        if (controller.signal.aborted) return this.respondError(msg.id, cancelledError(msg.method));
        this.trySend({ kind: 'response', id: msg.id, result });
      },
      (err: unknown) => {
        if (this.running.get(msg.id) !== controller) return;
        this.running.delete(msg.id);
        this.respondError(msg.id, controller.signal.aborted ? cancelledError(msg.method) : err);
      },
    );
  }

  private runNotification(method: string, params: unknown): void {
    if (method === Cancel.method) {
      const parsed = Cancel.params.safeParse(params);
      if (!parsed.success) return;
      this.running.get(parsed.data.id)?.abort(cancelledError(`request ${parsed.data.id}`));
      return;
    }
    const handler = this.notificationHandlers.get(method);
    if (!handler) return; // a notification from a newer build that this one does not know: ignored by design
    const parsed = handler.type.params.safeParse(params);
    if (parsed.success) handler.fn(parsed.data);
  }

  private respondError(id: number, err: unknown): void {
    this.trySend({ kind: 'response', id, error: toWireError(err) });
  }

  /** a response or cancel to a transport that may have gone: the close() that follows reports it */
  private trySend(msg: Message): void {
    if (this.closedWith) return;
    try {
      this.options.send(writeFrame(msg, this.limit));
    } catch (err) {
      if (msg.kind === 'response' && err instanceof AgentProtocolError && err.code === 'AGENT_FRAME_TOO_LARGE') {
        this.respondError(msg.id, err);
      }
    }
  }
}

function cancelledError(what: string): AgentProtocolError {
  return new AgentProtocolError('AGENT_CANCELLED', `${what} was cancelled`, false);
}

/** Any error as the wire carries it: a coded IdsyncError keeps its code and place; anything else is redacted. */
export function toWireError(err: unknown): WireError {
  if (err instanceof IdsyncError) {
    const retryable = err instanceof AgentProtocolError || err instanceof ConnectorError ? err.retryable : false;
    const place = Object.fromEntries(Object.entries(err.place).filter(([, v]) => v !== undefined));
    return {
      code: err.code,
      message: redact(err.message),
      retryable,
      ...(Object.keys(place).length > 0 && { place }),
      ...(err instanceof ConnectorError && err.connection && { connection: true }),
      ...(err instanceof ConnectorError && err.fullImportRequired && { fullImportRequired: true }),
    };
  }
  return { code: 'AGENT_HANDLER_FAILED', message: redact(err instanceof Error ? err.message : String(err)), retryable: false };
}
