/** The record components in PostgreSQL: tables made once under the migration lock, a newer version refused. */
import { afterEach, describe, expect, it } from 'vitest';
import { AccountStore } from '../../../src/store/accounts.js';
import { TokenStore } from '../../../src/store/tokens.js';
import { createDatabase, type TestDatabase } from '../../helpers/postgres.js';

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

describe('record tables in PostgreSQL', () => {
  it('several openings at once on an empty database make the tables once, each component at its version', async () => {
    db = await createDatabase('records_once');
    const location = { stateDir: '/nonexistent', stateUrl: db.url };
    const opened = await Promise.all([TokenStore.open(location), TokenStore.open(location), AccountStore.open(location), AccountStore.open(location)]);
    for (const s of opened) await s.close();
    expect(await db.exec('SELECT component, version FROM record_schema ORDER BY component')).toEqual([
      { component: 'accounts', version: 1 },
      { component: 'tokens', version: 1 },
    ]);
  });

  it('refuses tables a newer idsync wrote, saying which and what to do', async () => {
    db = await createDatabase('records_newer');
    const location = { stateDir: '/nonexistent', stateUrl: db.url };
    await (await TokenStore.open(location)).close();
    await db.exec("UPDATE record_schema SET version = 7 WHERE component = 'tokens'");
    await expect(TokenStore.open(location)).rejects.toMatchObject({
      code: 'STATE_SCHEMA_TOO_NEW',
      message: expect.stringMatching(/the tokens tables in postgres:\/\/.* have schema version 7.*knows versions up to 1\. Upgrade idsync/),
    });
  });
});
