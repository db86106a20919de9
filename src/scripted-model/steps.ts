/**
 * The script language of the scripted model server: one step per model request. Provider presets
 * produce the exact status codes, error types and headers the Claude Code CLI keys off
 * (see shared/protocols/agent-cli.md §1.6).
 */

export interface ScriptedUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export type Headers = Record<string, string>;

interface Modifiers {
  /** Wait this long before answering. */
  delayMs?: number;
  /** Serve this step this many times (a large number models a failure that does not go away). */
  repeat?: number;
}

export type Step = Modifiers &
  (
    | {
        kind: 'text';
        text: string;
        usage?: ScriptedUsage;
        headers?: Headers;
        chunkDelayMs?: number;
        stopReason?: string;
      }
    | {
        kind: 'tool_use';
        tools: Array<{ name: string; input: unknown; id?: string }>;
        text?: string;
        usage?: ScriptedUsage;
        headers?: Headers;
      }
    | {
        kind: 'error';
        status: number;
        type: string;
        message: string;
        headers?: Headers;
        /** Google's `error.details` (a `QuotaFailure`, an `ErrorInfo`); other APIs ignore it. */
        details?: unknown[];
      }
    /** Accept the request and never send headers. */
    | { kind: 'hang' }
    /** 200 and SSE headers, then silence. */
    | { kind: 'hang_after_headers' }
    /** A few deltas, then silence: the CLI's own request timeout does not catch this. */
    | { kind: 'stall_mid_stream' }
    /** Close the stream before `message_stop`. */
    | { kind: 'truncated' }
    /** An SSE data line that is not JSON. */
    | { kind: 'bad_json' }
    /** `event: error` after `message_start`. */
    | { kind: 'sse_error'; type?: string }
    /**
     * The step is computed from the request body when it arrives: for workloads whose answer
     * depends on the prompt (a batch of items, token counts that follow the request's size).
     */
    | { kind: 'reply'; build(body: Record<string, unknown>): Step }
  );

/** A step whose answer is computed from the request (see `reply` in Step). */
export const reply = (build: (body: Record<string, unknown>) => Step, extra: Modifiers = {}): Step => ({
  kind: 'reply',
  build,
  ...extra,
});

export const text = (value: string, extra: Partial<Extract<Step, { kind: 'text' }>> = {}): Step => ({
  kind: 'text',
  text: value,
  ...extra,
});

export const toolUse = (
  tools: Array<{ name: string; input: unknown; id?: string }>,
  extra: { text?: string; usage?: ScriptedUsage } & Modifiers = {},
): Step => ({
  kind: 'tool_use',
  tools,
  ...extra,
});

/** API-key style 429 with retry-after and the standard rate-limit headers. */
export const rateLimit = (retryAfterSeconds: number, repeat = 1): Step => ({
  kind: 'error',
  status: 429,
  type: 'rate_limit_error',
  message: 'Number of request tokens has exceeded your per-minute rate limit',
  repeat,
  headers: {
    'retry-after': String(retryAfterSeconds),
    'anthropic-ratelimit-requests-limit': '50',
    'anthropic-ratelimit-requests-remaining': '0',
    'anthropic-ratelimit-requests-reset': new Date(Date.now() + retryAfterSeconds * 1000).toISOString(),
  },
});

/**
 * A quota rejection with the unified rate-limit headers. Under OAuth credentials the CLI turns
 * them into a `rate_limit_event` with status `rejected` and does not retry; under an API key it
 * shows only "Request rejected (429)" and retries (the supervisor reads the headers itself).
 */
export const quotaExhausted = (
  resetsAtEpochSeconds: number,
  claim = 'five_hour',
  extra: { message?: string; repeat?: number } = {},
): Step => ({
  kind: 'error',
  status: 429,
  type: 'rate_limit_error',
  message: extra.message ?? 'Rate limited',
  ...(extra.repeat ? { repeat: extra.repeat } : {}),
  headers: {
    'anthropic-ratelimit-unified-status': 'rejected',
    'anthropic-ratelimit-unified-reset': String(resetsAtEpochSeconds),
    'anthropic-ratelimit-unified-representative-claim': claim,
    [`anthropic-ratelimit-unified-${claim === 'seven_day' ? '7d' : '5h'}-status`]: 'rejected',
    [`anthropic-ratelimit-unified-${claim === 'seven_day' ? '7d' : '5h'}-reset`]:
      String(resetsAtEpochSeconds),
    [`anthropic-ratelimit-unified-${claim === 'seven_day' ? '7d' : '5h'}-utilization`]: '1.0',
  },
});

/** Headers for a successful response that warns a subscription window is nearly used up. */
export const quotaWarningHeaders = (
  utilization: number,
  threshold: number,
  resetsAtEpochSeconds: number,
): Headers => ({
  'anthropic-ratelimit-unified-status': 'allowed_warning',
  'anthropic-ratelimit-unified-reset': String(resetsAtEpochSeconds),
  'anthropic-ratelimit-unified-representative-claim': 'five_hour',
  'anthropic-ratelimit-unified-5h-status': 'allowed_warning',
  'anthropic-ratelimit-unified-5h-utilization': String(utilization),
  'anthropic-ratelimit-unified-5h-surpassed-threshold': String(threshold),
  'anthropic-ratelimit-unified-5h-reset': String(resetsAtEpochSeconds),
});

export const overloaded = (repeat = 1): Step => ({
  kind: 'error',
  status: 529,
  type: 'overloaded_error',
  message: 'Overloaded',
  repeat,
});

export const serverError = (repeat = 1): Step => ({
  kind: 'error',
  status: 500,
  type: 'api_error',
  message: 'Internal server error',
  repeat,
});

export const authError = (repeat = 1): Step => ({
  kind: 'error',
  status: 401,
  type: 'authentication_error',
  message: 'invalid x-api-key',
  repeat,
});

export const forbidden = (): Step => ({
  kind: 'error',
  status: 403,
  type: 'permission_error',
  message: 'Your API key does not have permission to use the specified resource.',
});

export const billing = (): Step => ({
  kind: 'error',
  status: 400,
  type: 'invalid_request_error',
  message:
    'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
});
