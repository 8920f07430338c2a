import { describe, expect, it } from 'vitest';
import { readFrame, writeFrame } from '../../../src/agent/protocol/framing.js';
import { negotiate, PROTOCOL_MAJOR } from '../../../src/agent/protocol/hello.js';
import { fromWireAttributes, toWireAttributes } from '../../../src/agent/protocol/values.js';

describe('agent protocol framing', () => {
  it('writes and reads a message; a frame over the limit is refused on both sides with its code', () => {
    const msg = { kind: 'request' as const, id: 1, method: 'import.next', params: { session: 's' } };
    expect(readFrame(writeFrame(msg))).toEqual(msg);
    expect(() => writeFrame({ ...msg, params: { session: 'x'.repeat(200) } }, 100)).toThrow(
      expect.objectContaining({ code: 'AGENT_FRAME_TOO_LARGE' }),
    );
    expect(() => readFrame(Buffer.from(JSON.stringify({ ...msg, params: 'x'.repeat(200) })), 100)).toThrow(
      expect.objectContaining({ code: 'AGENT_FRAME_TOO_LARGE' }),
    );
  });

  it('a frame that is not JSON or not a message is AGENT_FRAME_INVALID and never quotes the frame', () => {
    let err: unknown;
    try {
      readFrame('{"kind":"request","params":"hunter2-secret"');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'AGENT_FRAME_INVALID' });
    expect((err as Error).message).not.toContain('hunter2');
    expect(() => readFrame('{"kind":"request","id":0,"method":"x","params":{}}')).toThrow(
      expect.objectContaining({ code: 'AGENT_FRAME_INVALID', message: expect.stringContaining('id') }),
    );
    expect(() => readFrame('{"kind":"response","id":1,"result":1,"error":{}}')).toThrow(
      expect.objectContaining({ code: 'AGENT_FRAME_INVALID' }),
    );
  });

  it('binary values and references keep their kind across the wire', () => {
    const attributes = {
      objectGUID: [Buffer.from([0, 1, 254, 255])],
      manager: [{ ref: 'cn=boss,dc=example' }],
      cn: ['{"ref":"not a reference"}'],
      n: [3, true],
    };
    const back = fromWireAttributes(JSON.parse(JSON.stringify(toWireAttributes(attributes))));
    expect(Buffer.from(back.objectGUID![0] as Uint8Array)).toEqual(Buffer.from([0, 1, 254, 255]));
    expect(back.manager).toEqual([{ ref: 'cn=boss,dc=example' }]);
    expect(back.cn).toEqual(['{"ref":"not a reference"}']);
    expect(back.n).toEqual([3, true]);
  });
});

describe('agent protocol hello', () => {
  it('an agent one minor older keeps working with the features both name', () => {
    const service = { major: PROTOCOL_MAJOR, minor: 3, capabilities: ['import.pages', 'export.batch', 'watch', 'cancel'] };
    const agent = { major: PROTOCOL_MAJOR, minor: 2, capabilities: ['export.batch', 'import.pages', 'future.thing'] };
    expect(negotiate(service, agent)).toEqual({ minor: 2, capabilities: ['import.pages', 'export.batch'] });
  });

  it('another major is a coded refusal that says which side to upgrade', () => {
    expect(() => negotiate({ major: 2, minor: 0, capabilities: [] }, { major: 1, minor: 4, capabilities: [] })).toThrow(
      expect.objectContaining({ code: 'AGENT_PROTOCOL_VERSION', message: expect.stringContaining('upgrade the other side') }),
    );
  });
});
