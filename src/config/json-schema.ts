/**
 * The JSON Schema of idsync.yaml, for editors (YAML language server): generated from the same zod schemas
 * the loader validates with, each connector type's settings included, so it cannot drift from the code.
 * `npm run schema` writes schema/idsync.schema.json; a test fails when the committed file is stale.
 */
import { z } from 'zod';
import { connectorFactory, connectorTypes } from '../connectors/registry.js';
import { configSchema, connectorBase } from './schema.js';

export function idsyncJsonSchema(): Record<string, unknown> {
  const base = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
  const engineFields = z.toJSONSchema(connectorBase, { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
  const perType = connectorTypes().map((type) => {
    const settings = z.toJSONSchema(connectorFactory(type)!.settings, { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
    // JSON Schema's conditional keywords are literally "if"/"then": not a promise.
    return {
      if: { properties: { type: { const: type } }, required: ['type'] },
      // biome-ignore lint/suspicious/noThenProperty: a JSON Schema keyword
      then: {
        type: 'object',
        description: connectorFactory(type)!.description,
        properties: { ...engineFields.properties, ...(settings.properties ?? {}), type: { const: type } },
        required: ['type', ...((settings.required as string[] | undefined) ?? [])],
        additionalProperties: false,
      },
    };
  });
  base.properties.connectors.additionalProperties = {
    type: 'object',
    properties: { type: { enum: connectorTypes() } },
    required: ['type'],
    allOf: perType,
  };
  base.title = 'idsync configuration (idsync.yaml)';
  delete base.$schema;
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...base };
}
