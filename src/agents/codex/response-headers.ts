import type { HeaderReader } from '../claude-code/response-headers.ts';

/**
 * How long an OpenAI 429 asks the agent to wait, in ms; undefined when it names no time. Pure.
 * `retry-after` (seconds) when present; else the earliest `x-ratelimit-reset-{requests,tokens}`
 * (a duration such as `6m0s` or `250ms`) whose `x-ratelimit-remaining-…` is 0.
 */
export function openAiRetryAfterMs(status: number, header: HeaderReader): number | undefined {
  if (status !== 429) return undefined;
  const retryAfter = header('retry-after')?.trim();
  if (retryAfter && /^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
  const waits = ['requests', 'tokens']
    .filter((metric) => header(`x-ratelimit-remaining-${metric}`)?.trim() === '0')
    .map((metric) => durationMs(header(`x-ratelimit-reset-${metric}`) ?? ''))
    .filter((ms): ms is number => ms !== undefined);
  return waits.length ? Math.min(...waits) : undefined;
}

/** A window with less than this share left warns: other agents are preferred until it resets. */
export const LOW_SHARE = 0.05;

/**
 * Until when an OpenAI key's request or token window is nearly used up, from the
 * `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` headers of any response; undefined when
 * neither is (or the API sends none).
 */
export function nearlyUsedUntil(header: HeaderReader, now: Date): Date | undefined {
  const until = ['requests', 'tokens']
    .filter((metric) => {
      const limit = Number(header(`x-ratelimit-limit-${metric}`));
      const remaining = Number(header(`x-ratelimit-remaining-${metric}`));
      return limit > 0 && Number.isFinite(remaining) && remaining / limit < LOW_SHARE;
    })
    .map((metric) => durationMs(header(`x-ratelimit-reset-${metric}`) ?? ''))
    .filter((ms): ms is number => ms !== undefined);
  return until.length ? new Date(now.getTime() + Math.max(...until)) : undefined;
}

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** `1h2m3.5s`, `6m0s`, `250ms` in ms; undefined for anything else. */
export function durationMs(text: string): number | undefined {
  const value = text.trim();
  if (!/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(value)) return undefined;
  let total = 0;
  for (const [, amount, , unit] of value.matchAll(/(\d+(\.\d+)?)(h|ms|m|s)/g)) {
    total += Number(amount) * UNIT_MS[unit!]!;
  }
  return Math.round(total);
}
