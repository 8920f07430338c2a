/**
 * The `sql` connector's settings. Validated once when the config loads; everything downstream works on the
 * parsed, defaulted shape.
 */
import { z } from 'zod';

const identifier = z.string().min(1).max(200);
const columnList = z.union([identifier, z.array(identifier).min(1)]);

export const COLUMN_TYPES = ['string', 'number', 'boolean', 'date', 'binary', 'json'] as const;

const multiValuedSchema = z.strictObject({
  /** the child table: one row per value */
  table: identifier,
  /** the column(s) of the child table holding the parent's anchor (same order as the parent's anchor) */
  key: columnList,
  /** the column holding the value */
  value: identifier,
  type: z.enum(COLUMN_TYPES).optional(),
});

const softDeleteSchema = z.strictObject({
  column: identifier,
  /** the value that marks a row deleted; absent: any non-NULL value does (a deleted_at column) */
  value: z.union([z.string(), z.number(), z.boolean()]).optional(),
});

const deleteLogSchema = z.strictObject({
  /** a table (or view) with one row per deleted object: its anchor column(s) and a watermark column */
  table: identifier,
  anchor: columnList,
  column: identifier,
});

const deltaSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('watermark'),
    /** a column the database sets on every insert and update: a timestamp, a rowversion or a change sequence */
    column: identifier,
    /**
     * How far back each delta re-reads: seconds for a timestamp column, units for a numeric one. Covers
     * transactions that commit after a newer change was already read. Already delivered rows are skipped.
     */
    overlap: z.number().nonnegative().optional(),
    softDelete: softDeleteSchema.optional(),
    deleteLog: deleteLogSchema.optional(),
  }),
  z.strictObject({
    mode: z.literal('changelog'),
    /** the table whose triggers feed the log (default: the object type's table) */
    triggerTable: identifier.optional(),
    softDelete: softDeleteSchema.optional(),
  }),
]);

const statementSchema = z.union([z.string().min(1), z.strictObject({ statement: z.string().min(1) })]);

const exportSchema = z.strictObject({
  /** the table written to (default: the object type's table) */
  table: identifier.optional(),
  /** statements (or CALLs) the administrator supplies; `:name` binds an attribute, `:anchor` the anchor */
  create: statementSchema.optional(),
  update: statementSchema.optional(),
  delete: z.union([statementSchema, z.literal('soft')]).optional(),
});

export const objectTypeSchema = z
  .strictObject({
    table: identifier.optional(),
    view: identifier.optional(),
    /** a SELECT the administrator supplies; it is wrapped as a derived table for paging */
    query: z.string().min(1).optional(),
    anchor: columnList,
    /** column → attribute; a list keeps the column names; absent: every column by its name */
    attributes: z.union([z.record(z.string(), z.string().min(1)), z.array(identifier)]).optional(),
    /** overrides of the type read from the database's metadata, by column */
    types: z.record(z.string(), z.enum(COLUMN_TYPES)).optional(),
    multiValued: z.record(z.string(), multiValuedSchema).optional(),
    /** attributes whose values are the anchors of other rows */
    references: z.record(z.string(), z.strictObject({ objectType: z.string().min(1) })).optional(),
    delta: deltaSchema.optional(),
    export: exportSchema.optional(),
  })
  .refine((o) => [o.table, o.view, o.query].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of table, view or query',
  });

const changeLogSchema = z.strictObject({
  table: identifier.default('idsync_changes'),
  /**
   * How long (database clock, seconds) a missing log id is waited for before it is taken for a rolled-back
   * insert. Must exceed the longest transaction that writes to the watched tables.
   */
  gapTimeout: z.number().positive().default(600),
});

export const sqlSettingsSchema = z
  .strictObject({
    driver: z.enum(['postgres', 'mysql', 'sqlite']),
    url: z.string().min(1).optional(),
    host: z.string().min(1).optional(),
    port: z.number().int().positive().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    database: z.string().optional(),
    /** sqlite: the database file, relative to the config file's folder */
    file: z.string().min(1).optional(),
    ssl: z
      .union([
        z.boolean(),
        z.strictObject({ ca: z.string().optional(), rejectUnauthorized: z.boolean().optional() }),
      ])
      .optional(),
    poolSize: z.number().int().positive().max(100).default(4),
    /** milliseconds; 0 disables */
    statementTimeout: z.number().int().nonnegative().default(60_000),
    connectTimeout: z.number().int().positive().default(10_000),
    /** the zone of timestamps stored without one (pg timestamp, MariaDB DATETIME, SQLite text): 'UTC', '+02:00' or an IANA name */
    naiveTimeZone: z.string().default('UTC'),
    /** changes per export transaction */
    exportBatchSize: z.number().int().positive().max(10_000).default(100),
    changeLog: changeLogSchema.default({ table: 'idsync_changes', gapTimeout: 600 }),
    objectTypes: z.record(z.string().min(1), objectTypeSchema),
  })
  .superRefine((s, ctx) => {
    if (s.driver === 'sqlite' && !s.file && !s.url)
      ctx.addIssue({ code: 'custom', message: 'sqlite needs file', path: ['file'] });
    if (s.driver !== 'sqlite' && !s.url && !s.host)
      ctx.addIssue({ code: 'custom', message: `${s.driver} needs url or host`, path: ['host'] });
    if (Object.keys(s.objectTypes).length === 0)
      ctx.addIssue({ code: 'custom', message: 'at least one object type', path: ['objectTypes'] });
    for (const [type, o] of Object.entries(s.objectTypes)) {
      for (const [attr, r] of Object.entries(o.references ?? {})) {
        const target = s.objectTypes[r.objectType];
        if (!target) {
          ctx.addIssue({
            code: 'custom',
            message: `unknown object type ${r.objectType}`,
            path: ['objectTypes', type, 'references', attr],
          });
        } else if (Array.isArray(target.anchor) && target.anchor.length > 1) {
          ctx.addIssue({
            code: 'custom',
            message: `${r.objectType} has a composite anchor: a single column cannot reference it`,
            path: ['objectTypes', type, 'references', attr],
          });
        }
      }
      if (
        !o.table &&
        o.export &&
        !o.export.table &&
        (!o.export.create || !o.export.update || !o.export.delete)
      ) {
        ctx.addIssue({
          code: 'custom',
          message: 'a view or query object type exports through export.table or its own statements',
          path: ['objectTypes', type, 'export'],
        });
      }
      if (o.delta?.mode === 'changelog' && !o.table && !o.delta.triggerTable) {
        ctx.addIssue({
          code: 'custom',
          message: 'changelog mode on a view or query needs delta.triggerTable',
          path: ['objectTypes', type, 'delta'],
        });
      }
    }
    try {
      new Intl.DateTimeFormat('en-US', {
        timeZone: /^[+-]\d{2}:\d{2}$/.test(s.naiveTimeZone) ? 'UTC' : s.naiveTimeZone,
      });
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: `unknown time zone ${s.naiveTimeZone}`,
        path: ['naiveTimeZone'],
      });
    }
  });

export type SqlSettings = z.infer<typeof sqlSettingsSchema>;
export type SqlSettingsInput = z.input<typeof sqlSettingsSchema>;
export type ObjectTypeSettings = z.infer<typeof objectTypeSchema>;
export type ColumnType = (typeof COLUMN_TYPES)[number];
export type DeltaSettings = NonNullable<ObjectTypeSettings['delta']>;
