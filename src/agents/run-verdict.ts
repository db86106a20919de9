import type { Evidence, Outcome, TokenUsage } from '../core/outcome.ts';
import type { AgentRunReport } from './driver.ts';

/**
 * What every agent CLI's classifier shares: why the supervisor stopped a run, the facts about the
 * process, the verdict's shape, and how a stop the supervisor made becomes an outcome. Pure.
 */

/** A signal that the run will not recover, seen before the CLI gives up by itself. */
export interface EarlyStop {
  outcome: 'auth_failed' | 'rate_limited' | 'quota_exhausted' | 'needs_input' | 'infra_error';
  /** `event`: a line the CLI printed; `api`: a model API response seen by the tap. */
  source: 'event' | 'api';
  signal: string;
  field: string;
  value: unknown;
  retryAfterMs?: number;
}

/** A 429 whose retry the CLI would sit through for this long or longer is not worth waiting for. */
export const LONG_RATE_LIMIT_MS = 30_000;

/** The early stop for a 429 that asks for a long wait (its retry-after), or undefined. */
export function longRateLimitStop(waitMs: number | undefined): EarlyStop | undefined {
  if (waitMs === undefined || waitMs < LONG_RATE_LIMIT_MS) return undefined;
  return {
    outcome: 'rate_limited',
    source: 'api',
    signal: 'response',
    field: 'retry-after',
    value: Math.round(waitMs / 1000),
    retryAfterMs: waitMs,
  };
}

/** Why the supervisor stopped the run, if it did. */
export type StopCause =
  | { kind: 'inactivity'; idleMs: number }
  | { kind: 'wall_clock'; limitMs: number }
  | { kind: 'budget'; limitUsd: number; spentUsd: number }
  | { kind: 'cancel' }
  | { kind: 'shutdown' }
  | { kind: 'early'; stop: EarlyStop };

export interface ProcessFacts {
  exitCode: number | null;
  signal: string | null;
  stderrTail: string;
  /** The process could not be started at all. */
  spawnError?: string;
}

export interface Classification {
  outcome: Outcome;
  evidence: Evidence;
  /** Retrying cannot help (a bad request, a missing model): fail the task now. */
  retryable: boolean;
  error?: string;
  retryAfterMs?: number;
  /** When a subscription window that rejected the run resets. */
  resetsAt?: Date;
  resultText?: string;
  structuredOutput?: unknown;
  /** What the agent asked a person (outcome `needs_input`). */
  question?: string;
  usage: TokenUsage;
  costUsd: number;
  model?: string;
  sessionId?: string;
}

export type Verdict<C extends Classification> = (
  outcome: Outcome,
  evidence: Evidence,
  extra?: Partial<C>,
) => C;

/**
 * The verdict maker of one run: what every outcome of it carries (`base`), then the outcome, its
 * evidence, and what else it says. Retryable unless it says otherwise.
 */
export function verdictWith<C extends Classification>(
  base: Omit<C, 'outcome' | 'evidence' | 'retryable'>,
): Verdict<C> {
  return (outcome, evidence, extra = {}) => ({ ...base, outcome, evidence, retryable: true, ...extra }) as C;
}

/** The verdict of a CLI that ended without the event that finishes a run (`what`). */
export function endedWithout<C extends Classification>(
  cli: string,
  what: string,
  facts: ProcessFacts,
  verdict: Verdict<C>,
): C {
  const how = facts.signal ? `signal ${facts.signal}` : `exit code ${facts.exitCode}`;
  return verdict(
    'infra_error',
    {
      source: 'process',
      signal: 'exit',
      field: facts.signal ? 'signal' : 'code',
      value: facts.signal ?? facts.exitCode,
      detail: facts.stderrTail.slice(-300) || undefined,
    },
    { error: `${cli} ended (${how}) ${what}` } as Partial<C>,
  );
}

/** The verdict of a CLI that could not be started at all. */
export function spawnFailed<C extends Classification>(cli: string, error: string, verdict: Verdict<C>): C {
  return verdict('infra_error', { source: 'process', signal: 'spawn', detail: error }, {
    error: `could not start ${cli}: ${error}`,
  } as Partial<C>);
}

const EARLY_STOP_ERRORS: Record<EarlyStop['outcome'], string> = {
  auth_failed: 'the API rejected the credential',
  rate_limited: 'rate limited with a long retry delay',
  quota_exhausted: 'the API refused the credential: its quota is used up until the window resets',
  needs_input: 'the agent stopped to ask a question',
  infra_error: 'the model API keeps failing with server errors',
};

/** The outcome of a run the supervisor stopped (its watchdog, a cancel, a shutdown, an early stop). */
export function stoppedVerdict<C extends Classification>(stop: StopCause, verdict: Verdict<C>): C {
  switch (stop.kind) {
    case 'inactivity':
      return verdict('stalled', { source: 'watchdog', signal: 'inactivity', value: stop.idleMs }, {
        error: `no event from the agent for ${Math.round(stop.idleMs / 1000)} s while no tool was running`,
      } as Partial<C>);
    case 'wall_clock':
      return verdict('timed_out', { source: 'watchdog', signal: 'wall_clock', value: stop.limitMs }, {
        error: `the attempt ran past its ${Math.round(stop.limitMs / 1000)} s limit`,
      } as Partial<C>);
    case 'budget':
      return verdict(
        'budget_exceeded',
        { source: 'watchdog', signal: 'budget', value: stop.spentUsd, detail: `limit $${stop.limitUsd}` },
        {
          retryable: false,
          error: `the attempt spent $${stop.spentUsd.toFixed(4)}, over its $${stop.limitUsd} budget`,
        } as Partial<C>,
      );
    case 'cancel':
      return verdict('cancelled', { source: 'supervisor', signal: 'cancel' });
    case 'shutdown':
      return verdict('infra_error', { source: 'supervisor', signal: 'shutdown' }, {
        error: 'stopped by a supervisor shutdown',
      } as Partial<C>);
    case 'early':
      return verdict(
        stop.stop.outcome,
        {
          source: stop.stop.source,
          signal: stop.stop.signal,
          field: stop.stop.field,
          value: stop.stop.value,
          detail:
            stop.stop.outcome === 'needs_input'
              ? 'stopped at the question: nobody answers a headless run'
              : 'stopped early: the CLI would keep retrying',
        },
        {
          error: EARLY_STOP_ERRORS[stop.stop.outcome],
          ...(stop.stop.retryAfterMs ? { retryAfterMs: stop.stop.retryAfterMs } : {}),
        } as Partial<C>,
      );
  }
}

/** The driver's report of a classified run. */
export function reportOf(verdict: Classification, apiRequests: number): AgentRunReport {
  return {
    outcome: verdict.outcome,
    evidence: verdict.evidence,
    retryable: verdict.retryable,
    usage: verdict.usage,
    costUsd: verdict.costUsd,
    ...(verdict.error ? { error: verdict.error } : {}),
    ...(verdict.question ? { question: verdict.question } : {}),
    ...(verdict.resultText !== undefined ? { resultText: verdict.resultText } : {}),
    ...(verdict.structuredOutput !== undefined
      ? { result: { structured_output: verdict.structuredOutput } }
      : {}),
    ...(verdict.model ? { model: verdict.model } : {}),
    ...(verdict.sessionId ? { sessionId: verdict.sessionId } : {}),
    ...(verdict.retryAfterMs ? { retryAfterMs: verdict.retryAfterMs } : {}),
    ...(verdict.resetsAt ? { resetsAt: verdict.resetsAt } : {}),
    apiRequests,
  };
}
