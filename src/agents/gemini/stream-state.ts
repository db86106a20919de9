import type { TokenUsage } from '../../core/outcome.ts';
import type { HeaderReader } from '../claude-code/response-headers.ts';
import { openAiRetryAfterMs } from '../codex/response-headers.ts';
import type { EarlyStop } from '../run-verdict.ts';

/**
 * What the supervisor knows about a Gemini CLI run, built up one stream-json event at a time and
 * from the model API responses the tap saw. Pure. Field names follow the CLI's output
 * (shared/protocols/agent-cli.md §4); unknown events are ignored.
 *
 * The CLI retries a 429 or a 5xx about ten times over some 220 s and takes no setting to stop it.
 * An exhausted daily quota it does not retry, and tells; so the second such response in a row
 * stops the run (the first may be the quota refusal, which ends the run by itself).
 */

type Json = Record<string, unknown>;

export class GeminiStreamState {
  sessionId: string | undefined;
  model: string | undefined;
  /** What the agent said since its last tool call: its answer when the run ends. */
  answer = '';
  /** The `result` event. */
  result: Json | undefined;
  lastFailedStatus: number | undefined;
  retryAfterMs: number | undefined;
  requestCount = 0;
  /** Token use by model, as the tap read it off each response (src/agents/response-usage.ts). */
  readonly usageByModel = new Map<string, TokenUsage>();
  readonly #toolsRunning = new Set<string>();
  #failuresInARow = 0;

  get toolRunning(): boolean {
    return this.#toolsRunning.size > 0;
  }

  consume(event: Json): void {
    switch (event.type) {
      case 'init':
        if (typeof event.session_id === 'string') this.sessionId = event.session_id;
        if (typeof event.model === 'string') this.model = event.model;
        return;
      case 'message':
        if (event.role !== 'assistant' || typeof event.content !== 'string') return;
        this.answer = event.delta === true ? this.answer + event.content : event.content;
        return;
      case 'tool_use':
        this.#toolsRunning.add(String(event.tool_id));
        this.answer = '';
        return;
      case 'tool_result':
        this.#toolsRunning.delete(String(event.tool_id));
        return;
      case 'result':
        this.result = event;
        return;
    }
  }

  /** A model API response's status and headers, as the tap saw them pass. */
  observeResponse(status: number, header: HeaderReader): EarlyStop | undefined {
    this.requestCount += 1;
    if (status < 400) {
      this.#failuresInARow = 0;
      return undefined;
    }
    this.lastFailedStatus = status;
    if (status === 401 || status === 403) {
      return { outcome: 'auth_failed', source: 'api', signal: 'response', field: 'status', value: status };
    }
    const retried = status === 429 || status >= 500;
    if (!retried) return undefined;
    this.#failuresInARow += 1;
    const wait = openAiRetryAfterMs(status, header);
    if (wait !== undefined) this.retryAfterMs = wait;
    if (this.#failuresInARow < 2) return undefined;
    return {
      outcome: status === 429 ? 'rate_limited' : 'infra_error',
      source: 'api',
      signal: 'response',
      field: 'status',
      value: status,
      ...(status === 429 && wait ? { retryAfterMs: wait } : {}),
    };
  }
}
