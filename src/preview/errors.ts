/** The codes of a plan of a proposed config (plan.ts). A code is never renamed. */
export const PREVIEW_CODES = [
  /** another proposed config is being planned in this process: one at a time */
  'PREVIEW_BUSY',
  /** the plan took longer than its timeout and was stopped */
  'PREVIEW_TIMEOUT',
  /** the plan failed for another reason than a connector (whose failure is a failed phase of the plan) */
  'PREVIEW_FAILED',
] as const;

export type PreviewCode = (typeof PREVIEW_CODES)[number];
