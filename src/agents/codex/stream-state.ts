import type { TokenUsage } from '../../core/outcome.ts';
import type { HeaderReader } from '../claude-code/response-headers.ts';
import { type EarlyStop, longRateLimitStop } from '../run-verdict.ts';
import { nearlyUsedUntil, openAiRetryAfterMs } from './response-headers.ts';

/**
 * What the supervisor knows about a Codex run, built up one `--json` event at a time, and from
 * the model API responses the tap saw. Pure: no clock, no I/O. Field names follow the CLI's output
 * (shared/protocols/agent-cli.md §3). Unknown event and item types are ignored, never an error.
 */

type Json = Record<string, unknown>;

/** Item types that are the agent using a tool: from `item.started` until `item.completed`. */
export const TOOL_ITEMS = new Set(['command_execution', 'file_change', 'mcp_tool_call', 'web_search']);

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export class CodexStreamState {
  threadId: string | undefined;
  /** The text of the agent's last message: its answer when the turn completes. */
  lastMessage: string | undefined;
  /** Token use by model, as the tap read it off each response (src/agents/response-usage.ts). */
  readonly usageByModel = new Map<string, TokenUsage>();
  turnCompleted = false;
  /** `error.message` of `turn.failed`. */
  failure: string | undefined;
  /** The status of the last model API response that was not a success, as the tap saw it. */
  lastFailedStatus: number | undefined;
  /** The wait the latest 429 asked for. */
  retryAfterMs: number | undefined;
  /** A request or token window of the key is nearly used up until then (its rate-limit headers). */
  quotaWarningUntil: Date | undefined;
  /** Model API requests (responses the tap saw). */
  requestCount = 0;
  readonly #toolsRunning = new Set<string>();

  get toolRunning(): boolean {
    return this.#toolsRunning.size > 0;
  }

  consume(event: unknown): void {
    if (!isObject(event)) return;
    switch (event.type) {
      case 'thread.started':
        if (typeof event.thread_id === 'string') this.threadId = event.thread_id;
        return;
      case 'item.started':
      case 'item.completed':
        this.#item(event.type, event.item);
        return;
      case 'turn.completed':
        // Its usage is the thread's running total; each response's own, read by the tap, is kept.
        this.turnCompleted = true;
        return;
      case 'turn.failed':
        this.failure = isObject(event.error) ? String(event.error.message ?? '') : 'turn failed';
        return;
    }
  }

  /** A model API response's status and headers, as the tap saw them pass. */
  observeResponse(status: number, header: HeaderReader, now: Date): EarlyStop | undefined {
    this.requestCount += 1;
    this.quotaWarningUntil = nearlyUsedUntil(header, now) ?? this.quotaWarningUntil;
    if (status < 400) return undefined;
    this.lastFailedStatus = status;
    // The CLI retries a bad key; it will not get better.
    if (status === 401 || status === 403) {
      return { outcome: 'auth_failed', source: 'api', signal: 'response', field: 'status', value: status };
    }
    const wait = openAiRetryAfterMs(status, header);
    if (wait !== undefined) this.retryAfterMs = wait;
    return longRateLimitStop(wait);
  }

  #item(type: string, item: unknown): void {
    if (!isObject(item)) return;
    const id = String(item.id ?? '');
    if (TOOL_ITEMS.has(String(item.type))) {
      if (type === 'item.started') this.#toolsRunning.add(id);
      else this.#toolsRunning.delete(id);
    }
    if (type === 'item.completed' && item.type === 'agent_message' && typeof item.text === 'string') {
      this.lastMessage = item.text;
    }
  }
}
