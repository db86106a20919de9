import type { Evidence, Outcome } from '../../core/outcome.ts';
import { pricedUsage } from '../response-usage.ts';
import {
  type Classification,
  endedWithout,
  type ProcessFacts,
  type StopCause,
  spawnFailed,
  stoppedVerdict,
  verdictWith,
} from '../run-verdict.ts';
import type { CodexStreamState } from './stream-state.ts';

/**
 * Turns what a Codex run printed, the model API responses the tap saw, process facts and any
 * supervisor-side stop into exactly one outcome with the evidence it rests on. Pure.
 *
 * `codex exec` ends every failure with `turn.failed` and exit code 1, and its message is all it
 * says: the HTTP status the tap saw decides first, the message's own words (shared/protocols/
 * agent-cli.md §3) when the tap saw none. Only `turn.completed` is a finished run.
 */

export interface CodexRunFacts {
  model: string;
  /** A JSON schema was asked for: the answer is parsed as the structured output. */
  structured: boolean;
}

export function classifyCodex(
  state: CodexStreamState,
  facts: ProcessFacts,
  run: CodexRunFacts,
  stop?: StopCause,
): Classification {
  const { usage, costUsd } = pricedUsage(state.usageByModel);
  const structuredOutput = run.structured ? parseAnswer(state.lastMessage) : undefined;
  const base = {
    usage,
    costUsd,
    model: run.model,
    ...(state.threadId ? { sessionId: state.threadId } : {}),
    ...(state.lastMessage !== undefined ? { resultText: state.lastMessage } : {}),
    ...(structuredOutput !== undefined ? { structuredOutput } : {}),
  };
  const verdict = verdictWith<Classification>(base);

  if (facts.spawnError) return spawnFailed('codex', facts.spawnError, verdict);
  if (stop) return stoppedVerdict(stop, verdict);
  if (state.failure !== undefined) return failedTurn(state, state.failure, verdict);
  if (state.turnCompleted) {
    return verdict('succeeded', { source: 'event', signal: 'turn.completed' });
  }
  return endedWithout('codex', 'without finishing its turn', facts, verdict);
}

type VerdictOf = (o: Outcome, e: Evidence, x?: Partial<Classification>) => Classification;

function failedTurn(state: CodexStreamState, message: string, verdict: VerdictOf): Classification {
  const status = state.lastFailedStatus;
  const byStatus: Evidence = { source: 'api', signal: 'response', field: 'status', value: status };
  const byMessage = (value: string): Evidence => ({
    source: 'event',
    signal: 'turn.failed',
    field: 'error.message',
    value,
    detail: message.slice(0, 300),
  });
  const error = message || 'the turn failed';

  // An exhausted quota (OpenAI's insufficient_quota) is a 429 too: only the message tells it apart.
  if (message.includes('Quota exceeded')) {
    return verdict('quota_exhausted', byMessage('Quota exceeded'), {
      error: `the API refused the credential: its quota is used up (${error})`,
    });
  }
  if (status === 401 || status === 403 || /\b40[13] (Unauthorized|Forbidden)\b/.test(message)) {
    return verdict('auth_failed', status ? byStatus : byMessage('401 Unauthorized'), {
      retryable: false,
      error,
    });
  }
  if (status === 429 || message.includes('429 Too Many Requests')) {
    return verdict('rate_limited', status ? byStatus : byMessage('429 Too Many Requests'), {
      error,
      ...(state.retryAfterMs ? { retryAfterMs: state.retryAfterMs } : {}),
    });
  }
  if (message.includes('idle timeout waiting for SSE')) {
    return verdict('stalled', byMessage('idle timeout waiting for SSE'), {
      error: 'the model API stream went silent and the CLI gave up on it',
    });
  }
  if (status === 400 || status === 404 || status === 413 || message.includes('"invalid_request_error"')) {
    return verdict('failed', status ? byStatus : byMessage('invalid_request_error'), {
      retryable: false,
      error,
    });
  }
  // 5xx, a dropped stream, or words we do not know: the API's trouble, worth another try.
  return verdict('infra_error', status ? byStatus : byMessage(message.slice(0, 80)), { error });
}

/** The answer as JSON, when it is (a structured answer); undefined otherwise. */
function parseAnswer(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
