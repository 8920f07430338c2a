/**
 * What every part of the connector shares: settings, connections (with failover), the root DSE, the schema,
 * and the error conventions.
 */
import { ConnectorError } from '../../core/errors.js';
import type { ConnectorLogger } from '../contract.js';
import type { TypeCase } from './dn.js';
import {
  LdapConnection,
  LdapConnectionError,
  LdapResultError,
  resultCodeName,
} from './protocol/connection.js';
import { PresenceFilter } from 'ldapts';
import { DirectorySchema } from './schema.js';
import type { ResolvedSettings } from './settings.js';

export interface RootDse {
  namingContexts: string[];
  supportedControls: Set<string>;
  subschemaSubentry?: string;
  /** AD: the naming context the server holds by default */
  defaultNamingContext?: string;
  highestCommittedUSN?: string;
  currentTime?: string;
  vendorName?: string;
}

const RETRYABLE_RESULT_CODES = new Set([3, 51, 52, 80]);

export class Directory {
  readonly typeCase: TypeCase;
  private rootDsePromise: Promise<RootDse> | undefined;
  private schemaPromise: Promise<DirectorySchema> | undefined;

  constructor(
    readonly connectorName: string,
    readonly settings: ResolvedSettings,
    readonly log: ConnectorLogger,
  ) {
    this.typeCase = settings.flavor === 'ad' ? 'upper' : 'lower';
  }

  get isAd(): boolean {
    return this.settings.flavor === 'ad';
  }

  /** A new bound connection to the first server that answers. */
  async open(): Promise<LdapConnection> {
    const problems: string[] = [];
    for (const url of this.settings.urls) {
      let connection: LdapConnection | undefined;
      try {
        connection = await LdapConnection.open({
          url,
          tls: {
            ca: this.settings.caPem,
            pinSha256: this.settings.tls.pinSha256,
            rejectUnauthorized: this.settings.tls.rejectUnauthorized,
            startTls: this.settings.tls.startTls,
            serverName: this.settings.tls.serverName,
          },
          connectTimeoutMs: this.settings.timeouts.connectMs,
          operationTimeoutMs: this.settings.timeouts.operationMs,
        });
        if (this.settings.bindDN) await connection.bind(this.settings.bindDN, this.settings.password);
        return connection;
      } catch (err) {
        await connection?.close();
        if (
          err instanceof LdapResultError &&
          (err.resultCode === 49 || err.resultCode === 48 || err.resultCode === 50)
        ) {
          // the credentials are wrong everywhere: another server will not accept them either
          throw new ConnectorError(
            'LDAP_BIND_FAILED',
            `bind as ${this.settings.bindDN} to ${url} refused: ${err.message}`,
            { connector: this.connectorName },
            false,
            { cause: err, remoteCode: err.resultCode, connection: true },
          );
        }
        problems.push(`${url}: ${(err as Error).message}`);
        this.log.warn('LDAP server not reachable, trying the next', { url, error: (err as Error).message });
      }
    }
    throw new ConnectorError(
      'LDAP_CONNECT_FAILED',
      `no LDAP server answered: ${problems.join('; ')}`,
      { connector: this.connectorName },
      true,
      { connection: true },
    );
  }

  async rootDse(connection?: LdapConnection): Promise<RootDse> {
    this.rootDsePromise ??= this.readRootDse(connection).catch((err) => {
      this.rootDsePromise = undefined;
      throw err;
    });
    return this.rootDsePromise;
  }

  private async readRootDse(given?: LdapConnection): Promise<RootDse> {
    const connection = given ?? (await this.open());
    try {
      const [entry] = await connection.searchAll({
        baseDN: '',
        scope: 'base',
        filter: new PresenceFilter({ attribute: 'objectClass' }),
        attributes: [
          'namingContexts',
          'supportedControl',
          'subschemaSubentry',
          'defaultNamingContext',
          'vendorName',
        ],
      });
      const get = (name: string) =>
        (entry?.attributes.find((a) => a.type.toLowerCase() === name.toLowerCase())?.values ?? []).map(
          String,
        );
      return {
        namingContexts: get('namingContexts'),
        supportedControls: new Set(get('supportedControl')),
        subschemaSubentry: get('subschemaSubentry')[0],
        defaultNamingContext: get('defaultNamingContext')[0],
        vendorName: get('vendorName')[0],
      };
    } finally {
      if (!given) await connection.close();
    }
  }

  /** Root DSE values that change (read each time). */
  async rootDseValues(
    connection: LdapConnection,
    attributes: string[],
  ): Promise<Record<string, string | undefined>> {
    const [entry] = await connection.searchAll({
      baseDN: '',
      scope: 'base',
      filter: new PresenceFilter({ attribute: 'objectClass' }),
      attributes,
    });
    const out: Record<string, string | undefined> = {};
    for (const name of attributes) {
      out[name] = entry?.attributes
        .find((a) => a.type.toLowerCase() === name.toLowerCase())
        ?.values[0]?.toString();
    }
    return out;
  }

  async schema(connection?: LdapConnection): Promise<DirectorySchema> {
    this.schemaPromise ??= this.readSchema(connection).catch((err) => {
      this.schemaPromise = undefined;
      throw err;
    });
    return this.schemaPromise;
  }

  private async readSchema(given?: LdapConnection): Promise<DirectorySchema> {
    const overrides = {
      binary: this.settings.binaryAttributes,
      reference: this.settings.referenceAttributes,
    };
    const connection = given ?? (await this.open());
    try {
      const root = await this.rootDse(connection);
      if (!root.subschemaSubentry) return new DirectorySchema([], [], overrides);
      const [entry] = await connection.searchAll({
        baseDN: root.subschemaSubentry,
        scope: 'base',
        filter: new PresenceFilter({ attribute: 'objectClass' }),
        attributes: ['attributeTypes', 'objectClasses'],
      });
      const get = (name: string) =>
        (entry?.attributes.find((a) => a.type.toLowerCase() === name.toLowerCase())?.values ?? []).map(
          String,
        );
      return new DirectorySchema(get('attributeTypes'), get('objectClasses'), overrides);
    } catch (err) {
      if (err instanceof LdapResultError) {
        this.log.warn('the server schema cannot be read; typing attributes from the configuration', {
          error: err.message,
        });
        return new DirectorySchema([], [], overrides);
      }
      throw err;
    } finally {
      if (!given) await connection.close();
    }
  }

  /** Turns what an LDAP operation threw into a ConnectorError that names the place. */
  error(err: unknown, what: string, place: { anchor?: string; attribute?: string } = {}): ConnectorError {
    if (err instanceof ConnectorError) return err;
    const where = { connector: this.connectorName, ...place };
    if (err instanceof LdapResultError) {
      return new ConnectorError(
        `LDAP_${snake(resultCodeName(err.resultCode))}`,
        `${what}: ${err.message}`,
        where,
        RETRYABLE_RESULT_CODES.has(err.resultCode),
        { cause: err, remoteCode: err.resultCode },
      );
    }
    if (err instanceof LdapConnectionError) {
      return new ConnectorError('LDAP_CONNECTION_LOST', `${what}: ${err.message}`, where, true, {
        cause: err,
        connection: true,
      });
    }
    return new ConnectorError(
      'LDAP_ERROR',
      `${what}: ${(err as Error)?.message ?? String(err)}`,
      where,
      false,
      {
        cause: err,
      },
    );
  }
}

/** constraintViolation → CONSTRAINT_VIOLATION */
export function snake(name: string): string {
  return name
    .replace(/^e-/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();
}
