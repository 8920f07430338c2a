/** A proposed config edited from what GET /config shows: its secrets still "set" take the running config's values, in place. */
import { describe, expect, it } from 'vitest';
import { redactedYaml, withSecretsKept } from '../../src/api/config-text.js';

describe('withSecretsKept', () => {
  it('gives each "set" secret the running value at the same path, keeping every line where it was', () => {
    const ref = `$${'{'}env:AD_PASSWORD}`;
    const current = `connectors:\n  ad:\n    type: ldap\n    bindPassword: ${ref}\n    url: ldaps://dc\n  api:\n    type: scim\n    token: literal-token\n`;
    const shown = redactedYaml(current);
    expect(shown).toContain('bindPassword: set');
    const edited = shown.replace('ldaps://dc', 'ldaps://dc2').replace('token: set', 'token: set # kept');
    const kept = withSecretsKept(edited, current);
    expect(kept).toContain(`bindPassword: ${ref}`);
    expect(kept).toContain('token: literal-token # kept');
    expect(kept).toContain('url: ldaps://dc2');
    expect(kept.split('\n').length).toBe(edited.split('\n').length);
    // a secret written anew, or "set" where the running config has none, is left as written
    expect(withSecretsKept('connectors:\n  x:\n    password: new-one\n', current)).toContain('password: new-one');
    expect(withSecretsKept('connectors:\n  x:\n    password: set\n', current)).toContain('password: set');
  });
});
