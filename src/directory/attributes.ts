/**
 * How the directory stores attributes, and how its flat names map to SCIM 2.0 (RFC 7643).
 *
 * Flows and rules use flat names; the SCIM server translates them to SCIM paths. Four attributes live in
 * their own columns (indexed, constrained); everything else is kept in the object's JSON blob in the value
 * model of core/values.ts, including attributes this table does not name.
 *
 * | flat name         | object | SCIM path                                                              | stored |
 * |-------------------|--------|------------------------------------------------------------------------|--------|
 * | userName          | user   | userName (required, unique, case-insensitive)                          | column |
 * | displayName       | both   | displayName (required for groups)                                      | column |
 * | externalId        | both   | externalId                                                             | column |
 * | active            | user   | active (boolean)                                                       | column |
 * | givenName         | user   | name.givenName                                                         | JSON   |
 * | familyName        | user   | name.familyName                                                        | JSON   |
 * | middleName        | user   | name.middleName                                                        | JSON   |
 * | formattedName     | user   | name.formatted                                                         | JSON   |
 * | honorificPrefix   | user   | name.honorificPrefix                                                   | JSON   |
 * | honorificSuffix   | user   | name.honorificSuffix                                                   | JSON   |
 * | nickName          | user   | nickName                                                               | JSON   |
 * | title             | user   | title                                                                  | JSON   |
 * | userType          | user   | userType                                                               | JSON   |
 * | preferredLanguage | user   | preferredLanguage                                                      | JSON   |
 * | locale            | user   | locale                                                                 | JSON   |
 * | timezone          | user   | timezone                                                               | JSON   |
 * | profileUrl        | user   | profileUrl                                                             | JSON   |
 * | email             | user   | emails[type eq "work"].value                                           | JSON   |
 * | phoneNumber       | user   | phoneNumbers[type eq "work"].value                                     | JSON   |
 * | mobile            | user   | phoneNumbers[type eq "mobile"].value                                   | JSON   |
 * | employeeNumber    | user   | urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber | JSON |
 * | costCenter        | user   | …enterprise:2.0:User:costCenter                                        | JSON   |
 * | organization      | user   | …enterprise:2.0:User:organization                                      | JSON   |
 * | division          | user   | …enterprise:2.0:User:division                                          | JSON   |
 * | department        | user   | …enterprise:2.0:User:department                                        | JSON   |
 * | manager           | user   | …enterprise:2.0:User:manager.value, a { ref: id }                      | JSON   |
 * | members           | group  | members[].value, each a { ref: id }                                    | table  |
 *
 * A user's `groups` (SCIM, read-only) is derived from the membership table: Directory.groupsOf(id).
 */
import type { AttributeSchema, ObjectTypeSchema } from '../connectors/contract.js';
import { type Attributes, isReference, type Value } from '../core/values.js';
import { DirectoryError } from './errors.js';

export type ObjectType = 'user' | 'group';

export const OBJECT_TYPES: readonly ObjectType[] = ['user', 'group'];

const text: AttributeSchema = { type: 'string', multiValued: false };

const USER_ATTRIBUTES: Record<string, AttributeSchema> = {
  userName: text,
  displayName: text,
  externalId: text,
  active: { type: 'boolean', multiValued: false },
  givenName: text,
  familyName: text,
  middleName: text,
  formattedName: text,
  honorificPrefix: text,
  honorificSuffix: text,
  nickName: text,
  title: text,
  userType: text,
  preferredLanguage: text,
  locale: text,
  timezone: text,
  profileUrl: text,
  email: text,
  phoneNumber: text,
  mobile: text,
  employeeNumber: text,
  costCenter: text,
  organization: text,
  division: text,
  department: text,
  manager: { type: 'reference', multiValued: false },
  /** write-only: a salted scrypt hash where the directory is the user's home, the clear value in a gateway */
  password: { type: 'string', multiValued: false, secret: true },
};

const GROUP_ATTRIBUTES: Record<string, AttributeSchema> = {
  displayName: text,
  externalId: text,
  members: { type: 'reference', multiValued: true },
};

/** The attributes the directory knows by name; others are accepted and kept as they come. */
export const DIRECTORY_SCHEMA: Record<ObjectType, ObjectTypeSchema> = {
  user: { attributes: USER_ATTRIBUTES },
  group: { attributes: GROUP_ATTRIBUTES },
};

/** The attributes stored in columns rather than in the JSON blob. */
export const COLUMN_ATTRIBUTES = new Set(['userName', 'displayName', 'externalId', 'active']);

/** userName uniqueness ignores case for every script, not only ASCII (SQLite's NOCASE folds ASCII only). */
export function userNameKey(userName: string): string {
  return userName.toLowerCase();
}

/**
 * The emailKey of an object with several `email` values (a rule may write more than one): look-ups read these
 * few objects besides the key's own, and compare every value.
 */
export const SEVERAL_EMAILS = '\u0000several';

/**
 * The case-folded keys SCIM looks objects up by without regard to case (RFC 7643: emails.value and a group's
 * displayName are caseExact false): a group's displayName, an object's (work) email. Folded for every script,
 * as userNameKey; the directory indexes them.
 */
export function lookupKeys(
  type: ObjectType,
  displayName: string | null,
  rest: Attributes,
): { displayNameKey: string | null; emailKey: string | null } {
  const emails = (rest.email ?? []).filter((v): v is string => typeof v === 'string');
  return {
    displayNameKey: type === 'group' && displayName !== null ? displayName.toLowerCase() : null,
    emailKey: emails.length === 0 ? null : emails.length === 1 ? emails[0]!.toLowerCase() : SEVERAL_EMAILS,
  };
}

/** An object's attributes split into what goes to columns, the membership table and the JSON blob. */
export interface SplitAttributes {
  userName: string | null;
  displayName: string | null;
  externalId: string | null;
  active: boolean | null;
  /** member ids; undefined when `members` was not given (groups only) */
  members: string[] | undefined;
  rest: Attributes;
}

export function splitAttributes(type: ObjectType, attributes: Attributes, anchor?: string): SplitAttributes {
  const out: SplitAttributes = {
    userName: null,
    displayName: null,
    externalId: null,
    active: null,
    members: undefined,
    rest: {},
  };
  for (const name in attributes) {
    const values = attributes[name]!;
    switch (name) {
      case 'userName':
        if (type !== 'user') throw notFor(type, name, anchor);
        out.userName = singleText(values, name, anchor);
        break;
      case 'displayName':
        out.displayName = singleText(values, name, anchor);
        break;
      case 'externalId':
        out.externalId = singleText(values, name, anchor);
        break;
      case 'active':
        if (type !== 'user') throw notFor(type, name, anchor);
        out.active = singleBoolean(values, anchor);
        break;
      case 'members':
        if (type !== 'group') throw notFor(type, name, anchor);
        out.members = memberIds(values, anchor);
        break;
      case 'id':
      case 'groups':
        throw new DirectoryError('DIRECTORY_INVALID_VALUE', `${name} is read-only`, {
          anchor,
          attribute: name,
        });
      default:
        if (values.length > 0) out.rest[name] = values;
    }
  }
  checkRequired(type, out, anchor);
  return out;
}

export function checkRequired(type: ObjectType, split: SplitAttributes, anchor?: string): void {
  if (type === 'user' && !split.userName) {
    throw new DirectoryError('DIRECTORY_INVALID_VALUE', 'a user needs a userName', {
      anchor,
      attribute: 'userName',
    });
  }
  if (type === 'group' && !split.displayName) {
    throw new DirectoryError('DIRECTORY_INVALID_VALUE', 'a group needs a displayName', {
      anchor,
      attribute: 'displayName',
    });
  }
}

export function singleText(values: readonly Value[], attribute: string, anchor?: string): string | null {
  if (values.length === 0) return null;
  if (values.length > 1) {
    throw new DirectoryError(
      'DIRECTORY_INVALID_VALUE',
      `${attribute} takes one value, got ${values.length}`,
      {
        anchor,
        attribute,
      },
    );
  }
  const value = values[0];
  // Numbers are accepted because feeds often type ids as numbers; the column keeps their text.
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') {
    throw new DirectoryError('DIRECTORY_INVALID_VALUE', `${attribute} must be a string`, {
      anchor,
      attribute,
    });
  }
  if (value.length === 0) return null;
  return value;
}

export function singleBoolean(values: readonly Value[], anchor?: string): boolean | null {
  if (values.length === 0) return null;
  const value = values[0];
  if (values.length === 1) {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'True' || value === 'TRUE') return true;
    if (value === 'false' || value === 'False' || value === 'FALSE') return false;
  }
  throw new DirectoryError('DIRECTORY_INVALID_VALUE', 'active takes one boolean value', {
    anchor,
    attribute: 'active',
  });
}

export function memberIds(values: readonly Value[], anchor?: string): string[] {
  const ids: string[] = [];
  for (const value of values) {
    if (!isReference(value)) {
      throw new DirectoryError('DIRECTORY_INVALID_VALUE', 'members must be references ({ ref: id })', {
        anchor,
        attribute: 'members',
      });
    }
    ids.push(value.ref);
  }
  return ids;
}

function notFor(type: ObjectType, attribute: string, anchor?: string): DirectoryError {
  return new DirectoryError('DIRECTORY_INVALID_VALUE', `a ${type} has no ${attribute}`, {
    anchor,
    attribute,
  });
}
