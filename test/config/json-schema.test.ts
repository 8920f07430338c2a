import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { idsyncJsonSchema } from '../../src/config/json-schema.js';

describe('the shipped JSON Schema', () => {
  it('is what the code generates (run `npm run schema` after changing the config schema)', () => {
    const shipped = JSON.parse(readFileSync(new URL('../../schema/idsync.schema.json', import.meta.url), 'utf8'));
    expect(shipped).toEqual(JSON.parse(JSON.stringify(idsyncJsonSchema())));
  });

  it('describes every connector type and the rule directions', () => {
    const schema = idsyncJsonSchema() as any;
    const types = schema.properties.connectors.additionalProperties.properties.type.enum;
    expect(types).toEqual(expect.arrayContaining(['builtin', 'csv']));
    const text = JSON.stringify(schema.properties.rules);
    expect(text).toContain('"inbound"');
    expect(text).toContain('"outbound"');
  });
});
