/**
 * HR pushes for tests: a config with an `api` connector (hr) feeding the built-in directory, SCIM users as
 * Entra's bulkUpload examples send them, and a BulkRequest sender over real HTTP.
 */
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const CONTOSO = 'urn:ietf:params:scim:schemas:extension:contoso:1.0:User';
export const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

export function inboundConfig(extra = ''): string {
  return `
schedule: { interval: 1h }
connectors:
  hr:
    type: api
    extensions:
      ${CONTOSO}: { HireDate: dateTime, JobCode: string }
${extra}
  directory: { type: builtin }
rules:
  - name: hr-in
    connector: hr
    direction: inbound
    objectType: user
    metaverseType: person
    join: [[{ source: externalId, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: externalId }
      - { target: userName, source: userName }
      - { target: givenName, source: name.givenName }
      - { target: familyName, source: name.familyName }
      - { target: email, source: 'emails[type eq "work"].value' }
      - { target: department, source: '${ENTERPRISE}:department' }
      - { target: manager, source: '${ENTERPRISE}:manager' }
      - { target: jobCode, source: '${CONTOSO}:JobCode' }
      - { target: active, source: active }
  - name: directory-users
    connector: directory
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: externalId }]]
    provision: true
    deprovision: disable
    flows:
      - { target: userName, source: userName }
      - { target: externalId, source: employeeId }
      - { target: givenName, source: givenName }
      - { target: familyName, source: familyName }
      - { target: email, source: email }
      - { target: department, source: department }
      - { target: manager, source: manager }
      - { target: jobCode, source: jobCode }
      - { target: active, source: active }
serve:
  port: 0
`;
}

/** A person as an HR client built for Entra posts it (Graph's bulkUpload example 2, trimmed). */
export function person(n: number, more: Record<string, unknown> = {}): Record<string, unknown> {
  const id = String(700000 + n);
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE, CONTOSO],
    externalId: id,
    userName: `user${n}@example.com`,
    name: { givenName: `Given${n}`, familyName: `Family${n}` },
    emails: [{ value: `user${n}@example.com`, type: 'work', primary: true }],
    active: true,
    [ENTERPRISE]: { employeeNumber: id, department: `Dept ${n % 5}`, ...(n > 1 && { manager: { value: '700001', displayName: 'Boss' } }) },
    [CONTOSO]: { HireDate: '2021-05-01T00:00:00-05:00', JobCode: `JC-${n}` },
    ...more,
  };
}

export function bulk(records: Record<string, unknown>[]): Record<string, unknown> {
  return {
    schemas: [BULK_REQUEST],
    Operations: records.map((data) => ({ method: 'POST', bulkId: String(data.externalId ?? Math.random()), path: '/Users', data })),
    failOnErrors: null,
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export async function push(url: string, token: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}

export async function get(url: string, token: string): Promise<Reply> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}

/** Polls `check` until it returns a value (not a timed assertion: a generous ceiling only against a hang). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ceilingMs = 60_000): Promise<T> {
  const until = Date.now() + ceilingMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('gave up waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
