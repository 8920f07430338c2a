/**
 * Connector type `csv`: HR feeds and other exports as CSV files (full import only).
 */
import type { ConnectorFactory } from '../contract.js';
import { CsvConnector } from './connector.js';
import { type CsvSettings, csvSettings } from './settings.js';

export type { CsvSettings } from './settings.js';

export const csvConnectorFactory: ConnectorFactory<CsvSettings> = {
  type: 'csv',
  description: 'CSV files (an HR feed): a file or a folder of files, read in full each cycle',
  settings: csvSettings,
  create: (name, settings, context) => new CsvConnector(name, settings, context),
  // the files are local: their headers are the schema
  offlineSchema: (name, settings, context) => new CsvConnector(name, settings, context).schema(),
};
