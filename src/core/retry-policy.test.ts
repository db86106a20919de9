import { describe, expect, it } from 'vitest';
import {
  type AttemptFacts,
  EXTRA_ATTEMPTS_FOR_INTERRUPTIONS,
  nextStep,
  retryDelayMs,
} from './retry-policy.ts';

const settings = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 10_000 };
const facts = (overrides: Partial<AttemptFacts>): AttemptFacts => ({
  outcome: 'failed',
  interrupted: false,
  budgetedAttempts: 1,
  totalAttempts: 1,
  ...overrides,
});

describe('retryDelayMs', () => {
  it('doubles per attempt, half fixed and half jitter', () => {
    expect(retryDelayMs(1, settings, () => 0)).toBe(500);
    expect(retryDelayMs(1, settings, () => 1)).toBe(1000);
    expect(retryDelayMs(2, settings, () => 0)).toBe(1000);
    expect(retryDelayMs(3, settings, () => 0.5)).toBe(3000);
  });

  it('is capped by maxDelayMs', () => {
    expect(retryDelayMs(30, settings, () => 1)).toBe(10_000);
    expect(retryDelayMs(1000, settings, () => 0)).toBe(5000);
  });
});

describe('nextStep', () => {
  it('succeeds and cancels on the matching outcomes', () => {
    expect(nextStep(facts({ outcome: 'succeeded' }), settings, () => 0)).toEqual({ kind: 'succeed' });
    expect(nextStep(facts({ outcome: 'cancelled' }), settings, () => 0)).toEqual({ kind: 'cancel' });
  });

  it('retries a failure with backoff while the budget lasts', () => {
    expect(nextStep(facts({ budgetedAttempts: 1 }), settings, () => 0)).toEqual({
      kind: 'retry',
      delayMs: 500,
      countsAgainstBudget: true,
    });
    expect(nextStep(facts({ budgetedAttempts: 2, totalAttempts: 2 }), settings, () => 0)).toMatchObject({
      kind: 'retry',
      delayMs: 1000,
    });
    expect(nextStep(facts({ budgetedAttempts: 3, totalAttempts: 3 }), settings, () => 0)).toEqual({
      kind: 'fail',
      reason: 'failed on attempt 3 of 3',
    });
  });

  it('waits at least as long as the API asked', () => {
    expect(nextStep(facts({ outcome: 'timed_out', retryAfterMs: 7000 }), settings, () => 0)).toMatchObject({
      kind: 'retry',
      delayMs: 7000,
    });
  });

  it.each(['quota_exhausted', 'rate_limited', 'auth_failed'] as const)(
    'fails %s over to another agent at once, free',
    (outcome) => {
      expect(nextStep(facts({ outcome, budgetedAttempts: 3, totalAttempts: 3 }), settings, () => 0)).toEqual({
        kind: 'retry',
        delayMs: 0,
        countsAgainstBudget: false,
      });
    },
  );

  it.each(['permission_denied', 'needs_input', 'budget_exceeded', 'turn_limit'] as const)(
    'does not retry %s',
    (outcome) => {
      expect(nextStep(facts({ outcome }), settings, () => 0)).toMatchObject({ kind: 'fail' });
    },
  );

  it('fails at once when the driver says retrying cannot help', () => {
    expect(nextStep(facts({ outcome: 'failed', retryable: false }), settings, () => 0)).toEqual({
      kind: 'fail',
      reason: 'failed is not fixed by retrying',
    });
  });

  it('retries interruptions at once without using the budget', () => {
    expect(
      nextStep(
        facts({ outcome: 'infra_error', interrupted: true, budgetedAttempts: 3, totalAttempts: 5 }),
        settings,
        () => 0,
      ),
    ).toEqual({ kind: 'retry', delayMs: 0, countsAgainstBudget: false });
  });

  it('gives up when interruptions never stop', () => {
    const total = settings.maxAttempts + EXTRA_ATTEMPTS_FOR_INTERRUPTIONS;
    expect(
      nextStep(
        facts({ outcome: 'infra_error', interrupted: true, budgetedAttempts: 0, totalAttempts: total }),
        settings,
        () => 0,
      ),
    ).toEqual({ kind: 'fail', reason: `gave up after ${total} attempts (infra_error)` });
  });
});
