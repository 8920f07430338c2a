/**
 * The settings of an `ldap` connector and the defaults each flavor brings.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

/**
 * A container DN. A DN written in a YAML flow list without quotes ([ou=a,dc=x]) is split at its commas into
 * pieces like "dc=x" that are still DNs: a piece without a comma next to other pieces is the usual sign, so
 * a container must hold the base's components too, i.e. contain a comma.
 */
const container = z
  .string()
  .min(1)
  .refine((dn) => dn.includes(','), {
    message: 'a container is a full DN such as "ou=people,dc=example,dc=test"; in a YAML [list] put each DN in quotes',
  });

const objectTypeSettings = z.object({
  /** an entry is of this type when it has all these object classes (and none of the excluded ones) */
  objectClasses: z.array(z.string().min(1)).min(1),
  excludeObjectClasses: z.array(z.string().min(1)).default([]),
  /** the attributes to read; empty: every user attribute */
  attributes: z.array(z.string().min(1)).default([]),
  /** the naming attribute of new entries, when the engine gives no DN */
  rdnAttribute: z.string().optional(),
  /** where new entries go, when the engine gives no DN */
  container: z.string().optional(),
});

export const ldapSettings = z
  .object({
    /** tried in order: the first that accepts a connection and the bind is used */
    urls: z
      .array(z.string().regex(/^ldaps?:\/\/[^/]+\/?$/i, 'an ldap:// or ldaps:// URL without a path'))
      .min(1),
    bindDN: z.string(),
    password: z.string(),
    tls: z
      .object({
        /** PEM text, or the path of a PEM file (relative to the config file) */
        ca: z.string().optional(),
        /** SHA-256 fingerprint of the server certificate, hex with or without colons */
        pinSha256: z
          .string()
          .regex(/^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$/, 'a SHA-256 fingerprint in hex')
          .optional(),
        rejectUnauthorized: z.boolean().default(true),
        startTls: z.boolean().default(false),
        /** the name the certificate must carry, when the URL names the server otherwise (an IP address) */
        serverName: z.string().optional(),
      })
      .default({ rejectUnauthorized: true, startTls: false }),
    flavor: z.enum(['openldap', 'ad', 'generic']).default('generic'),
    baseDN: z.string().min(1),
    /** read only below these containers (subtrees); empty: all of baseDN */
    includeContainers: z.array(container).default([]),
    excludeContainers: z.array(container).default([]),
    objectTypes: z.record(z.string(), objectTypeSettings).optional(),
    /** default: entryUUID (openldap, generic), objectGUID (ad) */
    anchorAttribute: z.string().optional(),
    /** the largest LDAP page asked for, whatever the engine's page size (AD's MaxPageSize is 1000) */
    pageSize: z.number().int().positive().max(100_000).default(1000),
    timeouts: z
      .object({
        connectMs: z.number().int().positive().default(10_000),
        operationMs: z.number().int().nonnegative().default(120_000),
      })
      .default({ connectMs: 10_000, operationMs: 120_000 }),
    /** export operations in flight at once */
    maxConcurrency: z.number().int().positive().max(64).default(4),
    delta: z
      .enum(['auto', 'syncrepl', 'accesslog', 'modifyTimestamp', 'dirsync', 'usnchanged'])
      .default('auto'),
    /** the accesslog database's suffix */
    accesslogBase: z.string().default('cn=accesslog'),
    /** how often watch() polls where the server does not push (DirSync, uSNChanged, contextCSN) */
    watchIntervalMs: z.number().int().positive().default(1000),
    createMissingContainers: z.boolean().default(false),
    /** extra attributes to treat as binary or as DN references, when the server's schema cannot be read */
    binaryAttributes: z.array(z.string()).default([]),
    referenceAttributes: z.array(z.string()).default([]),
    ad: z
      .object({
        /** write objectGUID into ms-DS-ConsistencyGuid on objects that have none (Entra Connect's source anchor) */
        consistencyGuidWriteback: z.boolean().default(false),
      })
      .default({ consistencyGuidWriteback: false }),
  })
  .strict();

export type LdapSettings = z.infer<typeof ldapSettings>;
export type ObjectTypeSettings = z.infer<typeof objectTypeSettings>;

const OPENLDAP_TYPES: Record<string, ObjectTypeSettings> = {
  user: {
    objectClasses: ['inetOrgPerson'],
    excludeObjectClasses: [],
    attributes: [
      'uid',
      'cn',
      'sn',
      'givenName',
      'displayName',
      'mail',
      'telephoneNumber',
      'mobile',
      'title',
      'departmentNumber',
      'employeeNumber',
      'employeeType',
      'manager',
      'ou',
      'memberOf',
    ],
    rdnAttribute: 'uid',
  },
  group: {
    objectClasses: ['groupOfNames'],
    excludeObjectClasses: [],
    attributes: ['cn', 'description', 'member', 'owner'],
    rdnAttribute: 'cn',
  },
};

const AD_TYPES: Record<string, ObjectTypeSettings> = {
  user: {
    objectClasses: ['user'],
    excludeObjectClasses: ['computer'],
    attributes: [
      'cn',
      'sAMAccountName',
      'userPrincipalName',
      'displayName',
      'givenName',
      'sn',
      'mail',
      'proxyAddresses',
      'telephoneNumber',
      'title',
      'department',
      'company',
      'employeeID',
      'manager',
      'userAccountControl',
      'objectSid',
      'ms-DS-ConsistencyGuid',
      'memberOf',
    ],
    rdnAttribute: 'cn',
  },
  group: {
    objectClasses: ['group'],
    excludeObjectClasses: [],
    attributes: [
      'cn',
      'sAMAccountName',
      'description',
      'mail',
      'proxyAddresses',
      'groupType',
      'member',
      'objectSid',
      'managedBy',
    ],
    rdnAttribute: 'cn',
  },
};

/** Settings with the flavor's defaults filled in and files read: what the connector works with. */
export interface ResolvedSettings extends LdapSettings {
  objectTypes: Record<string, ObjectTypeSettings>;
  anchorAttribute: string;
  caPem?: string;
}

export function resolveSettings(settings: LdapSettings, configDir: string): ResolvedSettings {
  const isAd = settings.flavor === 'ad';
  const objectTypes = settings.objectTypes ?? (isAd ? AD_TYPES : OPENLDAP_TYPES);
  let caPem: string | undefined;
  const ca = settings.tls.ca;
  if (ca) {
    caPem = ca.includes('-----BEGIN')
      ? ca
      : readFileSync(isAbsolute(ca) ? ca : resolve(configDir, ca), 'utf8');
  }
  return {
    ...settings,
    objectTypes,
    anchorAttribute: settings.anchorAttribute ?? (isAd ? 'objectGUID' : 'entryUUID'),
    caPem,
  };
}
