import type { TokenUsage } from '../../core/outcome.ts';
import { askedQuestions } from '../../core/result-check.ts';
import { type EarlyStop, LONG_RATE_LIMIT_MS, longRateLimitStop } from '../run-verdict.ts';
import { type HeaderReader, retryAfterMs, unifiedRateLimit } from './response-headers.ts';

/**
 * What the supervisor knows about a Claude Code run, built up one stream-json event at a time.
 * Pure: no clock, no I/O. The driver feeds it every parsed stdout line; the watchdog reads whether
 * a tool is running and what the run has cost so far; the classifier reads the rest at the end.
 * Field names follow the CLI's output (shared/protocols/agent-cli.md §1.3). Unknown event types
 * and fields are ignored, never an error.
 */

type Json = Record<string, unknown>;

export interface RateLimitInfo {
  status: string;
  resetsAt?: number;
  rateLimitType?: string;
  utilization?: number;
}

/**
 * Tools a model calls to ask a person. Headless runs disable them (the CLI answers "No such tool
 * available"), and the model then guesses; the run is stopped at the question instead.
 */
const ASKING_TOOLS = new Set(['AskUserQuestion']);

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

export class ClaudeStreamState {
  sessionId: string | undefined;
  model: string | undefined;
  permissionMode: string | undefined;
  /** The last `result` event (one per turn in -p mode). */
  result: Json | undefined;
  /**
   * The latest unified rate-limit state: from a `rate_limit_event` (subscriptions) or from the
   * headers of a response the model API tap saw (every credential class).
   */
  rateLimit: RateLimitInfo | undefined;
  rateLimitSource: 'event' | 'api' | undefined;
  /** The wait the latest 429 asked for (its `retry-after`, or its rate-limit reset headers). */
  retryAfterMs: number | undefined;
  /** `error` of the last synthetic assistant message (API failures). */
  assistantError: string | undefined;
  lastApiRetry: Json | undefined;
  /** What the agent asked a person, in plain words (an `AskUserQuestion` call). */
  question: string | undefined;
  eventCount = 0;
  /** Tool calls a person denied (tool_use ids): the agent was told and went on, so not its failure. */
  readonly deniedByPerson = new Set<string>();
  readonly #runningTools = new Set<string>();
  /** Live usage per API message id: input and cache from message_start, output from message_delta. */
  readonly #liveUsage = new Map<string, { model: string; usage: TokenUsage }>();
  #currentMessageId: string | undefined;

  /** Model API requests seen so far (one `message_start` each). */
  get requestCount(): number {
    return this.#liveUsage.size;
  }

  get toolRunning(): boolean {
    return this.#runningTools.size > 0;
  }

  /** Usage so far, per model, as the stream reported it (before the final `result`). */
  liveUsageByModel(): Map<string, TokenUsage> {
    const byModel = new Map<string, TokenUsage>();
    for (const { model, usage } of this.#liveUsage.values()) {
      const sum = byModel.get(model) ?? {
        inputTokens: 0,
        outputTokens: 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      };
      sum.inputTokens += usage.inputTokens;
      sum.outputTokens += usage.outputTokens;
      sum.cacheReadTokens += usage.cacheReadTokens;
      sum.cacheWriteTokens += usage.cacheWriteTokens;
      byModel.set(model, sum);
    }
    return byModel;
  }

  /** Takes in one event; returns an early stop when the event says the run cannot succeed. */
  consume(event: unknown): EarlyStop | undefined {
    if (!isObject(event)) return undefined;
    this.eventCount += 1;
    if (typeof event.session_id === 'string') this.sessionId = event.session_id;
    switch (event.type) {
      case 'system':
        return this.#system(event);
      case 'assistant':
        return this.#assistant(event);
      case 'user':
        this.#user(event);
        return undefined;
      case 'stream_event':
        this.#streamEvent(event);
        return undefined;
      case 'rate_limit_event':
        if (isObject(event.rate_limit_info)) {
          const info = event.rate_limit_info;
          this.rateLimit = {
            status: String(info.status),
            ...(typeof info.resetsAt === 'number' ? { resetsAt: info.resetsAt } : {}),
            ...(typeof info.rateLimitType === 'string' ? { rateLimitType: info.rateLimitType } : {}),
            ...(typeof info.utilization === 'number' ? { utilization: info.utilization } : {}),
          };
          this.rateLimitSource = 'event';
        }
        return undefined;
      case 'result':
        this.result = event;
        return undefined;
      default:
        return undefined;
    }
  }

  /**
   * Takes in the status and headers of a model API response (seen by the model API tap); returns
   * an early stop when the API refused the credential's quota, or asked for a wait the run should
   * not sit through.
   */
  observeResponse(status: number, header: HeaderReader, now: Date): EarlyStop | undefined {
    const unified = unifiedRateLimit(header);
    if (unified) {
      this.rateLimit = unified;
      this.rateLimitSource = 'api';
    }
    if (unified?.status === 'rejected') {
      return {
        outcome: 'quota_exhausted',
        source: 'api',
        signal: 'response',
        field: 'anthropic-ratelimit-unified-status',
        value: 'rejected',
      };
    }
    if (status !== 429) return undefined;
    const wait = retryAfterMs(status, header, now);
    this.retryAfterMs = wait;
    return longRateLimitStop(wait);
  }

  #system(event: Json): EarlyStop | undefined {
    if (event.subtype === 'init') {
      if (typeof event.model === 'string') this.model = event.model;
      if (typeof event.permissionMode === 'string') this.permissionMode = event.permissionMode;
      return undefined;
    }
    if (event.subtype !== 'api_retry') return undefined;
    this.lastApiRetry = event;
    // The CLI retries a bad key for minutes; it will not get better.
    if (event.error === 'authentication_failed') {
      return {
        outcome: 'auth_failed',
        source: 'event',
        signal: 'api_retry',
        field: 'error',
        value: event.error,
      };
    }
    const delay = num(event.retry_delay_ms);
    if (event.error === 'rate_limit' && delay >= LONG_RATE_LIMIT_MS) {
      return {
        outcome: 'rate_limited',
        source: 'event',
        signal: 'api_retry',
        field: 'retry_delay_ms',
        value: delay,
        retryAfterMs: delay,
      };
    }
    return undefined;
  }

  #assistant(event: Json): EarlyStop | undefined {
    if (typeof event.error === 'string') this.assistantError = event.error;
    const message = isObject(event.message) ? event.message : undefined;
    if (typeof message?.model === 'string' && message.model !== '<synthetic>') this.model = message.model;
    for (const block of Array.isArray(message?.content) ? message.content : []) {
      if (!isObject(block) || block.type !== 'tool_use') continue;
      if (typeof block.id === 'string') this.#runningTools.add(block.id);
      if (ASKING_TOOLS.has(String(block.name))) {
        this.question = askedQuestions(block.input);
        return {
          outcome: 'needs_input',
          source: 'event',
          signal: 'assistant',
          field: 'tool_use',
          value: block.name,
        };
      }
    }
    return undefined;
  }

  #user(event: Json): void {
    const message = isObject(event.message) ? event.message : undefined;
    for (const block of Array.isArray(message?.content) ? message.content : []) {
      if (isObject(block) && block.type === 'tool_result' && typeof block.tool_use_id === 'string') {
        this.#runningTools.delete(block.tool_use_id);
      }
    }
  }

  #streamEvent(event: Json): void {
    const inner = isObject(event.event) ? event.event : undefined;
    if (inner?.type === 'message_start' && isObject(inner.message)) {
      const message = inner.message;
      const usage = isObject(message.usage) ? message.usage : {};
      const id = typeof message.id === 'string' ? message.id : `message-${this.#liveUsage.size}`;
      this.#currentMessageId = id;
      this.#liveUsage.set(id, {
        model: typeof message.model === 'string' ? message.model : (this.model ?? 'unknown'),
        usage: {
          inputTokens: num(usage.input_tokens),
          outputTokens: num(usage.output_tokens),
          cacheReadTokens: num(usage.cache_read_input_tokens),
          cacheWriteTokens: num(usage.cache_creation_input_tokens),
        },
      });
    } else if (inner?.type === 'message_delta' && isObject(inner.usage) && this.#currentMessageId) {
      const entry = this.#liveUsage.get(this.#currentMessageId);
      // message_delta carries the cumulative output count for the message.
      if (entry) entry.usage.outputTokens = num(inner.usage.output_tokens);
    }
  }
}
