/**
 * The WebSocket transport of a Peer: the one reader/writer pair between the `ws` library and the protocol.
 * One text message is one frame (framing.ts checks its size before parsing); a closed socket closes the
 * peer (pending requests fail AGENT_CONNECTION_LOST); a frame that cannot be read closes the socket with
 * 1008 (policy), naming only the code.
 */
import type WebSocket from 'ws';
import { DEFAULT_FRAME_LIMIT } from '../protocol/framing.js';
import { Peer } from '../protocol/peer.js';

export interface BoundPeer {
  peer: Peer;
  /** ms since the epoch of the last frame (or pong) received: the heartbeat's measure of life */
  lastReceived(): number;
}

export function bindWebSocket(ws: WebSocket, options: { maxParallel?: number; frameLimit?: number } = {}): BoundPeer {
  let last = Date.now();
  const peer = new Peer({
    send: (frame) => ws.send(frame),
    frameLimit: options.frameLimit ?? DEFAULT_FRAME_LIMIT,
    ...(options.maxParallel !== undefined && { maxParallel: options.maxParallel }),
    onProtocolError: (err) => {
      if (err.code === 'AGENT_RESPONSE_UNEXPECTED') return; // a late answer: harmless
      ws.close(1008, err.code);
    },
  });
  ws.on('message', (data, isBinary) => {
    last = Date.now();
    const frame = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    peer.receive(isBinary ? new Uint8Array(frame) : frame.toString('utf8'));
  });
  ws.on('pong', () => {
    last = Date.now();
  });
  ws.on('close', () => peer.close());
  ws.on('error', () => peer.close());
  return { peer, lastReceived: () => last };
}
