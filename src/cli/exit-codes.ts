/** Documented exit codes (docs/cli.md). Scripts and schedulers rely on them: never renumber. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  config: 2,
  objectErrors: 3,
  held: 4,
  /** a connector was skipped (quarantined); the others ran */
  incomplete: 5,
} as const;
