import type { Outcome } from './outcome.ts';

/** What to do with a task once one of its attempts has ended. */
export type NextStep =
  | { kind: 'succeed' }
  | { kind: 'cancel' }
  | { kind: 'fail'; reason: string }
  | { kind: 'retry'; delayMs: number; countsAgainstBudget: boolean };

export interface RetrySettings {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface AttemptFacts {
  outcome: Outcome;
  /** The attempt was cut short by a crash or shutdown of the supervisor, not by the task itself. */
  interrupted: boolean;
  /** Attempts so far that counted against the task's own budget, including this one if it counts. */
  budgetedAttempts: number;
  /** All attempts so far, including this one. */
  totalAttempts: number;
  /** A delay the agent's API asked for (retry-after), if any. */
  retryAfterMs?: number;
  /** The driver knows retrying cannot help (a refused request, a repository that does not exist). */
  retryable?: boolean;
}

/**
 * Interruptions and infrastructure hiccups do not use up a task's attempts, but a task that keeps
 * taking the supervisor down with it must still end: this many extra attempts, then it fails.
 */
export const EXTRA_ATTEMPTS_FOR_INTERRUPTIONS = 10;

/**
 * Outcomes that retrying cannot fix: the same task would hit the same wall again. (`no_change` is
 * the agent's considered answer, kept in the result; `no_result` is a slip of form, worth a retry.)
 */
const NOT_RETRYABLE: ReadonlySet<Outcome> = new Set([
  'permission_denied',
  'needs_input',
  'no_change',
  'budget_exceeded',
  'turn_limit',
]);

/**
 * Outcomes that are the agent's trouble, not the task's: the task moves to another agent at once
 * (the pool now knows this one is cooling down, exhausted or disabled) without using an attempt.
 */
export const FAILOVER_OUTCOMES: ReadonlySet<Outcome> = new Set([
  'quota_exhausted',
  'rate_limited',
  'auth_failed',
]);

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries of many
 * tasks that failed together spread out instead of arriving in a wave.
 */
export function retryDelayMs(attempt: number, settings: RetrySettings, random: () => number): number {
  const exponential = settings.baseDelayMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30);
  const capped = Math.min(settings.maxDelayMs, exponential);
  return Math.round(capped / 2 + (capped / 2) * random());
}

/** Decides a task's next step from the outcome of its latest attempt. Pure. */
export function nextStep(facts: AttemptFacts, settings: RetrySettings, random: () => number): NextStep {
  const { outcome } = facts;
  if (outcome === 'succeeded') return { kind: 'succeed' };
  if (outcome === 'cancelled' && !facts.interrupted) return { kind: 'cancel' };

  const hardCap = settings.maxAttempts + EXTRA_ATTEMPTS_FOR_INTERRUPTIONS;
  if (facts.totalAttempts >= hardCap) {
    return { kind: 'fail', reason: `gave up after ${facts.totalAttempts} attempts (${outcome})` };
  }
  if (facts.interrupted || FAILOVER_OUTCOMES.has(outcome))
    return { kind: 'retry', delayMs: 0, countsAgainstBudget: false };
  if (NOT_RETRYABLE.has(outcome) || facts.retryable === false) {
    return { kind: 'fail', reason: `${outcome} is not fixed by retrying` };
  }
  if (facts.budgetedAttempts >= settings.maxAttempts) {
    return {
      kind: 'fail',
      reason: `${outcome} on attempt ${facts.budgetedAttempts} of ${settings.maxAttempts}`,
    };
  }
  const backoff = retryDelayMs(facts.budgetedAttempts, settings, random);
  return { kind: 'retry', delayMs: Math.max(backoff, facts.retryAfterMs ?? 0), countsAgainstBudget: true };
}
