// Writes schema/idsync.schema.json from the config's zod schemas (npm run schema).
import { writeFileSync } from 'node:fs';
import { idsyncJsonSchema } from '../src/config/json-schema.js';

writeFileSync(new URL('../schema/idsync.schema.json', import.meta.url), `${JSON.stringify(idsyncJsonSchema(), null, 2)}\n`);
