/** Each connector names how it finds changes (Connector.deltaMethod), from its settings and watermark, offline. */
import { describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/contract.js';
import { connectorFactory } from '../../src/connectors/registry.js';

const context = { configDir: '/tmp', stateDir: '/tmp', log: { debug() {}, info() {}, warn() {} } };

function make(type: string, settings: Record<string, unknown>): Connector {
  const factory = connectorFactory(type)!;
  return factory.create(`a-${type}`, factory.settings.parse(settings), context);
}

const ldap = (delta?: string) =>
  make('ldap', { urls: ['ldap://127.0.0.1:1'], bindDN: 'cn=idsync,dc=example,dc=com', password: 'example', baseDN: 'dc=example,dc=com', flavor: 'openldap', ...(delta && { delta }) });

describe('deltaMethod', () => {
  it('LDAP: the mode its watermark was made by, else the configured one; none before the server was asked', () => {
    expect(ldap().deltaMethod?.('syncrepl:rid=000,csn=20260101')).toBe('RFC 4533 syncrepl (refreshOnly)');
    expect(ldap().deltaMethod?.('accesslog:20260101000000.000000Z')).toBe('accesslog overlay');
    expect(ldap().deltaMethod?.('modifyTimestamp:20260101000000Z')).toBe('modifyTimestamp');
    expect(ldap().deltaMethod?.('dirsync:AAAA')).toBe('DirSync');
    expect(ldap().deltaMethod?.('usn:12345')).toBe('uSNChanged');
    expect(ldap().deltaMethod?.(null)).toBeUndefined(); // auto: picked at the first import
    expect(ldap('accesslog').deltaMethod?.(null)).toBe('accesslog overlay');
  });

  it('SQL: its watermark column or its trigger-fed change log; none without delta settings', () => {
    const base = { driver: 'sqlite', file: ':memory:' };
    const watermark = make('sql', { ...base, objectTypes: { person: { table: 'people', anchor: 'id', delta: { mode: 'watermark', column: 'updated_at' } } } });
    expect(watermark.deltaMethod?.('{}')).toBe('watermark column updated_at');
    const changelog = make('sql', { ...base, objectTypes: { person: { table: 'people', anchor: 'id', delta: { mode: 'changelog' } } } });
    expect(changelog.deltaMethod?.('{}')).toBe('change-log table fed by triggers');
    const none = make('sql', { ...base, objectTypes: { person: { table: 'people', anchor: 'id' } } });
    expect(none.deltaMethod?.(null)).toBeUndefined();
  });

  it('built-in directory, SCIM and CSV say theirs', () => {
    expect(make('builtin', { path: ':memory:' }).deltaMethod?.('7')).toBe('change sequence');
    expect(make('scim', { url: 'https://app.example.com/scim/v2', auth: { type: 'none' } }).deltaMethod?.(null)).toBe('meta.lastModified filter');
    expect(make('csv', { path: 'hr.csv', anchor: 'employeeId' }).deltaMethod?.('x')).toBe('file hash and row digests');
  });
});
