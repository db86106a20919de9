/**
 * The honest outcome contract: every attempt ends in exactly one of these, derived from the
 * agent's event stream and process facts, never from the exit code alone.
 */
export const OUTCOMES = [
  'succeeded',
  'failed',
  /** The agent ran to its end but produced nothing usable (a review type without structured output). */
  'no_result',
  /** A task that asks for a change ended with no file changed. */
  'no_change',
  'quota_exhausted',
  'rate_limited',
  'auth_failed',
  'permission_denied',
  'needs_input',
  'timed_out',
  'stalled',
  'budget_exceeded',
  'turn_limit',
  'cancelled',
  'infra_error',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * What a task's `outcome` may say: the outcome of its latest attempt, or `dependency_failed` for a
 * task that never ran because a task it depends on failed or was cancelled. Kept apart from
 * OUTCOMES because no attempt can end that way.
 */
export const TASK_OUTCOMES = [...OUTCOMES, 'dependency_failed'] as const;
export type TaskOutcome = (typeof TASK_OUTCOMES)[number];

/**
 * What made the classifier decide: the event or fact it read, the field, and the value seen.
 * Kept on the attempt so an operator can check the verdict.
 */
export interface Evidence {
  /** `api`: a model API response's status and headers, as the supervisor's tap saw them pass. */
  source: 'event' | 'api' | 'process' | 'watchdog' | 'supervisor';
  /** The event type or fact, e.g. `result`, `rate_limit_event`, `exit`, `inactivity`. */
  signal: string;
  /** Field that carried the signal, e.g. `api_error_status`. */
  field?: string;
  value?: unknown;
  detail?: string;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export const ZERO_USAGE: TokenUsage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
});
