import type { Outcome } from './outcome.ts';

/**
 * What an attempt's outcome says about the agent (not the task), as a change to the agent's state.
 * Pure. A 429 cools the agent down for that model; a subscription window that rejected the run
 * exhausts it until the window resets; a bad credential disables it; overloads and server errors
 * are not the account's fault and change nothing.
 */
export type AgentSignal =
  | { kind: 'none' }
  | { kind: 'cooldown'; model: string; until: Date; reason: 'rate_limited' | 'quota_exhausted' }
  | { kind: 'disable'; reason: string };

export interface AttemptSignalFacts {
  outcome: Outcome;
  model?: string;
  retryAfterMs?: number;
  resetsAt?: Date;
  /** The subscription window that rejected the run (`five_hour`, `seven_day_opus`, …). */
  rateLimitType?: string;
  error?: string;
}

/** How long an agent rests after a 429 that named no delay. */
export const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 60_000;
/** How long an exhausted subscription rests when the CLI did not say when it resets. */
export const DEFAULT_QUOTA_COOLDOWN_MS = 3600_000;

export function agentSignal(facts: AttemptSignalFacts, now: Date): AgentSignal {
  switch (facts.outcome) {
    case 'rate_limited':
      return {
        kind: 'cooldown',
        model: facts.model ?? '*',
        until: new Date(now.getTime() + (facts.retryAfterMs ?? DEFAULT_RATE_LIMIT_COOLDOWN_MS)),
        reason: 'rate_limited',
      };
    case 'quota_exhausted': {
      // Model-specific weekly windows (seven_day_opus, seven_day_sonnet) only block that family.
      const family = /_(opus|sonnet|haiku)$/.exec(facts.rateLimitType ?? '')?.[1];
      const until =
        facts.resetsAt && facts.resetsAt > now
          ? facts.resetsAt
          : new Date(now.getTime() + DEFAULT_QUOTA_COOLDOWN_MS);
      return { kind: 'cooldown', model: family ?? '*', until, reason: 'quota_exhausted' };
    }
    case 'auth_failed':
      return { kind: 'disable', reason: facts.error ?? 'the API rejected the credential' };
    default:
      return { kind: 'none' };
  }
}
