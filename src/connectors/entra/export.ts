/**
 * Export to Graph: creates one by one (a create is never resent blindly), then updates and deletes as
 * steps sent in JSON $batch requests of up to 20 (https://learn.microsoft.com/graph/json-batching), the
 * first pending step of every change in the same round.
 *
 * - create user: POST /users with passwordProfile (the only time a password is sent) and usageLocation;
 *   a soft-deleted user with the same restoreMatch value (onPremisesImmutableId) is restored instead
 *   (POST /directory/deletedItems/{id}/restore) and then updated.
 * - create group: POST /groups, members by PATCH with up to 20 `members@odata.bind` each.
 * - update: one minimal PATCH of the changed properties; manager by PUT/DELETE .../manager/$ref; members
 *   added by PATCH members@odata.bind (20 a request), removed by DELETE .../members/{id}/$ref.
 * - delete: DELETE (Graph keeps the object 30 days in deletedItems).
 *
 * Exactly once under eventual consistency: a create whose answer was lost is looked up by the match
 * attributes, and an empty answer is trusted only once the object has had `consistencyWait` seconds to
 * replicate; a uniqueness conflict (400 "Another object with the same value for property X already
 * exists") links the object only when it is provably this create's. A write naming an object created
 * moments ago is retried on 404 for the same window.
 */
import { randomBytes } from 'node:crypto';
import { type Attributes, isReference, type Reference, type Value, valuesMissingFrom } from '../../core/values.js';
import type { AttributeChange, ConnectorObject, ExportChange, ExportError, ExportResult } from '../contract.js';
import type { EntraErrorCode } from './errors.js';
import { sleep } from '../../core/http-retry.js';
import { type BatchRequest, type GraphResponse, GraphTransportError, graphErrorOf } from './http.js';
import { attributeOfProperty, type Model, toGraph } from './model.js';
import type { Runtime } from './runtime.js';

type CreateChange = Extract<ExportChange, { op: 'create' }>;
type UpdateChange = Extract<ExportChange, { op: 'update' }>;

/** One request of a change; `ok` decides which non-2xx answers still count as done. */
interface Step extends BatchRequest {
  /** what it does, for messages */
  what: string;
  /** ids this request names that may not have replicated yet: a 404 is retried while they are young */
  names: string[];
  /** statuses that mean "already so" (a removed member that was not one, a manager already cleared) */
  okStatus?: number[];
  /** may be sent in the same batch as the change's other parallel steps (member removals; binds stay in order: Graph serializes changes to one group) */
  parallel?: boolean;
  /** a members@odata.bind that may hold members already present: on that 400 only the missing are sent */
  bindMembers?: { group: string; ids: string[] };
}

const CONFLICT = /another object with the same value for property '?([A-Za-z0-9_.]+)'? already exists/i;
const ALREADY_MEMBER = /added object references already exist/i;

export class Exporter {
  private deleted: Map<string, string> | null = null;
  /** how often a step waited for replication */
  private readonly waits = new WeakMap<Step, number>();

  constructor(private readonly rt: Runtime) {}

  async *run(changes: ExportChange[]): AsyncIterable<ExportResult> {
    this.deleted = null;
    const creates = changes.filter((c): c is CreateChange => c.op === 'create');
    const rest = changes.filter((c) => c.op !== 'create');
    yield* pool(creates, this.rt.settings.concurrency, (c) => this.guard(c, () => this.create(c)));
    const planned: { change: ExportChange; steps: Step[]; model: Model }[] = [];
    for (const change of rest) {
      const model = this.rt.model(change.objectType);
      if (!model) {
        yield fail(change.id, 'ENTRA_UNKNOWN_OBJECT_TYPE', `the entra connector exports users and groups, not ${JSON.stringify(change.objectType)}`, false);
        continue;
      }
      if (change.op === 'delete') {
        planned.push({ change, model, steps: [{ method: 'DELETE', url: `${model.collection}/${enc(change.anchor)}`, what: `deleting ${model.kind} ${change.anchor}`, names: [change.anchor] }] });
        continue;
      }
      const built = await this.guardValue(change, () => this.updateSteps(model, change as UpdateChange));
      if ('ok' in built) yield built;
      else planned.push({ change, model, steps: built.steps });
    }
    yield* this.runSteps(planned);
  }

  // ---- steps in batches ---------------------------------------------------------------------------------------

  /**
   * Runs every change's steps in order, the next step of each change in the same round, rounds in $batch
   * requests of batchSize. A change ends at its first failed step.
   */
  private async *runSteps(planned: { change: ExportChange; steps: Step[]; model: Model }[]): AsyncIterable<ExportResult> {
    const rt = this.rt;
    const size = rt.settings.batchSize;
    const active = planned.map((p) => ({ ...p, steps: [...p.steps] }));
    const done: ExportResult[] = [];
    for (const p of active) if (p.steps.length === 0) done.push(ok(p.change));
    let running = active.filter((p) => p.steps.length > 0);
    while (running.length > 0) {
      yield* done.splice(0);
      let waitMs = 0;
      // this round: the next step of every change, and the independent steps after it (member adds and
      // removals of one group go in the same batch)
      const round: { p: (typeof running)[number]; step: Step }[] = [];
      for (const p of running) {
        round.push({ p, step: p.steps[0]! });
        if (!p.steps[0]!.parallel) continue;
        for (let i = 1; i < p.steps.length && i < size && p.steps[i]!.parallel; i++) round.push({ p, step: p.steps[i]! });
      }
      const chunks: (typeof round)[] = [];
      for (let i = 0; i < round.length; i += size) chunks.push(round.slice(i, i + size));
      const failed = new Set<ExportChange>();
      await poolAll(chunks, rt.settings.concurrency, async (chunk) => {
        let responses: GraphResponse[];
        try {
          responses = await rt.http.batch(chunk.map((c) => c.step));
        } catch (err) {
          for (const { p } of chunk) {
            if (failed.has(p.change)) continue;
            failed.add(p.change);
            done.push(failFrom(p.change.id, err));
            p.steps = [];
          }
          return;
        }
        for (let i = 0; i < chunk.length; i++) {
          const { p, step } = chunk[i]!;
          if (failed.has(p.change)) continue;
          const res = responses[i]!;
          const settle = () => {
            p.steps = p.steps.filter((s) => s !== step);
          };
          if (res.status < 300 || step.okStatus?.includes(res.status)) {
            if (step.method === 'DELETE' && step.names.length === 1) rt.forget(step.names[0]!);
            settle();
          } else if (step.bindMembers && res.status === 400 && ALREADY_MEMBER.test(graphErrorOf(res.body)?.message ?? '')) {
            // Graph refuses the whole bind when one member is already there: send only the missing ones
            const missing = await this.missingMembers(step.bindMembers.group, step.bindMembers.ids).catch((err) => err as Error);
            if (missing instanceof Error) {
              failed.add(p.change);
              done.push(failFrom(p.change.id, missing));
              p.steps = [];
              continue;
            }
            const index = p.steps.indexOf(step);
            p.steps.splice(index, 1, ...(missing.length > 0 ? [bindStep(rt, step.bindMembers.group, missing)] : []));
          } else if (res.status === 404 && p.change.op === 'delete' && rt.replicationLeft(p.change.anchor) === 0) {
            failed.add(p.change);
            done.push({ id: p.change.id, ok: false, error: { code: 'ENTRA_NOT_FOUND', message: `${step.what}: it does not exist`, retryable: false, remoteCode: 404, notFound: true } });
            p.steps = [];
          } else if (res.status === 404 && step.names.some((id) => rt.replicationLeft(id) > 0)) {
            // named an object created moments ago: not replicated yet, the same step goes again, after 200 ms,
            // 400 ms ... up to 1 s (replication usually takes well under consistencyWait)
            const tries = (this.waits.get(step) ?? 0) + 1;
            this.waits.set(step, tries);
            const left = Math.max(...step.names.map((id) => rt.replicationLeft(id)));
            waitMs = Math.max(waitMs, Math.min(1000, 100 * 2 ** tries, left));
          } else {
            failed.add(p.change);
            done.push({ id: p.change.id, ok: false, error: writeError(p.model, res, step.what) });
            p.steps = [];
          }
        }
      });
      for (const p of running) if (p.steps.length === 0 && !failed.has(p.change)) done.push(ok(p.change));
      running = running.filter((p) => p.steps.length > 0);
      if (running.length > 0 && waitMs > 0) await sleep(waitMs);
    }
    yield* done.splice(0);
  }

  private async updateSteps(model: Model, change: UpdateChange): Promise<{ steps: Step[] } | ExportResult> {
    const rt = this.rt;
    const id = change.anchor;
    const url = `${model.collection}/${enc(id)}`;
    const steps: Step[] = [];
    const plain: Record<string, Value[]> = {};
    let current: Attributes | null = null;
    for (const [name, ch] of Object.entries(change.changes)) {
      if (name === 'password') continue; // passwordProfile only on create: password changes are not sent
      if (name === 'manager' || name === 'members') continue;
      const a = model.schema.attributes[name];
      if (a?.multiValued && !ch.replace) {
        // Graph replaces lists whole: an add or remove needs the list as it is
        current ??= await this.read(model, id);
        plain[name] = applyChange(current[name] ?? [], ch);
      } else {
        plain[name] = ch.replace ?? (ch.add ? ch.add : []);
      }
    }
    if (Object.keys(plain).length > 0) {
      const built = toGraph(model, plain);
      const invalid = attributeProblem(model, built);
      if (invalid) return { id: change.id, ok: false, error: invalid };
      steps.push({ method: 'PATCH', url, body: built.body, what: `updating ${model.kind} ${id}`, names: [id] });
    }
    const manager = change.changes.manager;
    if (model.kind === 'user' && manager) {
      const target = refsOf(manager.replace ?? manager.add ?? []).at(-1);
      if (target && !(manager.remove && !manager.replace && !manager.add)) steps.push(managerStep(rt, id, target));
      else steps.push({ method: 'DELETE', url: `${url}/manager/$ref`, what: `removing the manager of ${id}`, names: [id], okStatus: [404] });
    }
    const members = change.changes.members;
    if (model.kind === 'group' && members) {
      let add = refsOf(members.add ?? []);
      let remove = refsOf(members.remove ?? []);
      if (members.replace) {
        const now = refsOf((await this.read(model, id)).members ?? []);
        const wanted = refsOf(members.replace);
        add = wanted.filter((m) => !now.includes(m));
        remove = now.filter((m) => !wanted.includes(m));
      }
      for (let i = 0; i < add.length; i += rt.settings.memberBatchSize) steps.push(bindStep(rt, id, add.slice(i, i + rt.settings.memberBatchSize)));
      for (const m of remove) {
        steps.push({ method: 'DELETE', url: `${url}/members/${enc(m)}/$ref`, what: `removing member ${m} from group ${id}`, names: [id], okStatus: [404], parallel: true });
      }
    }
    return { steps };
  }

  private async read(model: Model, id: string): Promise<Attributes> {
    const res = await this.rt.http.request('GET', `${model.collection}/${enc(id)}?${this.rt.listQuery(model, 1).replace(/&\$top=\d+/, '')}`, { retry: 'safe' });
    if (res.status !== 200) throw this.rt.readError(res, `reading ${model.kind} ${id}`);
    const [object] = await this.rt.complete(model, [res.body]);
    return object?.attributes ?? {};
  }

  /** Members of `ids` not yet in the group. */
  private async missingMembers(group: string, ids: string[]): Promise<string[]> {
    const now = (await this.rt.members([group])).get(group) ?? [];
    const present = new Set(now.map((r) => r.ref));
    return ids.filter((m) => !present.has(m));
  }

  // ---- create -------------------------------------------------------------------------------------------------

  private async create(change: CreateChange): Promise<ExportResult> {
    const rt = this.rt;
    const model = rt.model(change.objectType);
    if (!model) return fail(change.id, 'ENTRA_UNKNOWN_OBJECT_TYPE', `the entra connector exports users and groups, not ${JSON.stringify(change.objectType)}`, false);
    const attrs = change.attributes;
    const plain: Record<string, Value[]> = {};
    for (const [name, values] of Object.entries(attrs)) if (name !== 'manager' && name !== 'members' && name !== 'password') plain[name] = values;
    const built = toGraph(model, plain);
    const invalid = attributeProblem(model, built);
    if (invalid) return { id: change.id, ok: false, error: invalid };
    const body = built.body;

    if (model.kind === 'user') {
      const restored = await this.restore(model, change, body);
      if (restored) return restored;
      if (typeof body.displayName !== 'string') return fail(change.id, 'ENTRA_ATTRIBUTE_INVALID', 'a user needs a displayName to be created', false, 'displayName');
      if (typeof body.userPrincipalName !== 'string') return fail(change.id, 'ENTRA_ATTRIBUTE_INVALID', 'a user needs a userPrincipalName to be created', false, 'userPrincipalName');
      body.accountEnabled ??= true;
      body.mailNickname ??= nickname(String(body.userPrincipalName));
      const password = attrs.password?.find((v): v is string => typeof v === 'string');
      // https://learn.microsoft.com/graph/api/user-post-users: passwordProfile is required on create
      body.passwordProfile = { password: password ?? generatedPassword(), forceChangePasswordNextSignIn: rt.settings.forceChangePasswordNextSignIn };
    } else {
      if (typeof body.displayName !== 'string') return fail(change.id, 'ENTRA_ATTRIBUTE_INVALID', 'a group needs a displayName to be created', false, 'displayName');
      body.mailNickname ??= nickname(String(body.displayName));
      body.mailEnabled ??= false;
      body.securityEnabled ??= true;
    }
    const members = model.kind === 'group' ? refsOf(attrs.members ?? []) : [];
    // the first members go in the create itself unless one of them may not have replicated yet
    const inline = members.slice(0, rt.settings.memberBatchSize);
    const bindInline = inline.length > 0 && inline.every((m) => rt.replicationLeft(m) === 0);
    if (bindInline) body['members@odata.bind'] = inline.map((m) => directoryObject(rt, m));

    let res: GraphResponse;
    try {
      res = await rt.http.request('POST', model.collection, { body, retry: 'once' });
    } catch (err) {
      if (!(err instanceof GraphTransportError) || !err.ambiguous) throw err;
      // the POST may have been applied: find its object, waiting out replication, before anything is resent
      const found = await this.findOwn(model, attrs, Date.now() + rt.settings.consistencyWait * 1000);
      if (found === 'ambiguous') return fail(change.id, 'ENTRA_AMBIGUOUS_MATCH', `${err.message}; several ${model.kind}s match its attributes`, false);
      if (!found) return fail(change.id, 'ENTRA_CREATE_UNCONFIRMED', `${err.message}; its object was not found within ${rt.settings.consistencyWait} s (consistencyWait): the create is retried later`, true);
      return this.finish(model, change, found.anchor, [], found);
    }
    if (res.status === 400 || res.status === 409) {
      const conflict = CONFLICT.exec(graphErrorOf(res.body)?.message ?? '');
      if (conflict) {
        const property = conflict[1]!;
        const attribute = attributeOfProperty(model, property) ?? property;
        const value = attrs[attribute]?.[0];
        const found = value === undefined ? [] : await rt.find(model, attribute, value, Date.now() + rt.settings.consistencyWait * 1000);
        const own = found.length === 1 && this.provablyOwn(model, attrs, found[0]!) ? found[0]! : undefined;
        if (own) return this.finish(model, change, own.anchor, [], own);
        const holder = found[0] ? ` (held by ${model.kind} ${found[0].anchor})` : '';
        return fail(change.id, 'ENTRA_CONFLICT', `another object has the same ${attribute}${holder}: ${graphErrorOf(res.body)?.message}`, false, attribute, res.status);
      }
    }
    if (res.status !== 201 && res.status !== 200) return { id: change.id, ok: false, error: writeError(model, res, `creating ${model.kind}`) };
    const id = typeof res.body?.id === 'string' ? (res.body.id as string) : undefined;
    if (!id) return fail(change.id, 'ENTRA_NO_ID', `Graph created a ${model.kind} but returned no id`, false);
    rt.noteCreated(id);
    return this.finish(model, change, id, bindInline ? inline : []);
  }

  /**
   * After the object exists: manager, the members not sent with the create. A reference that fails leaves
   * the object without it (the engine sees the difference and sends it again as an update); the create
   * itself succeeded and is never reported failed, or it would be sent twice.
   */
  private async finish(model: Model, change: CreateChange, id: string, bound: string[], existing?: ConnectorObject): Promise<ExportResult> {
    const rt = this.rt;
    const attrs = change.attributes;
    const steps: Step[] = [];
    const applied: Attributes = {};
    for (const [k, v] of Object.entries(attrs)) if (k !== 'password' && k !== 'members' && k !== 'manager') applied[k] = v;
    if (existing) {
      // a found object is linked as it is: the engine compares it with what it wants and updates the rest
      return { id: change.id, ok: true, anchor: id, object: existing };
    }
    const manager = model.kind === 'user' ? refsOf(attrs.manager ?? [])[0] : undefined;
    if (manager) steps.push(managerStep(rt, id, manager));
    const members = model.kind === 'group' ? refsOf(attrs.members ?? []) : [];
    const rest = members.filter((m) => !bound.includes(m));
    for (let i = 0; i < rest.length; i += rt.settings.memberBatchSize) steps.push(bindStep(rt, id, rest.slice(i, i + rt.settings.memberBatchSize)));
    let failed: ExportResult | undefined;
    for await (const r of this.runSteps([{ change, model, steps }])) if (!r.ok) failed = r;
    if (!failed) {
      if (manager) applied.manager = [{ ref: manager }];
      if (members.length > 0) applied.members = members.map((m) => ({ ref: m }));
    } else {
      rt.log.warn('an object was created but not all its references were set; they are sent again as an update', { connector: rt.connector, anchor: id, reason: failed.ok ? '' : failed.error.message });
      if (bound.length > 0) applied.members = bound.map((m) => ({ ref: m }));
    }
    return { id: change.id, ok: true, anchor: id, object: { anchor: id, objectType: model.kind, attributes: applied } };
  }

  /** A found object is this create's when it carries the create's onPremisesImmutableId (its source anchor). */
  private provablyOwn(model: Model, attrs: Attributes, found: ConnectorObject): boolean {
    if (model.kind !== 'user') return false;
    const anchor = attrs.onPremisesImmutableId?.[0];
    return anchor !== undefined && found.attributes.onPremisesImmutableId?.[0] === anchor;
  }

  /** The object a create whose answer was lost made, by the match attributes, waiting out replication. */
  private async findOwn(model: Model, attrs: Attributes, waitUntil: number): Promise<ConnectorObject | 'ambiguous' | null> {
    const match = model.kind === 'user' ? this.rt.settings.match.user : this.rt.settings.match.group;
    for (const attribute of match) {
      const value = attrs[attribute]?.find((v) => !isReference(v));
      if (value === undefined) continue;
      const found = await this.rt.find(model, attribute, value, waitUntil);
      if (found.length === 1) return found[0]!;
      if (found.length > 1) return 'ambiguous';
    }
    return null;
  }

  /**
   * A user to create whose restoreMatch value (its source anchor) belongs to a soft-deleted user is
   * restored (https://learn.microsoft.com/graph/api/directory-deleteditems-restore) and then updated.
   */
  private async restore(model: Model, change: CreateChange, body: Record<string, unknown>): Promise<ExportResult | undefined> {
    const rt = this.rt;
    if (!rt.settings.restoreDeleted) return undefined;
    const value = change.attributes[rt.settings.restoreMatch]?.[0];
    if (typeof value !== 'string') return undefined;
    const deletedId = (await this.deletedUsers()).get(value.toLowerCase());
    if (!deletedId) return undefined;
    const res = await rt.http.request('POST', `/directory/deletedItems/${enc(deletedId)}/restore`, { retry: 'safe', body: {} });
    if (res.status !== 200 && res.status !== 201) return { id: change.id, ok: false, error: writeError(model, res, `restoring deleted user ${deletedId}`) };
    this.deleted?.delete(value.toLowerCase());
    rt.noteCreated(deletedId);
    rt.log.info('a deleted user returned: restored from deletedItems instead of created', { connector: rt.connector, anchor: deletedId });
    const patch = { ...body };
    delete patch.passwordProfile;
    const steps: Step[] = [{ method: 'PATCH', url: `/users/${enc(deletedId)}`, body: patch, what: `updating restored user ${deletedId}`, names: [deletedId] }];
    for await (const r of this.runSteps([{ change: { ...change, op: 'update', anchor: deletedId, changes: {} } as UpdateChange, model, steps }])) {
      if (!r.ok) {
        // restored but not updated: linked as it is, the engine sends the difference as an update
        const [object] = await rt.find(model, rt.settings.restoreMatch, value, Date.now() + rt.settings.consistencyWait * 1000);
        return { id: change.id, ok: true, anchor: deletedId, ...(object ? { object } : {}) };
      }
    }
    return this.finish(model, change, deletedId, []);
  }

  /** Soft-deleted users by restoreMatch value, listed once per export call. */
  private async deletedUsers(): Promise<Map<string, string>> {
    if (this.deleted) return this.deleted;
    const rt = this.rt;
    const property = rt.settings.restoreMatch;
    const out = new Map<string, string>();
    let link: string | undefined = `/directory/deletedItems/microsoft.graph.user?$select=id,${property}&$top=999`;
    while (link) {
      const res: GraphResponse = await rt.http.request('GET', link, { retry: 'safe' });
      if (res.status !== 200) throw rt.readError(res, 'listing deleted users');
      for (const item of (res.body?.value ?? []) as Record<string, unknown>[]) {
        const v = item[property];
        if (typeof item.id === 'string' && typeof v === 'string') out.set(v.toLowerCase(), item.id);
      }
      const next: unknown = res.body?.['@odata.nextLink'];
      link = typeof next === 'string' ? next : undefined;
    }
    this.deleted = out;
    return out;
  }

  private async guard(change: ExportChange, fn: () => Promise<ExportResult>): Promise<ExportResult> {
    try {
      return await fn();
    } catch (err) {
      return failFrom(change.id, err);
    }
  }

  private async guardValue<T>(change: ExportChange, fn: () => Promise<T>): Promise<T | ExportResult> {
    try {
      return await fn();
    } catch (err) {
      return failFrom(change.id, err);
    }
  }
}

// ---- helpers -----------------------------------------------------------------------------------------------

function enc(id: string): string {
  return encodeURIComponent(id);
}

function directoryObject(rt: Runtime, id: string): string {
  return `${rt.http.base}/directoryObjects/${enc(id)}`;
}

function bindStep(rt: Runtime, group: string, ids: string[]): Step {
  return {
    method: 'PATCH',
    url: `/groups/${enc(group)}`,
    body: { 'members@odata.bind': ids.map((m) => directoryObject(rt, m)) },
    what: `adding ${ids.length} member(s) to group ${group}`,
    names: [group, ...ids],
    bindMembers: { group, ids },
  };
}

function managerStep(rt: Runtime, user: string, manager: string): Step {
  return { method: 'PUT', url: `/users/${enc(user)}/manager/$ref`, body: { '@odata.id': directoryObject(rt, manager) }, what: `setting the manager of ${user}`, names: [user, manager] };
}

function refsOf(values: Value[]): string[] {
  return values.filter(isReference).map((v: Reference) => v.ref);
}

function applyChange(current: Value[], ch: AttributeChange): Value[] {
  let out = ch.replace ? [...ch.replace] : [...current];
  if (ch.remove) {
    const gone = new Set(ch.remove.map((v) => String(v).toLowerCase()));
    out = out.filter((v) => !gone.has(String(v).toLowerCase()));
  }
  if (ch.add) out = [...out, ...valuesMissingFrom(ch.add, out)];
  return out;
}

function attributeProblem(model: Model, built: { readOnly: string[]; unknown: string[] }): ExportError | undefined {
  if (built.unknown.length > 0) {
    const a = built.unknown[0]!;
    return { code: 'ENTRA_ATTRIBUTE_INVALID', message: `${a} is not a property of a ${model.kind} this connector knows (add it to ${model.kind}Attributes, or extensions)`, retryable: false, attribute: a };
  }
  if (built.readOnly.length > 0) {
    const a = built.readOnly[0]!;
    return { code: 'ENTRA_ATTRIBUTE_READONLY', message: `${a} cannot be written through Microsoft Graph (only Microsoft's own sync writes it)`, retryable: false, attribute: a };
  }
  return undefined;
}

/**
 * A failed write as an object error. A 400 whose message names a property (Graph: "Invalid value specified
 * for property 'mailNickname' of resource 'User'.", https://learn.microsoft.com/graph/errors) is an error on
 * that attribute.
 */
export function writeError(model: Model, res: GraphResponse, what: string): ExportError {
  const e = graphErrorOf(res.body);
  const message = e?.message ?? '';
  const retryable = res.status === 429 || res.status >= 500;
  let code: EntraErrorCode = res.status === 404 ? 'ENTRA_NOT_FOUND' : res.status === 401 || res.status === 403 ? 'ENTRA_UNAUTHORIZED' : res.status === 429 ? 'ENTRA_THROTTLED' : res.status >= 500 ? 'ENTRA_SERVER_ERROR' : 'ENTRA_BAD_REQUEST';
  let attribute: string | undefined;
  const named = /propert(?:y|ies)\s*:?\s*'?([A-Za-z][A-Za-z0-9_./]*)'?/i.exec(message);
  const target = (res.body?.error?.details as { target?: unknown }[] | undefined)?.find((d) => typeof d.target === 'string')?.target as string | undefined;
  const property = named?.[1] ?? target ?? (/password/i.test(message) ? 'passwordProfile' : undefined);
  if (property && res.status === 400) {
    attribute = attributeOfProperty(model, property) ?? property;
    code = CONFLICT.test(message) ? 'ENTRA_CONFLICT' : 'ENTRA_ATTRIBUTE_INVALID';
  }
  const detail = [e?.code, message].filter(Boolean).join(': ');
  return {
    code,
    message: `${what}: HTTP ${res.status}${detail ? `: ${detail.slice(0, 400)}` : ''}`,
    retryable,
    remoteCode: res.status,
    ...(attribute ? { attribute } : {}),
    ...(res.status === 401 || res.status === 403 ? { connection: true } : {}),
  };
}

function ok(change: ExportChange): ExportResult {
  return { id: change.id, ok: true, ...('anchor' in change ? { anchor: change.anchor } : {}) };
}

function fail(id: string, code: EntraErrorCode, message: string, retryable: boolean, attribute?: string, remoteCode?: number): ExportResult {
  return { id, ok: false, error: { code, message, retryable, ...(attribute ? { attribute } : {}), ...(remoteCode !== undefined ? { remoteCode } : {}) } };
}

function failFrom(id: string, err: unknown): ExportResult {
  if (err instanceof GraphTransportError) {
    return { id, ok: false, error: { code: err.code, message: err.message, retryable: err.retryable, ...(err.status !== undefined ? { remoteCode: err.status } : {}), ...(err.connection ? { connection: true } : {}) } };
  }
  const e = err as { code?: string; message?: string; retryable?: boolean; connection?: boolean };
  return { id, ok: false, error: { code: e.code ?? 'ENTRA_EXPORT_FAILED', message: e.message ?? String(err), retryable: e.retryable ?? true, ...(e.connection ? { connection: true } : {}) } };
}

/** A mailNickname from a UPN or a name: the characters Graph allows (no spaces, @, quotes, brackets ...). */
function nickname(from: string): string {
  const local = from.split('@')[0]!;
  const cleaned = local.replace(/[^A-Za-z0-9._-]/g, '').replace(/^\.+|\.+$/g, '');
  return (cleaned || `obj${randomBytes(4).toString('hex')}`).slice(0, 64);
}

/** An initial password meeting Entra's complexity rules; never logged, never stored. */
function generatedPassword(): string {
  return `Aa1!${randomBytes(18).toString('base64url')}`;
}

async function* pool<T>(items: T[], size: number, fn: (item: T) => Promise<ExportResult>): AsyncIterable<ExportResult> {
  const results: ExportResult[] = [];
  let next = 0;
  let wake: (() => void) | null = null;
  let running = 0;
  const start = () => {
    while (running < size && next < items.length) {
      const item = items[next++]!;
      running++;
      fn(item).then((r) => {
        results.push(r);
        running--;
        start();
        wake?.();
      });
    }
  };
  start();
  let yielded = 0;
  while (yielded < items.length) {
    if (results.length === 0) await new Promise<void>((r) => (wake = r));
    wake = null;
    while (results.length > 0) {
      yielded++;
      yield results.shift()!;
    }
  }
}

async function poolAll<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
