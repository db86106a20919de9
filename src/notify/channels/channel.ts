import type { Notification } from '../message.ts';

/**
 * A place notifications go. `send` makes one delivery attempt, bounded by the channel's timeout, and
 * either resolves (the service accepted the message) or throws a `ChannelError`. It never retries:
 * retrying, with backoff, is the notification queue's job, so a channel that is down costs one
 * timeout per attempt rather than a stalled worker.
 */
export interface NotificationChannel {
  /** `slack`, `email` or `webhook`: the names NOTIFY_ROUTES uses. */
  readonly name: string;
  send(n: Notification): Promise<void>;
}

/**
 * A failed delivery. The message names the channel, the cause and, where there is one, the fix; it
 * never holds a credential (token, password, signing secret), so it can be logged and stored as is.
 */
export class ChannelError extends Error {
  readonly channel: string;
  /**
   * False when sending again cannot succeed until someone changes the configuration (a revoked
   * token, an unknown channel, a rejected login): the queue can stop retrying and say so.
   */
  readonly retryable: boolean;
  /** How long the service asked us to wait before the next attempt (Slack's rate limit). */
  readonly retryAfterMs: number | undefined;

  constructor(
    channel: string,
    message: string,
    options: { cause?: unknown; retryable: boolean; retryAfterMs?: number },
  ) {
    super(`${channel}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChannelError';
    this.channel = channel;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

const REDACTED = '[redacted]';

/**
 * `text` with every occurrence of the given secrets replaced. Error text from a library or a server
 * is not ours to vouch for; this is the last check before it goes into a ChannelError.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let result = text;
  for (const secret of secrets) {
    // A very short value would also match ordinary words; no real credential is that short.
    if (secret && secret.length >= 4) result = result.split(secret).join(REDACTED);
  }
  return result;
}

/** The `code` of an error or of its cause (Node's ECONNREFUSED sits on fetch's `cause`). */
export function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/** The innermost message, which is the informative one (`connect ECONNREFUSED …`, not `fetch failed`). */
export function rootMessage(error: unknown): string {
  let current = error;
  for (let depth = 0; current instanceof Error && current.cause instanceof Error && depth < 4; depth++) {
    current = current.cause;
  }
  return current instanceof Error ? current.message : String(current);
}
