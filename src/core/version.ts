/**
 * idsync's version: package.json's, the one source of truth (`idsync --version`, `status --json`, the SCIM
 * ServiceProviderConfig). Read at run time from beside src/ or dist/, both two levels below the package root.
 */
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
