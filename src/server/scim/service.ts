/**
 * The SCIM resource operations (RFC 7644 §3) over one built-in directory, without HTTP: routes parse the
 * request, call one method, and serialise what it returns. Every failure is a ScimError.
 *
 * Writes are synchronous on the directory, so a read-modify-write (PATCH) cannot interleave with another
 * request's: concurrent PATCHes to one group lose nothing. Member changes go to the directory's membership
 * table one row each; a large group is never read or rewritten to add or remove a member.
 */

import type { AttributeChange } from '../../connectors/contract.js';
import type { Attributes } from '../../core/values.js';
import { hashPassword, hashPasswordSync, isPasswordHash } from '../../directory/password.js';
import {
  type Directory,
  DirectoryError,
  type DirectoryObject,
  type ObjectType,
} from '../../directory/index.js';
import { badRequest, ScimError } from '../../scim/errors.js';
import { LIST_RESPONSE_SCHEMA } from '../../scim/messages.js';
import type { ResourceSchema, SchemaSet } from '../../scim/schemas.js';
import {
  applyPatch,
  compileFilter,
  type Filter,
  type IndexLookup,
  parsePatchRequest,
  prepareBody,
  projectResource,
  sortResources,
  sortsByLastModified,
  splitMemberOperations,
  wantsAttribute,
} from './protocol.js';
import { etag, type GroupRef, type ResourceMapper, type ScimResource } from './resources.js';

export type Kind = 'Users' | 'Groups';

export interface Projection {
  attributes?: string[] | undefined;
  excludedAttributes?: string[] | undefined;
}

export interface QueryParams extends Projection {
  filter?: string | undefined;
  sortBy?: string | undefined;
  sortOrder?: 'ascending' | 'descending' | undefined;
  startIndex?: number | undefined;
  count?: number | undefined;
}

/** A resource and its version, for the ETag header. */
export interface Written {
  resource: ScimResource;
  version: number;
  id: string;
}

/** What happened after a write reached the directory: the gateway waits for the targets here. */
export type AfterWrite = (write: {
  kind: Kind;
  id: string;
  op: 'create' | 'replace' | 'patch' | 'delete';
}) => Promise<void>;

/**
 * How a caller that writes many objects at once (a Bulk request) takes the wait of each write: handed the
 * promise of AfterWrite instead of awaiting it, it lets the writes that follow go into the same engine
 * cycles, and reads each write's outcome at the end.
 */
export type DeferAfterWrite = (wait: Promise<void>) => void;

export interface ScimServiceOptions {
  directory: Directory;
  schemas: SchemaSet;
  mapper: ResourceMapper;
  /** the most resources one query returns */
  maxResults: number;
  afterWrite?: AfterWrite;
  /**
   * 'hash' (the default): the directory is the user's home, so a password is stored as a salted scrypt
   * hash. 'clear': a gateway, whose rules must carry the clear value to a target (see docs/scim.md).
   */
  passwords?: 'hash' | 'clear';
}

const SCAN_PAGE = 1000;

export class ScimService {
  readonly directory: Directory;
  readonly schemas: SchemaSet;
  private readonly mapper: ResourceMapper;
  readonly maxResults: number;
  private readonly afterWrite: AfterWrite | undefined;
  private readonly hashPasswords: boolean;
  private queue: {
    fn: () => unknown;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }[] = [];

  constructor(options: ScimServiceOptions) {
    this.directory = options.directory;
    this.schemas = options.schemas;
    this.mapper = options.mapper;
    this.maxResults = options.maxResults;
    this.afterWrite = options.afterWrite;
    this.hashPasswords = (options.passwords ?? 'hash') === 'hash';
  }

  schemaOf(kind: Kind): ResourceSchema {
    return this.schemas.resource(kind === 'Users' ? 'User' : 'Group');
  }

  // ---- reads ----------------------------------------------------------------------------------------------

  /** The object as it is now (404 when missing or of the other type). */
  find(kind: Kind, id: string, members = true): DirectoryObject {
    const object = this.directory.get(id, { members });
    if (!object || object.type !== typeOf(kind))
      throw new ScimError(404, undefined, `${kind} ${id} not found`);
    return object;
  }

  get(kind: Kind, id: string, base: string, projection: Projection = {}): Written {
    const schema = this.schemaOf(kind);
    const object = this.find(kind, id, kind === 'Groups' && wantsAttribute(schema, projection, 'members'));
    return {
      id,
      version: object.version,
      resource: projectResource(this.toResource(object, base, projection), schema, projection),
    };
  }

  query(kind: Kind, params: QueryParams, base: string): ScimResource {
    const schema = this.schemaOf(kind);
    const type = typeOf(kind);
    const startIndex = Math.max(1, params.startIndex ?? 1);
    const count = Math.min(Math.max(0, params.count ?? this.maxResults), this.maxResults);
    const filter =
      params.filter !== undefined && params.filter.trim() !== ''
        ? compileFilter(params.filter, schema)
        : undefined;
    // A group's members and a user's groups cost a query each: read them while filtering only when the
    // filter needs them, and for the answer only for the page returned.
    const answerMembers = kind === 'Groups' && wantsAttribute(schema, params, 'members');
    const answerGroups = kind === 'Users' && wantsAttribute(schema, params, 'groups');
    const filterMembers = kind === 'Groups' && Boolean(filter?.mentions('members'));
    const filterGroups = kind === 'Users' && Boolean(filter?.mentions('groups'));

    let total: number;
    let page: ScimResource[];
    // (sorted by meta.lastModified without a filter: the whole index, in its order)
    const range =
      filter?.modifiedSince ??
      (!filter && params.sortBy && sortsByLastModified(params.sortBy) ? { from: '', exclusive: false } : undefined);
    if (range && (!params.sortBy || sortsByLastModified(params.sortBy))) {
      // a delta reader's `meta.lastModified gt "…"`: a range of the index, counted and paged there
      const modified = { type, ...range };
      total = this.directory.countModified(modified);
      page = this.directory
        .listModified(
          modified,
          { offset: startIndex - 1, limit: count, descending: params.sortOrder === 'descending' },
          { members: answerMembers },
        )
        .map((o) => this.toResource(o, base, params, answerGroups));
    } else if (!filter && !params.sortBy) {
      // the common "list everything, page by page" needs neither a scan nor a sort
      total = type === 'user' ? this.directory.counts().users : this.directory.counts().groups;
      page = this.slice(type, startIndex - 1, count, answerMembers).map((o) =>
        this.toResource(o, base, params, answerGroups),
      );
    } else {
      // index candidates are few: read them whole at once; a scan reads what the filter needs, then the page
      // users' displayNames have no index (each look-up reads the column of every user): one is cheaper than
      // a scan, several are not
      const plan =
        type === 'user' && (filter?.plan?.filter((l) => l.attribute === 'displayName').length ?? 0) > 1
          ? undefined
          : filter?.plan;
      const candidates = plan ? this.lookUp(plan, type, filterMembers || answerMembers) : undefined;
      const whole = candidates !== undefined;
      const matched: { object: DirectoryObject; resource: ScimResource }[] = [];
      const consider = (object: DirectoryObject) => {
        const resource = this.toResource(object, base, params, filterGroups || (whole && answerGroups));
        if (!filter || filter.matches(resource)) matched.push({ object, resource });
      };
      if (candidates) candidates.forEach(consider);
      else this.scan(type, filterMembers, consider);
      const sorted = params.sortBy
        ? sortResources(
            matched.map((m) => m.resource),
            params.sortBy,
            params.sortOrder ?? 'ascending',
            schema,
          )
        : matched.map((m) => m.resource);
      total = sorted.length;
      const objects = new Map(matched.map((m) => [m.resource, m.object]));
      page = sorted.slice(startIndex - 1, startIndex - 1 + count).map((resource) => {
        const object = objects.get(resource)!;
        if (whole) return resource;
        if (answerMembers && !filterMembers) {
          const full = this.directory.get(object.id, { members: true });
          return full ? this.toResource(full, base, params, false) : resource;
        }
        return answerGroups && !filterGroups ? this.toResource(object, base, params, true) : resource;
      });
    }
    return {
      schemas: [LIST_RESPONSE_SCHEMA],
      totalResults: total,
      itemsPerPage: page.length,
      startIndex,
      Resources: page.map((r) => projectResource(r, schema, params)),
    };
  }

  /**
   * The union of the plan's index look-ups, each object once, folded where SCIM ignores case (the filter then
   * decides), in id order as a scan would give them.
   */
  private lookUp(plan: readonly IndexLookup[], type: ObjectType, members: boolean): DirectoryObject[] {
    const found = new Map<string, DirectoryObject>();
    for (const { attribute, value } of plan) {
      for (const object of this.directory.findFolded(attribute, value, type, { members })) {
        if (!found.has(object.id)) found.set(object.id, object);
      }
    }
    return [...found.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private slice(type: ObjectType, skip: number, count: number, members: boolean): DirectoryObject[] {
    if (count === 0) return [];
    // the page starts after the object just before the offset; ids are in creation order
    const afterId = skip > 0 ? this.directory.idAt(type, skip - 1) : '';
    if (afterId === undefined) return [];
    return this.directory.list({ type, afterId, limit: count, members });
  }

  private scan(type: ObjectType, members: boolean, fn: (object: DirectoryObject) => void): void {
    let afterId = '';
    for (;;) {
      const objects = this.directory.list({ type, afterId, limit: SCAN_PAGE, members });
      objects.forEach(fn);
      if (objects.length < SCAN_PAGE) return;
      afterId = objects[objects.length - 1]!.id;
    }
  }

  private toResource(
    object: DirectoryObject,
    base: string,
    projection: Projection,
    withGroups?: boolean,
  ): ScimResource {
    const groups =
      object.type === 'user' && (withGroups ?? wantsAttribute(this.schemaOf('Users'), projection, 'groups'))
        ? this.groupsOf(object.id)
        : undefined;
    // the members as read (their ids), told with their types and names in one more query
    const members =
      object.type === 'group' && (object.attributes.members?.length ?? 0) > 0
        ? this.directory.memberSummaries(object.id)
        : undefined;
    return this.mapper.toResource(object, base, groups, members);
  }

  private groupsOf(id: string): GroupRef[] {
    return this.directory.groupsOf(id).map((gid) => {
      const display = this.directory.get(gid, { members: false })?.attributes.displayName?.[0];
      return { value: gid, ...(typeof display === 'string' && { display }) };
    });
  }

  // ---- writes ---------------------------------------------------------------------------------------------

  async create(kind: Kind, body: unknown, base: string, defer?: DeferAfterWrite): Promise<Written> {
    const resource = prepareBody(body, this.schemaOf(kind));
    const attributes = await this.protectPassword(this.mapper.toAttributes(typeOf(kind), resource));
    this.checkReferences(undefined, attributes);
    const written = await this.commit(() => {
      this.checkGroupName(typeOf(kind), undefined, attributes);
      return this.directory.create(typeOf(kind), attributes);
    });
    await this.carry({ kind, id: written.id, op: 'create' }, defer);
    return this.reread(kind, written.id, base);
  }

  async replace(
    kind: Kind,
    id: string,
    body: unknown,
    base: string,
    ifVersion?: number,
    defer?: DeferAfterWrite,
  ): Promise<Written> {
    // Checked and hashed first (the hash off the event loop), then read and written again in one step: PUTs
    // without If-Match arriving together are applied one after the other, none refused for a version another
    // one made meanwhile; with If-Match, the version is compared at the write.
    const first = this.replacement(kind, id, body, base);
    checkVersion(first.current, ifVersion);
    const hashed = await this.hashesFor(first.attributes.password ?? []);
    await this.commit(() => {
      const { current, attributes } = this.replacement(kind, id, body, base);
      checkVersion(current, ifVersion);
      const type = typeOf(kind);
      const protectedAttributes = this.withHashedPassword(attributes, hashed);
      this.checkGroupName(type, id, protectedAttributes);
      return this.directory.update(
        id,
        this.changesFor(type, protectedAttributes, { members: type === 'group' }),
        { ifVersion: current.version },
      );
    });
    await this.carry({ kind, id, op: 'replace' }, defer);
    return this.reread(kind, id, base);
  }

  /** What a PUT body makes of the resource as it is now, checked; the password still clear. */
  private replacement(
    kind: Kind,
    id: string,
    body: unknown,
    base: string,
  ): { current: DirectoryObject; attributes: Attributes } {
    const type = typeOf(kind);
    const current = this.find(kind, id, false);
    const resource = prepareBody(body, this.schemaOf(kind), this.mapper.toResource(current, base));
    const attributes = this.mapper.toAttributes(type, resource);
    this.checkReferences(id, attributes);
    const userName = resource.userName ?? findKey(resource, 'username');
    if (type === 'user' && (userName === undefined || userName === null))
      throw badRequest('invalidValue', 'userName is required');
    if (type === 'group' && !attributes.displayName)
      throw badRequest('invalidValue', 'displayName is required');
    return { current, attributes };
  }

  /**
   * RFC 7644 §3.5.2. Member operations on a group go to the membership table; the other operations are
   * applied to the resource without its members and saved as attribute changes.
   */
  async patch(
    kind: Kind,
    id: string,
    body: unknown,
    base: string,
    ifVersion?: number,
    /** read the members back for the answer (false: a group's answer leaves them out, as 204 needs none) */
    options: { members?: boolean; defer?: DeferAfterWrite } = {},
  ): Promise<Written> {
    const operations = parsePatchRequest(body);
    const schema = this.schemaOf(kind);
    const type = typeOf(kind);
    // The hash is made before the write, off the event loop; the write itself is synchronous. A password is
    // single-valued: of several operations setting it, the last one's value is the one kept, and the only
    // one hashed (a hundred of them cost a hundred scrypt hashes, seconds of CPU).
    const hashed = await this.hashesFor(passwordsInPatch(operations).slice(-1));
    const changed = await this.commit(() => {
      const current = this.find(kind, id, false);
      checkVersion(current, ifVersion);
      let changed = false;
      let rest = operations;
      let withMembers = false;
      if (type === 'group') {
        const members = splitMemberOperations(operations);
        if (!members) {
          // a member operation that needs the members themselves (members[display eq "x"]): the slow way
          withMembers = true;
        } else {
          rest = members.operations;
          const refs = (ids: string[]) => ids.map((ref) => ({ ref }));
          if (members.replace)
            changed =
              this.directory.update(id, { members: { replace: refs(members.replace) } }).changed || changed;
          if (members.remove.length > 0)
            changed = this.directory.removeMembers(id, members.remove).changed || changed;
          if (members.add.length > 0) changed = this.directory.addMembers(id, members.add).changed || changed;
        }
      }
      if (rest.length > 0) {
        // a member filter may name a member's display or type: they are read with the members
        const resource = withMembers
          ? this.mapper.toResource(this.find(kind, id, true), base, undefined, this.directory.memberSummaries(id))
          : this.mapper.toResource(current, base);
        const result = applyPatch(resource, rest, schema, { replaceAddsMissingElement: true });
        if (result.changed) {
          const attributes = this.withHashedPassword(this.mapper.toAttributes(type, result.resource), hashed);
          this.checkReferences(id, attributes);
          this.checkGroupName(type, id, attributes);
          changed =
            this.directory.update(id, this.changesFor(type, attributes, { members: withMembers })).changed ||
            changed;
        }
      }
      return changed;
    });
    if (changed) await this.carry({ kind, id, op: 'patch' }, options.defer);
    return this.reread(kind, id, base, options.members ?? true);
  }

  async delete(kind: Kind, id: string, ifVersion?: number, defer?: DeferAfterWrite): Promise<void> {
    await this.commit(() => {
      checkVersion(this.find(kind, id, false), ifVersion);
      this.directory.delete(id);
    });
    await this.carry({ kind, id, op: 'delete' }, defer);
  }

  /** The gateway's wait for the targets after a write: awaited here, or handed to `defer`. */
  private async carry(write: Parameters<AfterWrite>[0], defer: DeferAfterWrite | undefined): Promise<void> {
    if (!this.afterWrite) return;
    const wait = this.afterWrite(write);
    if (defer) defer(wait);
    else await wait;
  }

  // ---- passwords ----------------------------------------------------------------------------------------

  /** The attributes with the password replaced by its hash, unless this endpoint keeps it clear (a gateway). */
  private async protectPassword(attributes: Attributes): Promise<Attributes> {
    return this.withHashedPassword(attributes, await this.hashesFor(attributes.password ?? []));
  }

  private async hashesFor(values: readonly unknown[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!this.hashPasswords) return out;
    for (const v of values)
      if (typeof v === 'string' && !isPasswordHash(v) && !out.has(v)) out.set(v, await hashPassword(v));
    return out;
  }

  private withHashedPassword(attributes: Attributes, hashed: Map<string, string>): Attributes {
    const clear = attributes.password;
    if (!this.hashPasswords || !clear) return attributes;
    // A shape of PATCH the scan did not foresee still never stores the clear value: hashed here, blocking once.
    const password = clear.map((v) =>
      typeof v !== 'string' || isPasswordHash(v) ? v : (hashed.get(v) ?? hashPasswordSync(v)),
    );
    return { ...attributes, password };
  }

  /**
   * Passwords a directory holds in clear from before this endpoint hashed them (or from its gateway days):
   * each replaced by its hash. Returns how many. Runs beside the server; the directory stays writable.
   */
  async hashStoredPasswords(signal?: AbortSignal): Promise<number> {
    if (!this.hashPasswords) return 0;
    let count = 0;
    for (const { id, password } of this.directory.clearPasswords()) {
      if (signal?.aborted) break;
      const hash = await hashPassword(password);
      // Only if it still holds that value: a client may have written a new password meanwhile.
      const done = await this.commit(() => {
        const now = this.directory.get(id, { members: false })?.attributes.password?.[0];
        return now === password && this.directory.update(id, { password: { replace: [hash] } }).changed;
      });
      if (done) count++;
    }
    return count;
  }

  /**
   * Runs a write together with the others that arrive in the same turn of the event loop: one transaction
   * (one commit, the costly part of a small write) for the lot, each write in its own savepoint so that one
   * failing undoes only itself. Under concurrent load this is what lets creates outrun the disk.
   */
  private commit<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    const outcomes: { ok: boolean; value?: unknown; error?: unknown }[] = [];
    try {
      this.directory.transaction(() => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: this.directory.transaction(item.fn) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // the commit itself failed (disk full, file locked too long): nothing of the batch was written
      for (const item of batch) item.reject(toScimError(error));
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(toScimError(outcome.error));
    });
  }

  /**
   * The changes that make the object hold `attributes` for every attribute SCIM manages; attributes that
   * rules flowed in under other names are left alone. A missing password keeps the stored one (it is never
   * returned, so a client's PUT or PATCH cannot repeat it).
   */
  private changesFor(
    type: ObjectType,
    attributes: Attributes,
    options: { members: boolean },
  ): Record<string, AttributeChange> {
    const changes: Record<string, AttributeChange> = {};
    for (const name of this.mapper.managedNames(type)) {
      if (name === 'members' && !options.members) continue;
      if (name === 'password' && attributes.password === undefined) continue;
      changes[name] = { replace: attributes[name] ?? [] };
    }
    for (const name of Object.keys(attributes))
      if (!(name in changes) && (name !== 'members' || options.members))
        changes[name] = { replace: attributes[name]! };
    return changes;
  }

  /**
   * Group names are unique (Entra matches groups by displayName and needs one answer); the index compares
   * exactly, so names differing only in case are told apart.
   */
  private checkGroupName(type: ObjectType, id: string | undefined, attributes: Attributes): void {
    const name = attributes.displayName?.[0];
    if (type !== 'group' || typeof name !== 'string') return;
    const holder = this.directory
      .findBy('displayName', name, 'group', { members: false })
      .find((g) => g.id !== id);
    if (holder)
      throw new ScimError(409, 'uniqueness', `a group named ${JSON.stringify(name)} exists (${holder.id})`);
  }

  /**
   * A user cannot be their own manager. A manager id that names no user yet is accepted, as clients send it
   * (a client may provision the manager later); the engine holds such a reference until its object exists.
   */
  private checkReferences(id: string | undefined, attributes: Attributes): void {
    const manager = attributes.manager?.[0];
    if (manager === undefined || id === undefined) return;
    const ref = typeof manager === 'object' && 'ref' in manager ? manager.ref : String(manager);
    if (ref === id) throw badRequest('invalidValue', 'a user cannot be their own manager');
  }

  private reread(kind: Kind, id: string, base: string, members = true): Written {
    const object = this.directory.get(id, { members });
    // deleted in the meantime (a gateway rollback, another client): say so rather than answer with nothing
    if (!object) throw new ScimError(404, undefined, `${kind} ${id} not found`);
    return { id, version: object.version, resource: this.toResource(object, base, {}) };
  }
}

function typeOf(kind: Kind): ObjectType {
  return kind === 'Users' ? 'user' : 'group';
}

function findKey(object: Record<string, unknown>, lower: string): unknown {
  const key = Object.keys(object).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : object[key];
}

function checkVersion(object: DirectoryObject, ifVersion: number | undefined): void {
  if (ifVersion !== undefined && ifVersion !== object.version) {
    throw new ScimError(
      412,
      undefined,
      `the resource is at version ${etag(object.version)}, not ${etag(ifVersion)}`,
    );
  }
}

/** The directory's typed errors as the SCIM ones; other errors pass through. */
export function toScimError(err: unknown): unknown {
  if (!(err instanceof DirectoryError)) return err;
  switch (err.code) {
    case 'DIRECTORY_NOT_FOUND':
      return new ScimError(404, undefined, err.message);
    case 'DIRECTORY_UNIQUENESS':
      return new ScimError(409, 'uniqueness', err.message);
    case 'DIRECTORY_VERSION_CONFLICT':
      return new ScimError(412, undefined, err.message);
    case 'DIRECTORY_INVALID_VALUE':
    case 'DIRECTORY_INVALID_MEMBER':
      return badRequest('invalidValue', err.describe());
    default:
      return err;
  }
}

export type { Filter };

/** The string values a PATCH sets on `password`: by path, or inside a value object (no-path forms). */
function passwordsInPatch(operations: readonly { op: string; path?: string; value?: unknown }[]): string[] {
  const out: string[] = [];
  const isPassword = (name: string) => /(^|:)password$/i.test(name);
  const walk = (value: unknown) => {
    if (!value || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      if (isPassword(k) && typeof v === 'string') out.push(v);
      else walk(v);
    }
  };
  for (const op of operations) {
    // a remove's value names what goes, never a password to store
    if (op.op.toLowerCase() === 'remove') continue;
    if (op.path !== undefined && isPassword(op.path.trim()) && typeof op.value === 'string')
      out.push(op.value);
    else walk(op.value);
  }
  return out;
}
