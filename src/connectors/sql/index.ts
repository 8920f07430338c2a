/**
 * The `sql` connector: PostgreSQL, MariaDB/MySQL and SQLite tables, views or queries as sources and targets.
 * See docs/connectors/sql.md.
 */
import type { ConnectorFactory } from '../contract.js';
import { createSqlConnector } from './connector.js';
import { type SqlSettings, sqlSettingsSchema } from './settings.js';

export const sqlConnectorFactory: ConnectorFactory<SqlSettings> = {
  type: 'sql',
  description:
    'SQL tables, views or queries (PostgreSQL, MariaDB/MySQL, SQLite), with watermark or change-log delta import',
  settings: sqlSettingsSchema,
  create: createSqlConnector,
};

export { triggerDdl } from './triggers.js';
export type { SqlSettings } from './settings.js';
