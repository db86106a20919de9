/**
 * Token buckets keyed by caller (a token id, an IP address): each holds up to `perMinute`
 * permits and refills continuously, so a burst up to the limit is allowed and the steady rate
 * is `perMinute`. In memory: with several API replicas each enforces its own share.
 */
export class RateLimiter {
  readonly #perMinute: number;
  readonly #buckets = new Map<string, { permits: number; at: number }>();

  constructor(perMinute: number) {
    this.#perMinute = perMinute;
  }

  /** Takes a permit for `key`; when none is left, says how many seconds until one is. */
  take(key: string, nowMs: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const bucket = this.#buckets.get(key) ?? { permits: this.#perMinute, at: nowMs };
    const refilled = Math.min(
      this.#perMinute,
      bucket.permits + ((nowMs - bucket.at) / 60_000) * this.#perMinute,
    );
    if (refilled < 1) {
      this.#buckets.set(key, { permits: refilled, at: nowMs });
      return { ok: false, retryAfterSeconds: Math.ceil(((1 - refilled) * 60) / this.#perMinute) };
    }
    this.#buckets.set(key, { permits: refilled - 1, at: nowMs });
    if (this.#buckets.size > 10_000) this.#forgetFull(nowMs);
    return { ok: true };
  }

  /** Buckets that have refilled completely carry no information; dropping them bounds memory. */
  #forgetFull(nowMs: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.permits + ((nowMs - bucket.at) / 60_000) * this.#perMinute >= this.#perMinute) {
        this.#buckets.delete(key);
      }
    }
  }
}
