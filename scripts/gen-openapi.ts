// Writes docs/openapi.json from the admin API's route list (npm run openapi).
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../src/api/openapi.js';

writeFileSync(new URL('../docs/openapi.json', import.meta.url), `${JSON.stringify(openApiDocument(), null, 2)}\n`);
