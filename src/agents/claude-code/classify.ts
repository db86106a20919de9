import type { Evidence, Outcome, TokenUsage } from '../../core/outcome.ts';
import { askedQuestions } from '../../core/result-check.ts';
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
import type { ClaudeStreamState, RateLimitInfo } from './stream-state.ts';

/**
 * Turns what a Claude Code run printed, plus process facts and any supervisor-side stop, into
 * exactly one outcome with the evidence it rests on. Pure. It never trusts the exit code or the
 * result `subtype` alone: API failures arrive as `subtype: "success"` with `is_error: true`, and a
 * run that was denied a tool still exits 0.
 */

export interface ClaudeClassification extends Classification {
  /** A subscription window is nearly used up (status `allowed_warning`). */
  quotaWarning?: RateLimitInfo;
  permissionDenials: unknown[];
  /** The CLI's own cost estimate, kept to cross-check ours. */
  cliCostUsd?: number;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** Tools whose denial means the agent wanted a human to answer. */
const ASKING_TOOLS = new Set(['AskUserQuestion', 'ExitPlanMode']);

/** Usage and our own cost, from the result's per-model figures or, without a result, the live stream. */
export function accountUsage(state: ClaudeStreamState): { usage: TokenUsage; costUsd: number } {
  const byModel = new Map<string, TokenUsage>();
  const modelUsage = isObject(state.result?.modelUsage) ? state.result.modelUsage : undefined;
  if (modelUsage) {
    for (const [model, figures] of Object.entries(modelUsage)) {
      if (!isObject(figures)) continue;
      byModel.set(model, {
        inputTokens: num(figures.inputTokens),
        outputTokens: num(figures.outputTokens),
        cacheReadTokens: num(figures.cacheReadInputTokens),
        cacheWriteTokens: num(figures.cacheCreationInputTokens),
      });
    }
  } else {
    for (const [model, usage] of state.liveUsageByModel()) byModel.set(model, usage);
  }
  return pricedUsage(byModel);
}

export function classify(
  state: ClaudeStreamState,
  facts: ProcessFacts,
  stop?: StopCause,
): ClaudeClassification {
  const result = state.result;
  const { usage, costUsd: cost } = accountUsage(state);
  const denials = (Array.isArray(result?.permission_denials) ? result.permission_denials : []).filter(
    (denial) => !(isObject(denial) && state.deniedByPerson.has(String(denial.tool_use_id))),
  );
  const base = {
    permissionDenials: denials,
    usage,
    costUsd: cost,
    ...(typeof result?.total_cost_usd === 'number' ? { cliCostUsd: result.total_cost_usd } : {}),
    ...(state.model ? { model: state.model } : {}),
    ...(state.sessionId ? { sessionId: state.sessionId } : {}),
    ...(typeof result?.result === 'string' ? { resultText: result.result } : {}),
    ...(result && 'structured_output' in result ? { structuredOutput: result.structured_output } : {}),
    ...(state.rateLimit?.status === 'allowed_warning' ? { quotaWarning: state.rateLimit } : {}),
    ...(state.question ? { question: state.question } : {}),
  };
  const verdict = verdictWith<ClaudeClassification>(base);

  if (facts.spawnError) return spawnFailed('claude', facts.spawnError, verdict);
  // A quota refusal stops the run early, and is told with the window it names, below.
  if (stop && !(stop.kind === 'early' && stop.stop.outcome === 'quota_exhausted'))
    return stoppedVerdict(stop, verdict);

  if (state.rateLimit?.status === 'rejected') {
    const resetsAt = state.rateLimit.resetsAt ? new Date(state.rateLimit.resetsAt * 1000) : undefined;
    const evidence: Evidence =
      state.rateLimitSource === 'api'
        ? {
            source: 'api',
            signal: 'response',
            field: 'anthropic-ratelimit-unified-status',
            value: 'rejected',
          }
        : { source: 'event', signal: 'rate_limit_event', field: 'rate_limit_info.status', value: 'rejected' };
    const window = state.rateLimit.rateLimitType ? ` (${state.rateLimit.rateLimitType})` : '';
    return verdict(
      'quota_exhausted',
      { ...evidence, ...(state.rateLimit.rateLimitType ? { detail: state.rateLimit.rateLimitType } : {}) },
      {
        error:
          errorText(result) ??
          `the API refused the credential: its quota${window} is used up${resetsAt ? ` until ${resetsAt.toISOString()}` : ''}`,
        ...(resetsAt ? { resetsAt } : {}),
      },
    );
  }

  if (!result) {
    if (facts.stderrTail.includes('cannot be used with root')) {
      return verdict(
        'infra_error',
        { source: 'process', signal: 'stderr', value: 'bypass_root', detail: facts.stderrTail.slice(-300) },
        {
          retryable: false,
          error: 'claude refused to bypass permissions as root (the supervisor never asks it to)',
        },
      );
    }
    return endedWithout('claude', 'without a result', facts, verdict);
  }

  const subtype = result.subtype;
  if (subtype === 'error_max_turns') {
    return verdict(
      'turn_limit',
      { source: 'event', signal: 'result', field: 'subtype', value: subtype },
      { error: errorText(result) },
    );
  }
  if (subtype === 'error_max_budget_usd') {
    return verdict(
      'budget_exceeded',
      { source: 'event', signal: 'result', field: 'subtype', value: subtype },
      { error: errorText(result) },
    );
  }

  if (result.stop_reason === 'refusal') {
    return verdict(
      'failed',
      { source: 'event', signal: 'result', field: 'stop_reason', value: 'refusal' },
      { retryable: false, error: 'the model refused the request' },
    );
  }
  if (result.is_error === true) return apiFailure(state, result, verdict);

  const asking = denials.find((denial) => isObject(denial) && ASKING_TOOLS.has(String(denial.tool_name)));
  if (asking) {
    return verdict(
      'needs_input',
      { source: 'event', signal: 'result', field: 'permission_denials', value: (asking as Json).tool_name },
      {
        error: 'the agent asked for human input, which a headless run cannot give',
        question: askedQuestions((asking as Json).tool_input),
      },
    );
  }
  if (denials.length > 0) {
    const tools = denials.map((denial) => (isObject(denial) ? String(denial.tool_name) : '?'));
    return verdict(
      'permission_denied',
      { source: 'event', signal: 'result', field: 'permission_denials', value: tools },
      {
        error: `the agent was denied ${denials.length} tool call(s): ${tools.join(', ')}; its result may be incomplete`,
      },
    );
  }
  return verdict('succeeded', { source: 'event', signal: 'result', field: 'is_error', value: false });
}

function apiFailure(
  state: ClaudeStreamState,
  result: Json,
  verdict: (o: Outcome, e: Evidence, x?: Partial<ClaudeClassification>) => ClaudeClassification,
): ClaudeClassification {
  const status = typeof result.api_error_status === 'number' ? result.api_error_status : null;
  const kind = state.assistantError;
  const error = errorText(result);
  const byStatus: Evidence = { source: 'event', signal: 'result', field: 'api_error_status', value: status };
  const byKind: Evidence = { source: 'event', signal: 'assistant', field: 'error', value: kind };

  if (kind === 'billing_error' || status === 402) {
    return verdict('auth_failed', kind === 'billing_error' ? byKind : byStatus, {
      retryable: false,
      error: error ?? 'billing problem on the account',
    });
  }
  if (status === 401 || status === 403 || kind === 'authentication_failed') {
    return verdict('auth_failed', status === 401 || status === 403 ? byStatus : byKind, {
      retryable: false,
      error,
    });
  }
  if (status === 429 || kind === 'rate_limit') {
    // The response's own headers (seen by the tap) say how long; else the CLI's last retry delay.
    const retry = state.lastApiRetry;
    const retryAfterMs =
      state.retryAfterMs ?? (retry?.error === 'rate_limit' ? num(retry.retry_delay_ms) : undefined);
    return verdict('rate_limited', status === 429 ? byStatus : byKind, {
      error,
      ...(retryAfterMs ? { retryAfterMs } : {}),
    });
  }
  if (
    kind === 'invalid_request' ||
    kind === 'model_not_found' ||
    status === 400 ||
    status === 404 ||
    status === 413
  ) {
    return verdict('failed', kind ? byKind : byStatus, { retryable: false, error });
  }
  if (status !== null && status >= 500) return verdict('infra_error', byStatus, { error });
  if (status === null && error?.startsWith('Request timed out')) {
    return verdict(
      'timed_out',
      { source: 'event', signal: 'result', field: 'result', value: 'Request timed out' },
      { error },
    );
  }
  if (kind === 'server_error' || kind === 'overloaded' || kind === 'unknown' || status === null) {
    return verdict('infra_error', kind ? byKind : byStatus, { error });
  }
  return verdict('failed', byStatus, { error });
}

function errorText(result: Json | undefined): string | undefined {
  if (!result) return undefined;
  if (Array.isArray(result.errors) && result.errors.length > 0) return result.errors.map(String).join('; ');
  return typeof result.result === 'string' && result.result ? result.result : undefined;
}
