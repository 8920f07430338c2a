import { describe, expect, it } from 'vitest';
import { SCIM_TYPES, ScimError, readErrorResponse } from '../../src/scim/index.js';

describe('ScimError', () => {
  it('renders the RFC 7644 §3.12 body with the status as a string', () => {
    expect(new ScimError(400, 'invalidFilter', 'bad filter').toResponse()).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '400',
      scimType: 'invalidFilter',
      detail: 'bad filter',
    });
    expect(new ScimError(404, undefined, 'Resource 2819c223 not found').toResponse()).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '404',
      detail: 'Resource 2819c223 not found',
    });
  });

  it('has a stable code for each scimType', () => {
    expect(SCIM_TYPES.map((t) => new ScimError(400, t, '').code)).toEqual([
      'SCIM_INVALID_FILTER',
      'SCIM_TOO_MANY',
      'SCIM_UNIQUENESS',
      'SCIM_MUTABILITY',
      'SCIM_INVALID_SYNTAX',
      'SCIM_INVALID_PATH',
      'SCIM_NO_TARGET',
      'SCIM_INVALID_VALUE',
      'SCIM_INVALID_VERS',
      'SCIM_SENSITIVE',
    ]);
    expect(new ScimError(412, undefined, 'version mismatch').code).toBe('SCIM_412');
  });
});

describe('readErrorResponse: error bodies other servers send', () => {
  it('reads our own body back', () => {
    const body = new ScimError(400, 'noTarget', 'nothing at emails[type eq "work"]').toResponse();
    expect(readErrorResponse(JSON.parse(JSON.stringify(body)))).toEqual({
      status: 400,
      scimType: 'noTarget',
      scimTypeText: 'noTarget',
      detail: 'nothing at emails[type eq "work"]',
    });
  });

  it('accepts a numeric status, another case of scimType and an unknown scimType', () => {
    expect(readErrorResponse({ status: 409, scimType: 'Uniqueness', detail: 'taken' })).toEqual({
      status: 409,
      scimType: 'uniqueness',
      scimTypeText: 'Uniqueness',
      detail: 'taken',
    });
    expect(readErrorResponse({ scimType: 'quotaExceeded' })).toEqual({
      status: undefined,
      scimType: undefined,
      scimTypeText: 'quotaExceeded',
      detail: undefined,
    });
  });

  it('gives undefined for what is no SCIM error', () => {
    for (const body of [null, undefined, 'Bad Gateway', 42, [], {}, { detail: '' }, { status: '500' }]) {
      expect(readErrorResponse(body)).toBeUndefined();
    }
    expect(readErrorResponse({ status: 'oops', detail: 'd' })).toMatchObject({
      status: undefined,
      detail: 'd',
    });
    expect(readErrorResponse({ status: 1.5, detail: 'd' })).toMatchObject({ status: undefined });
  });
});
