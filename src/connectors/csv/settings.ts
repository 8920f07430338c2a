import { z } from 'zod';

const ENCODINGS = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  latin1: 'latin1',
  'iso-8859-1': 'latin1',
  'windows-1252': 'windows-1252',
  cp1252: 'windows-1252',
  'utf-16le': 'utf-16le',
  utf16le: 'utf-16le',
} as const;

export type CsvEncoding = (typeof ENCODINGS)[keyof typeof ENCODINGS];

export const columnTypes = ['string', 'number', 'boolean', 'date'] as const;
export type ColumnType = (typeof columnTypes)[number];

/** Settings of a `csv` connector. Column names are the CSV's (the header's), not the renamed attributes. */
export const csvSettings = z
  .object({
    /** a .csv file, or a folder whose *.csv files are read in name order; relative to the config file */
    path: z.string().min(1),
    objectType: z.string().min(1).default('person'),
    /** the column holding each row's immutable id, or several columns joined with anchorSeparator */
    anchor: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    anchorSeparator: z.string().default('|'),
    delimiter: z.string().min(1).default(','),
    /** the quote character, or false when fields are never quoted */
    quote: z.union([z.string().length(1), z.literal(false)]).default('"'),
    /** escapes a quote inside a quoted field; by default the quote itself ("" is one ") */
    escape: z.string().length(1).optional(),
    encoding: z
      .string()
      .transform((value) => value.toLowerCase())
      .pipe(z.enum(Object.keys(ENCODINGS) as [keyof typeof ENCODINGS]))
      .transform((value) => ENCODINGS[value])
      .default('utf-8'),
    /** the first line names the columns */
    header: z.boolean().default(true),
    /** column names, for files without a header row (or to override it: the header line is then skipped) */
    columnNames: z.array(z.string().min(1)).min(1).optional(),
    /** { column: attribute } renames; other columns keep their name */
    columns: z.record(z.string(), z.string().min(1)).default({}),
    /** { column: separator } for columns holding several values; true means ';' */
    multiValued: z.record(z.string(), z.union([z.string().min(1), z.literal(true)])).default({}),
    /** { column: type }; the others are strings */
    types: z.record(z.string(), z.enum(columnTypes)).default({}),
    /** { column: true } for columns holding another row's anchor: values become { ref } */
    references: z.record(z.string(), z.boolean()).default({}),
    /** columns whose values are never shown in errors and are marked secret in the schema */
    secret: z.array(z.string()).default([]),
    /** strip spaces around values */
    trim: z.boolean().default(true),
  })
  .strict()
  .refine((s) => s.header || s.columnNames !== undefined, {
    message: 'a file without a header row needs columnNames',
    path: ['columnNames'],
  })
  // papaparse would read a lone " as ',' without a word; a line break or the quote cannot delimit fields
  .refine((s) => !/[\r\n"]/.test(s.delimiter) && (s.quote === false || !s.delimiter.includes(s.quote)), {
    message: 'the delimiter cannot contain a line break, a double quote or the quote character',
    path: ['delimiter'],
  });

export type CsvSettings = z.infer<typeof csvSettings>;
