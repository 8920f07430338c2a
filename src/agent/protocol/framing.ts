/**
 * Framing for transports that carry whole messages (a WebSocket text message is one frame): one message per
 * frame, JSON, at most `limit` bytes. The reader checks the size before parsing and the shape after, so a
 * frame that is too large, not JSON or not a message is a coded error naming which, never a crash. No I/O.
 */
import { AgentProtocolError } from './errors.js';
import { type Message, message } from './messages.js';

/** 16 MiB: an import page of 500 objects with photos fits; a runaway frame does not. */
export const DEFAULT_FRAME_LIMIT = 16 * 1024 * 1024;

export function writeFrame(msg: Message, limit = DEFAULT_FRAME_LIMIT): string {
  const text = JSON.stringify(msg);
  const size = Buffer.byteLength(text);
  if (size > limit) {
    throw new AgentProtocolError(
      'AGENT_FRAME_TOO_LARGE',
      `a ${describe(msg)} of ${size} bytes is larger than the frame limit (${limit} bytes)`,
    );
  }
  return text;
}

export function readFrame(frame: string | Uint8Array, limit = DEFAULT_FRAME_LIMIT): Message {
  const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength;
  if (size > limit) {
    throw new AgentProtocolError('AGENT_FRAME_TOO_LARGE', `a frame of ${size} bytes is larger than the limit (${limit} bytes)`);
  }
  const text = typeof frame === 'string' ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // the parser's message may quote the frame (an attribute value, a password in flight): say only what is wrong
    throw new AgentProtocolError('AGENT_FRAME_INVALID', 'a frame is not valid JSON');
  }
  const result = message.safeParse(parsed);
  if (!result.success) {
    const where = result.error.issues[0]?.path.join('.') || 'the frame';
    throw new AgentProtocolError('AGENT_FRAME_INVALID', `a frame is not a request, response or notification (at ${where})`);
  }
  return result.data;
}

function describe(msg: Message): string {
  return msg.kind === 'response' ? `response to request ${msg.id}` : `${msg.kind} ${msg.method}`;
}
