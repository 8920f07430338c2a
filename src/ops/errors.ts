/**
 * The codes of metrics and notifications (src/ops). A code is never renamed. None of these fails a cycle:
 * a delivery that fails is logged with its code and dropped after its retries.
 */
export const OPS_CODES = [
  /** /metrics without the bearer token serve.metrics.token names, or with another one */
  'OPS_METRICS_UNAUTHORIZED',
  /** /metrics asked for by a client that is not on this machine while serve.metrics has no token */
  'OPS_METRICS_FORBIDDEN',
  /** the SMTP server refused the message or could not be reached (after every retry) */
  'NOTIFY_EMAIL_FAILED',
  /** the webhook receiver answered with an error status or could not be reached (after every retry) */
  'NOTIFY_WEBHOOK_FAILED',
] as const;

export type OpsCode = (typeof OPS_CODES)[number];
