/**
 * Whether an error means the database cannot be reached right now (as opposed to a bad query):
 * refused or dropped connections, and the PostgreSQL codes of a server shutting down or starting.
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up)
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|connection timeout|Client has encountered a connection error|Connection refused/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  for (
    let current: unknown = error, depth = 0;
    current && depth < 10;
    current = (current as { cause?: unknown }).cause, depth++
  ) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (current instanceof Error && UNAVAILABLE_MESSAGES.test(current.message)) return true;
    if (current instanceof AggregateError && current.errors.some(isDatabaseUnavailable)) return true;
  }
  return false;
}

/**
 * Runs `work`, and while it fails because the database is unreachable, tries again with a growing
 * pause (up to 5 s) for at most `maxWaitMs`. Other errors, and an outage that lasts longer, are
 * thrown. Used where giving up would lose something: a finished attempt's result, agent events.
 */
export async function whileUnavailable<T>(
  work: () => Promise<T>,
  options: { maxWaitMs: number; onWait?: (error: unknown) => void },
): Promise<T> {
  const started = Date.now();
  for (let pauseMs = 250; ; pauseMs = Math.min(pauseMs * 2, 5000)) {
    try {
      return await work();
    } catch (error) {
      if (!isDatabaseUnavailable(error) || Date.now() - started + pauseMs > options.maxWaitMs) throw error;
      options.onWait?.(error);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}
