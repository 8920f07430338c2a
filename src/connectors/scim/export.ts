/**
 * Export: creates (matched first, as Entra does), updates as minimal PATCH operations (or GET + PUT where
 * the server has no PATCH), batched member changes, deletes.
 *
 * Exactly once under faults: a POST that may have reached the server (timeout, dropped connection, 502/504)
 * is never blindly resent; the object is looked up by the match attributes first, and linked when found.
 * A 409 on create is the same case seen from the other side. PATCH operations are idempotent as sent
 * (replace; add of a present member changes nothing; a remove that finds nothing is done).
 */
import { type Attributes, isReference, sameValues, type Value, valueKey, valuesMissingFrom } from '../../core/values.js';
import type { AttributeChange, ConnectorObject, ExportChange, ExportError, ExportResult } from '../contract.js';
import type { Features } from './discovery.js';
import { type ScimResponse, scimDetail, TransportError } from './http.js';
import { BULK_REQUEST_SCHEMA, filterEq, PATCH_OP_SCHEMA, readErrorResponse } from '../../scim/index.js';
import { type AttrPath, buildResource, equalityFilter, flatten, formatPath, isFilterable, MANAGER, parsePath, pathProblem, type ScimResource, setPath, toWire } from './paths.js';
import type { Runtime, TypeInfo } from './runtime.js';

type Op = { op: 'add' | 'replace' | 'remove'; path?: string; value?: unknown };
type CreateChange = Extract<ExportChange, { op: 'create' }>;
/** a match found before a create: the resource, several ('ambiguous'), or none (null) */
type Matched = ScimResource | 'ambiguous' | null;
type Candidate = { resource: ScimResource; flat: Attributes };

/** a filter longer than this is split: URLs of more than about 8 KB are refused by many servers */
const MAX_FILTER = 4000;

/** attempts of a create whose earlier POST may or may not have been applied */
const CREATE_ATTEMPTS = 3;

/** bytes of a Bulk request around its operations (schemas, the array), with room to spare */
const BULK_ENVELOPE = 256;

type BulkOperation = { method: 'POST'; path: string; bulkId: string; data: ScimResource };

export class Exporter {
  /** creates that made the object but not all of it (members left to add): the retry links instead of creating */
  private readonly partial = new Map<string, string>();

  constructor(private readonly rt: Runtime) {}

  async *run(changes: ExportChange[]): AsyncIterable<ExportResult> {
    const prematched = await this.prematch(changes);
    const settled = await this.bulkCreates(changes, prematched);
    yield* settled.values();
    const rest = changes.filter((c) => !settled.has(c.id));
    yield* pool(rest, this.rt.settings.concurrency, (change) => this.one(change, prematched.get(change.id)));
  }

  private async one(change: ExportChange, prematched?: Matched): Promise<ExportResult> {
    try {
      const type = await this.rt.typeInfo(change.objectType);
      if (!type) return fail(change.id, { code: 'SCIM_UNKNOWN_OBJECT_TYPE', message: `the SCIM connector exports users and groups, not ${JSON.stringify(change.objectType)}`, retryable: false });
      switch (change.op) {
        case 'create':
          return await this.create(type, change, prematched);
        case 'update':
          return await this.update(type, change.id, change.anchor, change.changes);
        case 'delete':
          return await this.remove(type, change.id, change.anchor);
      }
    } catch (err) {
      if (err instanceof TransportError) {
        return fail(change.id, { code: err.code, message: err.message, retryable: err.retryable, ...(err.status !== undefined ? { remoteCode: err.status } : {}) });
      }
      const e = err as { code?: string; message?: string; retryable?: boolean };
      return fail(change.id, { code: e.code ?? 'SCIM_EXPORT_FAILED', message: e.message ?? String(err), retryable: e.retryable ?? true });
    }
  }

  // ---- create ----------------------------------------------------------------------------------------------

  private async create(type: TypeInfo, change: CreateChange, prematched?: Matched): Promise<ExportResult> {
    const rt = this.rt;
    const made = this.partial.get(change.id);
    if (made) {
      const existing = await rt.get(type, made);
      if (existing) return this.link(type, change.id, change.attributes, existing);
      this.partial.delete(change.id);
    }
    if (rt.settings.matchBeforeCreate) {
      const found = prematched !== undefined ? prematched : await this.match(type, change.attributes);
      if (found === 'ambiguous') return ambiguousMatch(change.id, type);
      if (found) return this.link(type, change.id, change.attributes, found);
    }
    const built = this.resourceFor(type, change);
    if ('error' in built) return fail(change.id, built.error);

    for (let attempt = 1; ; attempt++) {
      let res: ScimResponse;
      try {
        res = await rt.http.request('POST', type.cfg.endpoint, { body: built.resource, retry: 'once' });
      } catch (err) {
        if (!(err instanceof TransportError) || !err.ambiguous) throw err;
        // The POST may have been applied: find what it made before sending it again.
        const found = await this.match(type, change.attributes);
        if (found === 'ambiguous') return ambiguousMatch(change.id, type);
        if (found) return this.link(type, change.id, change.attributes, found);
        if (!this.hasMatchValues(type, change.attributes)) {
          return fail(change.id, { code: err.code, message: `${err.message}; the create is not resent because nothing identifies its object (no match attribute has a value)`, retryable: true });
        }
        if (attempt >= CREATE_ATTEMPTS) throw err;
        continue;
      }
      if (res.status === 409) {
        // Uniqueness: the object exists (made by an earlier attempt, or by someone else): link it.
        const found = await this.match(type, change.attributes);
        if (found && found !== 'ambiguous') return this.link(type, change.id, change.attributes, found);
        return fail(change.id, errorOf(res, `creating ${type.name}`));
      }
      if (res.status !== 201 && res.status !== 200) return fail(change.id, errorOf(res, `creating ${type.name}`));
      const id = typeof res.body?.id === 'string' ? res.body.id : idFromLocation(res.location);
      if (!id) return fail(change.id, { code: 'SCIM_NO_ID', message: `the server created a ${type.name} but returned no id`, retryable: false });
      rt.remember(type, id, change.attributes);
      const object = res.body && typeof res.body === 'object' && res.body.id ? rt.toObject(type, res.body) : { anchor: id, objectType: type.name, attributes: { ...change.attributes } };
      return this.finishCreate(type, change, id, object);
    }
  }

  /** After the POST: members beyond the first batch, then the result. */
  private async finishCreate(type: TypeInfo, change: CreateChange, id: string, object: ConnectorObject): Promise<ExportResult> {
    const members = type.isGroup ? (change.attributes.members ?? []) : [];
    const batch = this.rt.settings.memberBatchSize;
    if (members.length > batch) {
      const failed = await this.sendMembers(type, id, members.slice(batch), []);
      if (failed) {
        // The group exists: the retry links it and adds what is missing, instead of creating a second one.
        this.partial.set(change.id, id);
        return fail(change.id, failed);
      }
    }
    if (type.isGroup) object.attributes.members = members;
    return { id: change.id, ok: true, anchor: id, object };
  }

  /** The resource to POST: members only up to the first batch (the rest follow by PATCH). */
  private resourceFor(type: TypeInfo, change: CreateChange): { resource: ScimResource } | { error: ExportError } {
    const members = type.isGroup ? (change.attributes.members ?? []) : [];
    const attributes = type.isGroup ? { ...change.attributes, members: members.slice(0, this.rt.settings.memberBatchSize) } : change.attributes;
    const built = buildResource(attributes, this.buildOptions(type));
    if (built.invalid.length > 0) {
      return { error: { code: 'SCIM_ATTRIBUTE_INVALID', message: pathProblem(built.invalid[0]!) ?? `${built.invalid[0]} is not a SCIM attribute path`, retryable: false, attribute: built.invalid[0]! } };
    }
    if (type.isGroup && members.length === 0) delete built.resource.members;
    return { resource: built.resource };
  }

  // ---- matching many creates at once -------------------------------------------------------------------------

  /**
   * Matches a batch's creates before any is sent, so that the ones found absent can go by Bulk whatever the
   * server can filter: one filtered listing per few dozen creates (`userName eq "a" or externalId eq "b" or
   * ...`) where the server takes `or`; where it refuses `or` (remembered for the connector's lifetime), one
   * listing of the target when that costs fewer requests than the look-ups, else one `eq` look-up per match
   * attribute per create (a listing, kept a few minutes, where the server cannot filter at all). Each create
   * is then picked in the configured order, as one query per attribute would. A create whose look-up fails
   * is left out: the one-by-one path looks it up again before creating it.
   */
  private async prematch(changes: ExportChange[]): Promise<Map<string, Matched>> {
    const out = new Map<string, Matched>();
    const rt = this.rt;
    if (!rt.settings.matchBeforeCreate) return out;
    const features = (await rt.discovered()).features;
    const byType = new Map<TypeInfo, { change: CreateChange; terms: string[] }[]>();
    for (const c of changes) {
      if (c.op !== 'create' || this.partial.has(c.id)) continue;
      const type = await rt.typeInfo(c.objectType);
      if (!type) continue;
      const terms = matchTerms(type, c.attributes);
      if (terms.length === 0) {
        out.set(c.id, null);
        continue;
      }
      byType.set(type, [...(byType.get(type) ?? []), { change: c, terms }]);
    }
    if (byType.size === 0) return out;
    if (features.filter.supported && !this.orRefused) {
      if (await this.matchByOr(byType, out)) return out;
      this.orRefused = true;
      rt.log.info('the server refused an `or` filter; matching creates one attribute at a time (or by one listing) from now on', { connector: rt.connector });
    }
    for (const [type, creates] of byType) {
      const lookups = creates.reduce((n, c) => n + c.terms.length, 0);
      const listed = features.filter.supported && !this.listingRefused ? await this.matchByListing(type, creates, lookups, features.filter.maxResults, out) : false;
      if (listed) continue;
      await forEach(creates, rt.settings.concurrency, async ({ change }) => {
        try {
          out.set(change.id, await this.match(type, change.attributes));
        } catch (err) {
          if (!(err instanceof TransportError)) throw err;
        }
      });
    }
    return out;
  }

  /** `or` filters over a few dozen creates each; false when the server refuses them (400). */
  private async matchByOr(byType: Map<TypeInfo, { change: CreateChange; terms: string[] }[]>, out: Map<string, Matched>): Promise<boolean> {
    const rt = this.rt;
    const chunks: { type: TypeInfo; creates: CreateChange[]; filter: string }[] = [];
    for (const [type, creates] of byType) {
      let current: CreateChange[] = [];
      let terms: string[] = [];
      const flush = () => {
        if (current.length > 0) chunks.push({ type, creates: current, filter: terms.join(' or ') });
        current = [];
        terms = [];
      };
      for (const { change, terms: own } of creates) {
        if (current.length >= 50 || (terms.length > 0 && [...terms, ...own].join(' or ').length > MAX_FILTER)) flush();
        current.push(change);
        terms.push(...own);
      }
      flush();
    }
    const found = new Map<string, Matched>();
    const one = async ({ type, creates, filter }: (typeof chunks)[number]) => {
      const candidates: Candidate[] = [];
      for await (const page of rt.list(type, { filter, pageSize: 1000, withMembers: false })) {
        for (const resource of page) candidates.push({ resource, flat: flatten(resource, type.flatten) });
      }
      await this.pickAll(type, creates, candidates, found);
    };
    try {
      // the first alone: a server that refuses `or` is told so once, not once per concurrent request
      if (chunks.length > 0 && !this.orAccepted) await one(chunks.shift()!);
      this.orAccepted = true;
      await forEach(chunks, rt.settings.concurrency, one);
    } catch (err) {
      if (!(err instanceof TransportError) || err.status !== 400) throw err;
      return false;
    }
    for (const [id, m] of found) out.set(id, m);
    return true;
  }

  /**
   * One listing of the whole target, read only while it costs fewer requests than `budget` look-ups (the
   * first page's totalResults tells). False when abandoned or refused: the caller looks up one by one.
   */
  private async matchByListing(type: TypeInfo, creates: { change: CreateChange }[], budget: number, maxResults: number, out: Map<string, Matched>): Promise<boolean> {
    const pageSize = Math.max(1, Math.min(1000, maxResults));
    // only resources that share a match value with some create are kept (a large target is not held in memory)
    const wanted = new Set<string>();
    for (const { change } of creates) for (const name of type.cfg.match) for (const v of change.attributes[name] ?? []) if (!isReference(v)) wanted.add(`${name}\u0000${String(v).toLowerCase()}`);
    const candidates: Candidate[] = [];
    let total: number | undefined;
    let pages = 0;
    let seen = 0;
    try {
      for await (const page of this.rt.list(type, { pageSize, withMembers: false, onTotal: (t) => (total = t) })) {
        pages++;
        seen += page.length;
        for (const resource of page) {
          const flat = flatten(resource, type.flatten);
          if (type.cfg.match.some((name) => (flat[name] ?? []).some((v) => !isReference(v) && wanted.has(`${name}\u0000${String(v).toLowerCase()}`)))) candidates.push({ resource, flat });
        }
        const left = total !== undefined ? Math.ceil(Math.max(0, total - seen) / pageSize) : 0;
        if (pages + left > budget || (total === undefined && pages >= budget)) return false;
      }
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      if (err.status === 400 || err.status === 403 || err.status === 501) this.listingRefused = true;
      return false;
    }
    const found = new Map<string, Matched>();
    try {
      await this.pickAll(type, creates.map((c) => c.change), candidates, found);
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      return false;
    }
    for (const [id, m] of found) out.set(id, m);
    return true;
  }

  private async pickAll(type: TypeInfo, creates: CreateChange[], candidates: Candidate[], out: Map<string, Matched>): Promise<void> {
    for (const c of creates) {
      const found = pickMatch(type, c.attributes, candidates);
      out.set(c.id, found && found !== 'ambiguous' && type.isGroup ? ((await this.rt.complete(type, [found]))[0] ?? null) : found);
    }
  }

  /** the server refused an `or` filter (400): remembered for the connector's lifetime */
  private orRefused = false;
  /** the server answered an `or` filter */
  private orAccepted = false;
  /** the server refused an unfiltered listing: look-ups one by one from then on */
  private listingRefused = false;

  // ---- Bulk (RFC 7644 section 3.7) -----------------------------------------------------------------------------

  /**
   * Creates known not to exist go in Bulk requests where the server offers Bulk. Anything Bulk does not settle
   * for sure (a 409, an operation missing from the answer, a lost answer) is left to the one-by-one path,
   * which looks the object up before creating it.
   */
  private async bulkCreates(changes: ExportChange[], prematched: Map<string, Matched>): Promise<Map<string, ExportResult>> {
    const settled = new Map<string, ExportResult>();
    const rt = this.rt;
    const features = (await rt.discovered()).features;
    if (!features.bulk.supported) return settled;
    const candidates: { type: TypeInfo; change: CreateChange; resource: ScimResource }[] = [];
    for (const c of changes) {
      if (c.op !== 'create' || (rt.settings.matchBeforeCreate && prematched.get(c.id) !== null)) continue;
      const type = await rt.typeInfo(c.objectType);
      if (!type) continue;
      const built = this.resourceFor(type, c);
      if ('error' in built) continue;
      candidates.push({ type, change: c, resource: built.resource });
    }
    if (candidates.length < 2) return settled;
    // Requests of at most maxOperations operations and maxPayloadSize bytes (an operation too large alone is
    // left to the one-by-one path).
    const size = Math.max(1, Math.min(rt.settings.bulkSize, features.bulk.maxOperations));
    const limit = features.bulk.maxPayloadSize - BULK_ENVELOPE;
    const chunks: { operations: BulkOperation[]; items: typeof candidates }[] = [];
    let current: (typeof chunks)[number] = { operations: [], items: [] };
    let bytes = 0;
    for (const item of candidates) {
      const operation: BulkOperation = { method: 'POST', path: item.type.cfg.endpoint, bulkId: item.change.id, data: item.resource };
      const length = Buffer.byteLength(JSON.stringify(operation)) + 1;
      if (length > limit) continue;
      if (current.items.length >= size || bytes + length > limit) {
        chunks.push(current);
        current = { operations: [], items: [] };
        bytes = 0;
      }
      current.operations.push(operation);
      current.items.push(item);
      bytes += length;
    }
    if (current.items.length > 0) chunks.push(current);
    await forEach(chunks, rt.settings.concurrency, async ({ operations, items: chunk }) => {
      try {
        await this.sendBulk(operations, chunk, settled);
      } finally {
        // What the request did not settle may have been applied (a lost answer, a 409, a partial failure):
        // the one-by-one path looks it up again before creating it, whatever the match found before.
        for (const { change } of chunk) if (!settled.has(change.id)) prematched.delete(change.id);
      }
    });
    return settled;
  }

  /** One Bulk request; what its answer settles goes into `settled`. */
  private async sendBulk(operations: BulkOperation[], chunk: { type: TypeInfo; change: CreateChange }[], settled: Map<string, ExportResult>): Promise<void> {
    const rt = this.rt;
    const body = { schemas: [BULK_REQUEST_SCHEMA], Operations: operations };
    let res: ScimResponse;
    try {
      res = await rt.http.request('POST', '/Bulk', { body, retry: 'once' });
    } catch (err) {
      if (err instanceof TransportError) return;
      throw err;
    }
    if (res.status !== 200 || !Array.isArray(res.body?.Operations)) return;
    const answers = new Map<string, { status: number; location?: string; response?: unknown }>();
    for (const op of res.body.Operations as { bulkId?: string; status?: unknown; location?: string; response?: unknown }[]) {
      const status = Number(typeof op.status === 'object' && op.status ? (op.status as { code?: unknown }).code : op.status);
      if (typeof op.bulkId === 'string') answers.set(op.bulkId, { status, ...(op.location ? { location: op.location } : {}), response: op.response });
    }
    for (const { type, change } of chunk) {
      const a = answers.get(change.id);
      if (!a || a.status === 409) continue;
      if (a.status === 201 || a.status === 200) {
        const id = idFromLocation(a.location);
        if (!id) continue;
        rt.remember(type, id, change.attributes);
        settled.set(change.id, await this.finishCreate(type, change, id, { anchor: id, objectType: type.name, attributes: { ...change.attributes } }));
      } else {
        settled.set(change.id, fail(change.id, errorOf({ status: a.status, body: a.response }, `creating ${type.name} (bulk)`)));
      }
    }
  }

  /** Links an existing resource: sends what differs from the desired attributes, returns the object as it now is. */
  private async link(type: TypeInfo, id: string, desired: Attributes, existing: ScimResource): Promise<ExportResult> {
    const anchor = String(existing.id);
    const current = flatten(existing, type.flatten);
    const changes: Record<string, AttributeChange> = {};
    for (const [name, want] of Object.entries(desired)) {
      const have = current[name] ?? [];
      if (sameValues(want, have)) continue;
      if (this.isMulti(type, name) && have.length > 0 && want.length > 0) {
        const add = valuesMissingFrom(want, have);
        const remove = valuesMissingFrom(have, want);
        changes[name] = { ...(add.length ? { add } : {}), ...(remove.length ? { remove } : {}) };
      } else {
        changes[name] = { replace: want };
      }
    }
    if (Object.keys(changes).length > 0) {
      const result = await this.update(type, id, anchor, changes, existing);
      if (!result.ok) return result;
    }
    this.partial.delete(id);
    const attributes = { ...current };
    for (const [name, values] of Object.entries(desired)) attributes[name] = values;
    return { id, ok: true, anchor, object: { anchor, objectType: type.name, attributes } };
  }

  private hasMatchValues(type: TypeInfo, attributes: Attributes): boolean {
    return type.cfg.match.some((name) => (attributes[name] ?? []).some((v) => !isReference(v)));
  }

  /** The first match attribute (in order) with a value that finds exactly one resource; 'ambiguous' when one finds several. */
  private async match(type: TypeInfo, attributes: Attributes): Promise<ScimResource | 'ambiguous' | null> {
    for (const name of type.cfg.match) {
      const value = (attributes[name] ?? []).find((v) => !isReference(v));
      if (value === undefined) continue;
      const found = await this.rt.find(type, name, value);
      if (found.length === 1) return found[0]!;
      if (found.length > 1) return 'ambiguous';
    }
    return null;
  }

  // ---- update -------------------------------------------------------------------------------------------

  private async update(type: TypeInfo, id: string, anchor: string, changes: Record<string, AttributeChange>, known?: ScimResource): Promise<ExportResult> {
    for (const name of Object.keys(changes)) {
      const problem = pathProblem(name);
      if (problem) return fail(id, { code: 'SCIM_ATTRIBUTE_INVALID', message: problem, retryable: false, attribute: name });
    }
    const features = (await this.rt.discovered()).features;
    const failure = features.patch ? await this.patch(type, anchor, changes) : await this.put(type, anchor, changes, features, known);
    if (failure) return fail(id, failure);
    return { id, ok: true, anchor };
  }

  private async patch(type: TypeInfo, anchor: string, changes: Record<string, AttributeChange>): Promise<ExportError | null> {
    const ops: Op[] = [];
    const values: Op[] = [];
    let memberAdds: Value[] = [];
    let memberRemoves: Value[] = [];
    let memberReplace: Value[] | null = null;
    for (const [name, change] of Object.entries(changes)) {
      const path = parsePath(name)!;
      if (type.isGroup && name === 'members') {
        if (change.replace) memberReplace = change.replace;
        memberAdds = change.add ?? [];
        memberRemoves = change.remove ?? [];
        continue;
      }
      for (const op of this.opsFor(type, name, path, change)) {
        // Without-path replaces fold into one value object (compat.patchWithoutPath).
        if (op.path === undefined) values.push(op);
        else ops.push(op);
      }
    }
    if (values.length > 0) ops.unshift({ op: 'replace', value: Object.assign({}, ...values.map((v) => v.value as object)) });
    if (ops.length > 0) {
      const failure = await this.sendPatch(type, anchor, ops);
      if (failure) return failure;
    }
    if (memberReplace !== null) {
      const batch = this.rt.settings.memberBatchSize;
      if (memberReplace.length === 0) {
        const failure = await this.sendPatch(type, anchor, [{ op: 'remove', path: 'members' }]);
        if (failure) return failure;
      } else {
        const failure = await this.sendPatch(type, anchor, [{ op: 'replace', path: 'members', value: this.memberValues(memberReplace.slice(0, batch)) }]);
        if (failure) return failure;
        memberAdds = [...memberReplace.slice(batch), ...memberAdds];
      }
    }
    return this.sendMembers(type, anchor, memberAdds, memberRemoves);
  }

  /** Member additions and removals in PATCH requests of at most memberBatchSize members each. */
  private async sendMembers(type: TypeInfo, anchor: string, adds: Value[], removes: Value[]): Promise<ExportError | null> {
    const batch = this.rt.settings.memberBatchSize;
    for (let i = 0; i < adds.length; i += batch) {
      const failure = await this.sendPatch(type, anchor, [{ op: 'add', path: 'members', value: this.memberValues(adds.slice(i, i + batch)) }]);
      if (failure) return failure;
    }
    for (let i = 0; i < removes.length; i += batch) {
      const chunk = removes.slice(i, i + batch);
      const valueList: Op[] = [{ op: 'remove', path: 'members', value: this.memberValues(chunk) }];
      if (this.rt.settings.compat.memberRemoval === 'value-list' || this.valueListRemoval) {
        const failure = await this.sendPatch(type, anchor, valueList);
        if (failure) return failure;
        continue;
      }
      const failure = await this.sendPatch(type, anchor, chunk.map((m) => ({ op: 'remove', path: `members[${filterEq('value', refId(m))}]` })));
      if (!failure) continue;
      // A server built for Entra may read only Entra's form: try it once, and keep it if it works.
      if (failure.remoteCode === undefined || !String(failure.remoteCode).startsWith('400')) return failure;
      const retry = await this.sendPatch(type, anchor, valueList);
      if (retry) return failure;
      this.valueListRemoval = true;
      this.rt.log.info('the server refused members[value eq ...] removals; removing members by value list', { connector: this.rt.connector });
    }
    return null;
  }

  /** the server refused the RFC's filtered member removal but took Entra's value list */
  private valueListRemoval = false;

  private memberValues(values: Value[]): { value: string }[] {
    return values.map((v) => ({ value: refId(v) }));
  }

  /** The PATCH operations for one flat attribute's change. */
  private opsFor(type: TypeInfo, name: string, path: AttrPath, change: AttributeChange): Op[] {
    const compat = this.rt.settings.compat;
    const wire = (v: Value) => toWire(v, compat);
    if (change.replace) {
      const values = change.replace;
      if (values.length === 0) {
        // Removing a selected element's value removes the element (an email without a value means nothing).
        const target = path.filter && (path.sub ?? 'value') === 'value' ? formatPath(path, { withSub: false }) : formatPath(path);
        return [{ op: 'remove', path: target }];
      }
      if (name === MANAGER) {
        return [{ op: 'replace', path: MANAGER, value: compat.managerAsString ? wire(values[0]!) : { value: wire(values[0]!) } }];
      }
      if (path.filter) {
        if (compat.filteredPaths) return [{ op: 'replace', path: formatPath(path), value: wire(values[0]!) }];
        // Value-object form: the element the path selects, sent as an add of the whole element.
        return [{ op: 'add', path: formatPath({ ...path, filter: undefined, sub: undefined } as AttrPath), value: [{ [path.filter.attr]: path.filter.value, [path.sub ?? 'value']: wire(values[0]!) }] }];
      }
      if (this.isMulti(type, name)) {
        const element = path.sub ? values.map((v) => ({ [path.sub!]: wire(v) })) : values.map(wire);
        return [{ op: 'replace', path: formatPath({ ...path, sub: undefined } as AttrPath), value: element }];
      }
      if (compat.patchWithoutPath && !path.urn) return [{ op: 'replace', value: { [name]: wire(values[0]!) } }];
      return [{ op: 'replace', path: formatPath(path), value: wire(values[0]!) }];
    }
    const ops: Op[] = [];
    const base = formatPath({ ...path, sub: undefined } as AttrPath);
    if (change.add?.length) ops.push({ op: 'add', path: base, value: change.add.map((v) => (path.sub ? { [path.sub]: wire(v) } : wire(v))) });
    for (const v of change.remove ?? []) ops.push({ op: 'remove', path: `${base}[${filterEq(path.sub ?? 'value', wire(v))}]` });
    return ops;
  }

  /**
   * One PATCH. A 400 noTarget (RFC 7644 section 3.5.2) means a path selected nothing: the operations are then
   * sent one by one, a remove that finds nothing counts as done, and a replace of a missing element becomes
   * an add of that element.
   */
  private async sendPatch(type: TypeInfo, anchor: string, ops: Op[], single = false): Promise<ExportError | null> {
    const res = await this.rt.http.request('PATCH', this.rt.resourcePath(type, anchor), { body: this.patchBody(ops), retry: 'safe' });
    if (res.status === 200 || res.status === 204) return null;
    const noTarget = res.status === 400 && readErrorResponse(res.body)?.scimType === 'noTarget';
    if (!noTarget) return errorOf(res, `updating ${type.name} ${anchor}`);
    if (!single && ops.length > 1) {
      for (const op of ops) {
        const failure = await this.sendPatch(type, anchor, [op], true);
        if (failure) return failure;
      }
      return null;
    }
    const [op] = ops;
    if (op?.op === 'remove') return null;
    const path = op?.path ? parsePath(op.path) : null;
    if (op?.op === 'replace' && path?.filter) {
      const element = { [path.filter.attr]: path.filter.value, [path.sub ?? 'value']: op.value };
      const retry = await this.rt.http.request('PATCH', this.rt.resourcePath(type, anchor), {
        body: this.patchBody([{ op: 'add', path: formatPath({ ...path, filter: undefined, sub: undefined } as AttrPath), value: [element] }]),
        retry: 'safe',
      });
      if (retry.status === 200 || retry.status === 204) return null;
      return errorOf(retry, `updating ${type.name} ${anchor}`);
    }
    return errorOf(res, `updating ${type.name} ${anchor}`);
  }

  private patchBody(ops: Op[]): unknown {
    const cap = this.rt.settings.compat.capitalizedOps;
    return {
      schemas: [PATCH_OP_SCHEMA],
      Operations: ops.map((o) => ({ ...o, op: cap ? o.op[0]!.toUpperCase() + o.op.slice(1) : o.op })),
    };
  }

  /** No PATCH: read the resource, apply the changes to it, write it back whole (with If-Match where ETags work). */
  private async put(type: TypeInfo, anchor: string, changes: Record<string, AttributeChange>, features: Features, known?: ScimResource): Promise<ExportError | null> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const resource = attempt === 1 && known ? structuredClone(known) : await this.rt.get(type, anchor);
      if (!resource) return { code: 'SCIM_NOT_FOUND', message: `${type.name} ${anchor} does not exist`, retryable: false, notFound: true, remoteCode: 404 };
      const etag = (resource as { etag?: string }).etag;
      delete (resource as { etag?: string }).etag;
      const current = flatten(resource, type.flatten);
      for (const [name, change] of Object.entries(changes)) {
        const next = applyChange(current[name] ?? [], change);
        setPath(resource, parsePath(name)!, name, next, this.buildOptions(type));
      }
      delete resource.meta;
      delete resource.groups;
      const headers: Record<string, string> = features.etag && etag ? { 'if-match': etag } : {};
      const res = await this.rt.http.request('PUT', this.rt.resourcePath(type, anchor), { body: resource, headers, retry: 'safe' });
      if (res.status === 200 || res.status === 204) return null;
      if (res.status === 412 && attempt < 3) continue;
      return errorOf(res, `replacing ${type.name} ${anchor}`);
    }
    return null;
  }

  // ---- delete -----------------------------------------------------------------------------------------------

  private async remove(type: TypeInfo, id: string, anchor: string): Promise<ExportResult> {
    const res = await this.rt.http.request('DELETE', this.rt.resourcePath(type, anchor), { retry: 'safe' });
    if (res.status === 204 || res.status === 200) return { id, ok: true, anchor };
    const error = errorOf(res, `deleting ${type.name} ${anchor}`);
    if (res.status === 404) error.notFound = true;
    return fail(id, error);
  }

  // ---- helpers ----------------------------------------------------------------------------------------------

  private isMulti(type: TypeInfo, name: string): boolean {
    return type.schema.attributes[name]?.multiValued ?? false;
  }

  private buildOptions(type: TypeInfo) {
    return {
      coreSchema: type.cfg.schema,
      booleansAsStrings: this.rt.settings.compat.booleansAsStrings,
      multiValued: (name: string) => type.schema.attributes[name]?.multiValued ?? isMultiValuedTop(type, name),
    };
  }
}

const multiValuedTops = new WeakMap<TypeInfo, Set<string>>();

/** Whether a top-level attribute is multi-valued, from its sub-attribute entries (emails.value is). */
function isMultiValuedTop(type: TypeInfo, attr: string): boolean {
  let tops = multiValuedTops.get(type);
  if (!tops) {
    tops = new Set(Object.entries(type.schema.attributes).filter(([name, a]) => a.multiValued && name.includes('.')).map(([name]) => name.slice(0, name.indexOf('.'))));
    multiValuedTops.set(type, tops);
  }
  return tops.has(attr);
}

/** Runs `fn` over items with at most `limit` at once, yielding results as they finish. */
async function* pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): AsyncIterable<R> {
  const queue = [...items];
  const done: R[] = [];
  let wake: (() => void) | null = null;
  let running = 0;
  let failure: unknown = null;
  const worker = async () => {
    running++;
    try {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        done.push(await fn(item));
        wake?.();
      }
    } catch (err) {
      failure ??= err;
    } finally {
      running--;
      wake?.();
    }
  };
  const workers = Array.from({ length: Math.min(limit, items.length) }, worker);
  while (running > 0 || done.length > 0) {
    if (done.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    wake = null;
    while (done.length > 0) yield done.shift()!;
  }
  await Promise.all(workers);
  if (failure) throw failure;
}

async function forEach<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  for await (const _ of pool(items, limit, fn)) {
    // results are the side effects
  }
}

function matchTerms(type: TypeInfo, attributes: Attributes): string[] {
  const terms: string[] = [];
  for (const name of type.cfg.match) {
    const path = parsePath(name);
    const value = (attributes[name] ?? []).find(isFilterable);
    if (path && value !== undefined) terms.push(equalityFilter(path, value));
  }
  return terms;
}

function pickMatch(type: TypeInfo, attributes: Attributes, candidates: Candidate[]): Matched {
  for (const name of type.cfg.match) {
    const value = (attributes[name] ?? []).find((v) => !isReference(v));
    if (value === undefined) continue;
    const wanted = String(value).toLowerCase();
    const hits = candidates.filter((c) => (c.flat[name] ?? []).some((v) => !isReference(v) && String(v).toLowerCase() === wanted));
    if (hits.length === 1) return hits[0]!.resource;
    if (hits.length > 1) return 'ambiguous';
  }
  return null;
}

function applyChange(current: Value[], change: AttributeChange): Value[] {
  if (change.replace) return change.replace;
  const removed = new Set((change.remove ?? []).map(valueKey));
  const out = current.filter((v) => !removed.has(valueKey(v)));
  return [...out, ...valuesMissingFrom(change.add ?? [], out)];
}

function refId(v: Value): string {
  return isReference(v) ? v.ref : String(v);
}

function idFromLocation(location: string | undefined): string | undefined {
  if (!location) return undefined;
  const last = location.replace(/\/+$/, '').split('/').pop();
  return last ? decodeURIComponent(last) : undefined;
}

function fail(id: string, error: ExportError): ExportResult {
  return { id, ok: false, error };
}

function ambiguousMatch(id: string, type: TypeInfo): ExportResult {
  return fail(id, { code: 'SCIM_MATCH_AMBIGUOUS', message: `more than one existing ${type.name} matches; link one by hand or make the match attributes (${type.cfg.match.join(', ')}) unique`, retryable: false });
}

export function errorOf(res: ScimResponse, what: string): ExportError {
  const status = res.status;
  const retryable = status >= 500 || status === 429 || status === 408;
  const scimType = readErrorResponse(res.body)?.scimTypeText;
  const code =
    status === 409 ? 'SCIM_CONFLICT'
    : status === 404 ? 'SCIM_NOT_FOUND'
    : status === 401 || status === 403 ? 'SCIM_UNAUTHORIZED'
    : status === 412 ? 'SCIM_PRECONDITION_FAILED'
    : status === 400 ? 'SCIM_BAD_REQUEST'
    : retryable ? 'SCIM_SERVER_ERROR' : 'SCIM_REQUEST_REFUSED';
  return { code, message: `${what}: HTTP ${status}${scimDetail(res.body)}`, retryable, remoteCode: scimType ? `${status} ${scimType}` : status };
}
