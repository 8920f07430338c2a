/**
 * The tables of the state as both stores hold them (the lease aside: it belongs to a running process), each
 * with its columns and its key, in the order a copy writes them (store/copy.ts).
 */
export interface TableSpec {
  name: string;
  columns: string[];
  /** the primary key: pages are read in its order */
  key: string[];
  /** an identity column PostgreSQL numbers itself (its sequence is moved past a copy's rows) */
  identity?: string;
}

export const TABLES: TableSpec[] = [
  { name: 'meta', columns: ['key', 'value'], key: ['key'] },
  { name: 'watermarks', columns: ['connector', 'watermark', 'updated_at'], key: ['connector'] },
  {
    name: 'cs',
    columns: ['id', 'connector', 'object_type', 'anchor', 'name', 'attributes', 'present', 'mv_id', 'seen_gen', 'dirty'],
    key: ['id'],
    identity: 'id',
  },
  { name: 'cs_refs', columns: ['target', 'cs_id', 'connector'], key: ['target', 'cs_id'] },
  { name: 'cs_index', columns: ['connector', 'attr', 'key', 'cs_id'], key: ['connector', 'attr', 'key', 'cs_id'] },
  { name: 'mv', columns: ['id', 'object_type', 'attributes', 'deleted', 'dirty'], key: ['id'] },
  { name: 'mv_index', columns: ['object_type', 'attr', 'key', 'mv_id'], key: ['object_type', 'attr', 'key', 'mv_id'] },
  { name: 'mv_refs', columns: ['target', 'mv_id'], key: ['target', 'mv_id'] },
  {
    name: 'pending',
    columns: ['cs_id', 'connector', 'op', 'desired', 'create_only', 'desired_name', 'rule', 'state', 'attempts', 'last_error', 'not_before', 'rank', 'disable'],
    key: ['cs_id'],
  },
  {
    name: 'object_errors',
    columns: ['connector', 'key', 'phase', 'code', 'message', 'location', 'remote_code', 'attribute', 'attempts', 'first_at', 'last_at'],
    key: ['connector', 'key'],
  },
  {
    name: 'log',
    columns: ['id', 'run_id', 'at', 'connector', 'object', 'cs_id', 'mv_id', 'phase', 'situation', 'action', 'status', 'steps', 'changes', 'error', 'name', 'names'],
    key: ['id'],
    identity: 'id',
  },
  { name: 'runs', columns: ['id', 'kind', 'started_at', 'finished_at', 'status', 'stats'], key: ['id'], identity: 'id' },
  { name: 'approvals', columns: ['connector', 'at'], key: ['connector'] },
];
