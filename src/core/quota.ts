/**
 * Quota windows: how much of a limit an agent may use per period, and when the period resets.
 * Pure arithmetic over timestamps; the usage figures come from the store.
 */

export const QUOTA_METRICS = ['requests', 'tokens', 'usd'] as const;
export type QuotaMetric = (typeof QUOTA_METRICS)[number];

export interface QuotaWindow {
  name: string;
  metric: QuotaMetric;
  limit: number;
  hours: number;
  /** `rolling`: the last `hours`; `fixed`: consecutive periods of `hours` from an anchor. */
  mode: 'rolling' | 'fixed';
}

/** Requests, tokens and dollars: what a task is expected to use, or what a window has used. */
export interface Usage {
  requests: number;
  tokens: number;
  usd: number;
}

export const NO_USAGE: Usage = Object.freeze({ requests: 0, tokens: 0, usd: 0 });

export function addUsage(a: Usage, b: Usage): Usage {
  return { requests: a.requests + b.requests, tokens: a.tokens + b.tokens, usd: a.usd + b.usd };
}

/**
 * Where the window counting starts now. Fixed windows are aligned to `anchor` (a quota reset, or
 * the epoch, which makes 24-hour windows UTC days); usage before a manual reset never counts.
 */
export function windowStart(window: QuotaWindow, now: Date, anchor: Date): Date {
  const length = window.hours * 3600_000;
  if (window.mode === 'rolling') return new Date(Math.max(now.getTime() - length, anchor.getTime()));
  const periods = Math.floor((now.getTime() - anchor.getTime()) / length);
  return new Date(anchor.getTime() + Math.max(periods, 0) * length);
}

/**
 * When the window frees up. Fixed: the end of the period. Rolling: when the oldest usage inside
 * it drops out (an underestimate when one run is not enough, which only means an earlier re-check).
 */
export function windowResetsAt(
  window: QuotaWindow,
  now: Date,
  anchor: Date,
  oldestUseInWindow: Date | undefined,
): Date {
  const length = window.hours * 3600_000;
  if (window.mode === 'fixed') return new Date(windowStart(window, now, anchor).getTime() + length);
  return new Date((oldestUseInWindow ?? now).getTime() + length);
}

/**
 * Windows whose whole limit is less than one task is expected to use. Admission still lets one
 * task into such a window when it is unused (rather than parking every task in every period),
 * which is worth a warning at start: the limit is probably a mistake.
 */
export function windowsBelowEstimate(windows: QuotaWindow[], estimate: Usage): QuotaWindow[] {
  return windows.filter((window) => window.limit < estimate[window.metric]);
}
