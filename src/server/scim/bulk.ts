/**
 * Bulk (RFC 7644 §3.7): operations run one after another; `bulkId:X` anywhere in an operation (its path, a
 * member value, a manager) is replaced by the id the operation with bulkId X created. An operation that
 * refers to one not yet run waits until it has; references that can never resolve (missing, circular) fail
 * that operation with 409. `failOnErrors` stops the request after that many errors.
 *
 * Behind a gateway endpoint each write waits for the engine to carry it to the targets. The operations do not
 * wait one by one (a cycle each: 1,000 operations took 107 s): they are written one after another, their
 * waits are collected, and the answer is sent once every wait is over, each operation with its own target
 * outcome. Writes made together share cycles. A target's refusal is known only then, so `failOnErrors` counts
 * the refusals of the directory itself.
 */
import { badRequest, ScimError } from '../../scim/errors.js';
import { BULK_RESPONSE_SCHEMA } from '../../scim/messages.js';
import { type DeferAfterWrite, type Kind, type ScimService, toScimError } from './service.js';

interface BulkOperation {
  method: string;
  bulkId?: string;
  version?: string;
  path: string;
  data?: unknown;
}

interface BulkResult {
  method: string;
  bulkId?: string;
  version?: string;
  location?: string;
  status: string;
  response?: unknown;
}

export async function runBulk(
  service: ScimService,
  body: unknown,
  base: string,
  maxOperations: number,
  parseVersion: (etag: string) => number | undefined,
  /** where an operation's unexpected failure (a defect, a disk error) is logged; the others are results */
  logFailure: (error: unknown) => void,
): Promise<Record<string, unknown>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('invalidSyntax', 'the body must be a BulkRequest message');
  const message = body as Record<string, unknown>;
  const operations = message.Operations ?? message.operations;
  if (!Array.isArray(operations)) throw badRequest('invalidSyntax', 'Operations must be an array');
  if (operations.length > maxOperations) {
    throw new ScimError(
      413,
      undefined,
      `a bulk request may hold at most ${maxOperations} operations, this one has ${operations.length}`,
    );
  }
  const failOnErrors = message.failOnErrors;
  if (
    failOnErrors !== undefined &&
    (typeof failOnErrors !== 'number' || !Number.isInteger(failOnErrors) || failOnErrors < 1)
  ) {
    throw badRequest('invalidValue', 'failOnErrors must be a positive integer');
  }
  const ops = operations.map((op, i) => checkOperation(op, i));
  const byBulkId = new Map<string, number>();
  ops.forEach((op, i) => {
    if (op.bulkId === undefined) return;
    if (byBulkId.has(op.bulkId)) throw badRequest('invalidValue', `bulkId ${op.bulkId} is used twice`);
    byBulkId.set(op.bulkId, i);
  });

  const created = new Map<string, string>();
  const results: (BulkResult | undefined)[] = new Array(ops.length);
  let errors = 0;
  let waiting = ops.map((_, i) => i);
  /** the gateway's waits of the operations written (none without a gateway) */
  const waits: Promise<void>[] = [];
  // each pass runs what can run; an operation whose references are not created yet waits for the next pass
  for (let progress = true; waiting.length > 0 && progress; ) {
    progress = false;
    const next: number[] = [];
    for (const i of waiting) {
      if (failOnErrors !== undefined && errors >= failOnErrors) break;
      const op = ops[i]!;
      const refs = bulkIdsIn(op.path).concat(bulkIdsIn(op.data));
      if (refs.some((r) => byBulkId.has(r) && results[byBulkId.get(r)!] === undefined)) {
        next.push(i);
        continue;
      }
      progress = true;
      const defer: DeferAfterWrite = (wait) => {
        // handled at once, so that a refusal never counts as unhandled while later operations run
        waits.push(wait.then(
          () => undefined,
          (err: unknown) => {
            const result = results[i];
            if (result) results[i] = failureOf(op, err, base, created, logFailure);
          },
        ));
      };
      const result = await runOne(service, op, base, created, parseVersion, logFailure, defer);
      if (Number(result.status) >= 400) errors++;
      results[i] = result;
    }
    waiting = next.filter((i) => results[i] === undefined);
    if (failOnErrors !== undefined && errors >= failOnErrors) break;
  }
  for (const i of waiting) {
    if (failOnErrors !== undefined && errors >= failOnErrors) break;
    const op = ops[i]!;
    results[i] = failure(
      op,
      new ScimError(
        409,
        'invalidValue',
        `the bulkId references of this operation cannot be resolved (circular)`,
      ),
    );
    errors++;
  }
  await Promise.all(waits);
  return {
    schemas: [BULK_RESPONSE_SCHEMA],
    Operations: results.filter((r): r is BulkResult => r !== undefined),
  };
}

function checkOperation(op: unknown, i: number): BulkOperation {
  if (op === null || typeof op !== 'object' || Array.isArray(op))
    throw badRequest('invalidSyntax', `Operations[${i}] must be an object`);
  const o = op as Record<string, unknown>;
  if (typeof o.method !== 'string')
    throw badRequest('invalidSyntax', `Operations[${i}].method must be POST, PUT, PATCH or DELETE`);
  if (typeof o.path !== 'string')
    throw badRequest('invalidSyntax', `Operations[${i}].path must be a string such as /Users`);
  if (o.bulkId !== undefined && typeof o.bulkId !== 'string')
    throw badRequest('invalidSyntax', `Operations[${i}].bulkId must be a string`);
  if (o.method.toUpperCase() === 'POST' && o.bulkId === undefined)
    throw badRequest('invalidSyntax', `Operations[${i}]: a POST needs a bulkId`);
  if (o.version !== undefined && typeof o.version !== 'string')
    throw badRequest('invalidSyntax', `Operations[${i}].version must be an ETag string`);
  return o as unknown as BulkOperation;
}

async function runOne(
  service: ScimService,
  op: BulkOperation,
  base: string,
  created: Map<string, string>,
  parseVersion: (etag: string) => number | undefined,
  logFailure: (error: unknown) => void,
  defer: DeferAfterWrite,
): Promise<BulkResult> {
  const method = op.method.toUpperCase();
  try {
    const path = resolveRefs(op.path, created) as string;
    const data = resolveRefs(op.data, created);
    const m = /^\/(Users|Groups)(?:\/([^/?#]+))?$/i.exec(path);
    if (!m) throw new ScimError(404, undefined, `no resource at ${path} (Bulk handles /Users and /Groups)`);
    const kind: Kind = m[1]!.toLowerCase() === 'users' ? 'Users' : 'Groups';
    const id = m[2] === undefined ? undefined : decodedId(m[2]);
    const ifVersion = op.version === undefined ? undefined : parseVersion(op.version);
    if (op.version !== undefined && ifVersion === undefined)
      throw new ScimError(412, undefined, `version ${op.version} does not match the resource`);
    const needId = () => {
      if (id === undefined) throw badRequest('invalidPath', `${method} needs a path such as /${kind}/{id}`);
      return id;
    };
    switch (method) {
      case 'POST': {
        if (id !== undefined) throw badRequest('invalidPath', 'POST goes to /Users or /Groups');
        const w = await service.create(kind, data, base, defer);
        created.set(op.bulkId!, w.id);
        return {
          method,
          bulkId: op.bulkId!,
          location: location(base, kind, w.id),
          version: `W/"${w.version}"`,
          status: '201',
        };
      }
      case 'PUT': {
        const w = await service.replace(kind, needId(), data, base, ifVersion, defer);
        return withBulkId(op, {
          method,
          location: location(base, kind, w.id),
          version: `W/"${w.version}"`,
          status: '200',
        });
      }
      case 'PATCH': {
        const w = await service.patch(kind, needId(), data, base, ifVersion, { members: false, defer });
        return withBulkId(op, {
          method,
          location: location(base, kind, w.id),
          version: `W/"${w.version}"`,
          status: '200',
        });
      }
      case 'DELETE': {
        await service.delete(kind, needId(), ifVersion, defer);
        return withBulkId(op, { method, location: location(base, kind, needId()), status: '204' });
      }
      default:
        throw badRequest('invalidSyntax', `method ${op.method}: use POST, PUT, PATCH or DELETE`);
    }
  } catch (err) {
    return failureOf(op, err, base, created, logFailure);
  }
}

/** An operation's failure as its result: a SCIM error as such, anything else as a 500 whose cause is logged. */
function failureOf(
  op: BulkOperation,
  err: unknown,
  base: string,
  created: Map<string, string>,
  logFailure: (error: unknown) => void,
): BulkResult {
  const scim = toScimError(err);
  if (scim instanceof ScimError) return failure(op, scim, failedLocation(base, op, created));
  // Earlier operations are committed: a 500 for the whole request would hide the ids they created. This
  // operation fails alone, its cause goes to the log as any 500's does.
  logFailure(err);
  return failure(
    op,
    new ScimError(500, undefined, 'the server failed to handle this operation; the problem is logged'),
    failedLocation(base, op, created),
  );
}

function isPercentEncoding(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

function decodedId(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badRequest('invalidPath', `the id in the path is not valid percent-encoding: ${JSON.stringify(text.slice(0, 40))}`);
  }
}

function failure(op: BulkOperation, err: ScimError, location?: string): BulkResult {
  return withBulkId(op, {
    method: op.method.toUpperCase(),
    ...(location !== undefined && { location }),
    status: String(err.status),
    response: err.toResponse(),
  });
}

/** RFC 7644 §3.7.3: a failed operation on a resource still names it (only a failed POST has no location). */
function failedLocation(base: string, op: BulkOperation, created: Map<string, string>): string | undefined {
  if (op.method.toUpperCase() === 'POST') return undefined;
  let path: string;
  try {
    path = resolveRefs(op.path, created) as string;
  } catch {
    return undefined;
  }
  const m = /^\/(Users|Groups)\/([^/?#]+)$/i.exec(path);
  // a path that names no resource (not even valid percent-encoding) gets no location
  if (!m || !isPercentEncoding(m[2]!)) return undefined;
  return location(base, m[1]!.toLowerCase() === 'users' ? 'Users' : 'Groups', m[2]!);
}

function withBulkId(op: BulkOperation, result: BulkResult): BulkResult {
  return op.bulkId === undefined ? result : { ...result, bulkId: op.bulkId };
}

function location(base: string, kind: Kind, id: string): string {
  return `${base}/${kind}/${id}`;
}

const BULK_REF = /^bulkId:(.+)$/;

function bulkIdsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    const m = BULK_REF.exec(value) ?? /\/bulkId:([^/]+)/.exec(value);
    if (m) out.push(m[1]!);
  } else if (Array.isArray(value)) {
    for (const v of value) bulkIdsIn(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) bulkIdsIn(v, out);
  }
  return out;
}

function resolveRefs(value: unknown, created: Map<string, string>): unknown {
  if (typeof value === 'string') {
    const whole = BULK_REF.exec(value);
    if (whole) return resolved(whole[1]!, created);
    return value.replace(/\/bulkId:([^/]+)/g, (_, id: string) => `/${resolved(id, created)}`);
  }
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, created));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, created)]));
  }
  return value;
}

function resolved(bulkId: string, created: Map<string, string>): string {
  const id = created.get(bulkId);
  if (id === undefined)
    throw new ScimError(409, 'invalidValue', `bulkId:${bulkId} names no operation that created a resource`);
  return id;
}
