import type { Evidence, Outcome } from '../../core/outcome.ts';
import { pricedUsage } from '../response-usage.ts';
import {
  type Classification,
  type ProcessFacts,
  type StopCause,
  spawnFailed,
  stoppedVerdict,
  verdictWith,
} from '../run-verdict.ts';
import type { GeminiStreamState } from './stream-state.ts';

/**
 * Turns what a Gemini CLI run printed, the API responses the tap saw, process facts and any
 * supervisor-side stop into exactly one outcome with its evidence. Pure. Only `result` with status
 * `success` is a finished run. A failure is told by the HTTP status the tap saw, else by the
 * CLI's exit code (the status mod 256: 429 → 173, 400 → 144, 503 → 247) and its message
 * (shared/protocols/agent-cli.md §4).
 */

type VerdictOf = (o: Outcome, e: Evidence, x?: Partial<Classification>) => Classification;

const EXIT_STATUS: Record<number, number> = { 173: 429, 144: 400, 247: 503, 145: 401, 147: 403, 148: 404 };

export function classifyGemini(
  state: GeminiStreamState,
  facts: ProcessFacts,
  run: { model: string; structured: boolean },
  stop?: StopCause,
): Classification {
  const { usage, costUsd } = pricedUsage(state.usageByModel);
  const answer = state.answer.trim();
  const structuredOutput = run.structured ? parseAnswer(answer) : undefined;
  const base = {
    usage,
    costUsd,
    model: state.model ?? run.model,
    ...(state.sessionId ? { sessionId: state.sessionId } : {}),
    ...(answer ? { resultText: answer } : {}),
    ...(structuredOutput !== undefined ? { structuredOutput } : {}),
  };
  const verdict = verdictWith<Classification>(base);

  if (facts.spawnError) return spawnFailed('gemini', facts.spawnError, verdict);
  if (stop) return stoppedVerdict(stop, verdict);
  if (state.result?.status === 'success') {
    return verdict('succeeded', { source: 'event', signal: 'result', field: 'status', value: 'success' });
  }
  const resultError = state.result?.error as { message?: unknown } | undefined;
  const message =
    typeof resultError?.message === 'string' ? resultError.message : facts.stderrTail.slice(-500);
  return failed(state, facts, message, verdict);
}

function failed(
  state: GeminiStreamState,
  facts: ProcessFacts,
  message: string,
  verdict: VerdictOf,
): Classification {
  const status =
    state.lastFailedStatus ?? (facts.exitCode !== null ? EXIT_STATUS[facts.exitCode] : undefined);
  const evidence: Evidence = state.lastFailedStatus
    ? { source: 'api', signal: 'response', field: 'status', value: state.lastFailedStatus }
    : {
        source: 'process',
        signal: 'exit',
        field: 'code',
        value: facts.exitCode,
        detail: message.slice(0, 300),
      };
  const error = message.split('\n')[0] || `gemini ended (exit code ${facts.exitCode}) without a result`;

  // A daily quota is a 429 the CLI does not retry: only its words tell it from a rate limit.
  if (/exhausted your daily quota|daily quota/i.test(message)) {
    return verdict(
      'quota_exhausted',
      {
        source: 'event',
        signal: 'result',
        field: 'error.message',
        value: 'daily quota',
        detail: message.slice(0, 300),
      },
      { error: `the API refused the credential: its quota is used up (${error})` },
    );
  }
  if (status === 401 || status === 403 || /API key not valid|API_KEY_INVALID/.test(message)) {
    return verdict('auth_failed', evidence, { retryable: false, error });
  }
  if (status === 429) {
    return verdict('rate_limited', evidence, {
      error,
      ...(state.retryAfterMs ? { retryAfterMs: state.retryAfterMs } : {}),
    });
  }
  if (facts.exitCode === 41 || facts.exitCode === 55) {
    // The CLI's own configuration (auth method, workspace trust): the supervisor's bug, not the task's.
    return verdict('infra_error', evidence, { retryable: false, error });
  }
  if (status === 400 || status === 404 || status === 413)
    return verdict('failed', evidence, { retryable: false, error });
  return verdict('infra_error', evidence, { error });
}

/** The answer as JSON (a fenced ```json block is read too); undefined when it is not. */
function parseAnswer(text: string): unknown {
  const fenced = /^```(?:json)?\s*\n([\s\S]*?)\n```$/.exec(text)?.[1] ?? text;
  try {
    return JSON.parse(fenced);
  } catch {
    return undefined;
  }
}
