import type { RateLimitInfo } from './stream-state.ts';

/**
 * What the Anthropic API's response headers say about an agent's quota. Pure.
 *
 * The CLI turns the unified rate-limit headers into a `rate_limit_event` only for subscription
 * (OAuth) credentials; for API keys and gateway tokens it shows nothing but "Request rejected
 * (429)" and retries. The supervisor reads the headers itself as responses pass through its model
 * API tap (src/agents/model-api-tap.ts), so every credential class gives the same signals:
 *
 * - `anthropic-ratelimit-unified-status` (`allowed`, `allowed_warning`, `rejected`) with
 *   `-reset` (epoch seconds), `-representative-claim` (`five_hour`, `seven_day`, …) and the
 *   claim's own `-5h-utilization` / `-7d-utilization`: read as the CLI's `rate_limit_info`.
 * - On a 429, `retry-after` (seconds or an HTTP date); without it, the earliest
 *   `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset` whose `-remaining`
 *   is 0: how long the agent must rest.
 */

export type HeaderReader = (name: string) => string | undefined;

const CLAIM_PREFIX: Record<string, string> = { five_hour: '5h', seven_day: '7d' };

/** The unified rate-limit state a response carries, in the shape of the CLI's `rate_limit_info`. */
export function unifiedRateLimit(header: HeaderReader): RateLimitInfo | undefined {
  const status = header('anthropic-ratelimit-unified-status');
  if (!status) return undefined;
  const claim = header('anthropic-ratelimit-unified-representative-claim');
  const prefix = claim ? CLAIM_PREFIX[claim] : undefined;
  const resetsAt = Number(
    header('anthropic-ratelimit-unified-reset') ??
      (prefix ? header(`anthropic-ratelimit-unified-${prefix}-reset`) : undefined),
  );
  const utilization = Number(prefix ? header(`anthropic-ratelimit-unified-${prefix}-utilization`) : NaN);
  return {
    status,
    ...(Number.isFinite(resetsAt) && resetsAt > 0 ? { resetsAt } : {}),
    ...(claim ? { rateLimitType: claim } : {}),
    ...(Number.isFinite(utilization) ? { utilization } : {}),
  };
}

const RESET_METRICS = ['requests', 'tokens', 'input-tokens', 'output-tokens'];

/** How long a 429 asks the agent to wait, in ms; undefined when it names no time. */
export function retryAfterMs(status: number, header: HeaderReader, now: Date): number | undefined {
  if (status !== 429) return undefined;
  const retryAfter = header('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return Math.max(0, at - now.getTime());
  }
  const resets = RESET_METRICS.filter(
    (metric) => header(`anthropic-ratelimit-${metric}-remaining`)?.trim() === '0',
  )
    .map((metric) => Date.parse(header(`anthropic-ratelimit-${metric}-reset`) ?? ''))
    .filter(Number.isFinite);
  if (resets.length === 0) return undefined;
  return Math.max(0, Math.min(...resets) - now.getTime());
}
