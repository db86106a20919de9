import { Webhook } from 'standardwebhooks';
import { type Notification, toWebhookPayload } from '../message.ts';
import { ChannelError, errorCode, type NotificationChannel, redact, rootMessage } from './channel.ts';

export interface WebhookChannelOptions {
  /** Where to POST; http or https. */
  url: string;
  /**
   * The signing secret, `whsec_` and the base64 of 24 to 64 random bytes (Standard Webhooks), e.g.
   * `whsec_$(openssl rand -base64 32)`. The receiver verifies with the same value.
   */
  secret: string;
  /** Longest one POST may take, reading the answer included. */
  timeoutMs: number;
  /** Clock for webhook-timestamp; receivers reject a signature more than 5 minutes off. */
  now?: () => Date;
}

/** The spec's recommended minimum: shorter keys make the HMAC guessable offline. */
const MIN_SECRET_BYTES = 24;
/** How much of a refusal's body to quote: enough for "invalid signature", not a whole error page. */
const BODY_EXCERPT_CHARS = 200;

/**
 * POSTs each notification as JSON signed per Standard Webhooks (webhook-id, webhook-timestamp,
 * webhook-signature: `v1,` HMAC-SHA256 of `id.timestamp.body`). The id is the notification's, so
 * a retry carries the same id and a receiver can drop the duplicate.
 */
export class WebhookChannel implements NotificationChannel {
  readonly name = 'webhook';
  readonly #url: URL;
  readonly #signer: Webhook;
  readonly #secret: string;
  readonly #timeoutMs: number;
  readonly #now: () => Date;

  constructor(options: WebhookChannelOptions) {
    const invalid = (message: string) => new ChannelError('webhook', message, { retryable: false });
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw invalid(
        'WEBHOOK_URL is not a URL; give the receiver’s full address, e.g. https://hooks.example.com/supervisor',
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalid(`WEBHOOK_URL must be http or https, not ${url.protocol.slice(0, -1)}`);
    }
    const key = options.secret.replace(/^whsec_/, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length < MIN_SECRET_BYTES) {
      throw invalid(
        `WEBHOOK_SECRET must be whsec_ followed by the base64 of at least ${MIN_SECRET_BYTES} random bytes; ` +
          'generate one with: echo "whsec_$(openssl rand -base64 32)"',
      );
    }
    this.#url = url;
    this.#secret = options.secret;
    this.#signer = new Webhook(options.secret);
    this.#timeoutMs = options.timeoutMs;
    this.#now = options.now ?? (() => new Date());
  }

  async send(n: Notification): Promise<void> {
    const body = JSON.stringify(toWebhookPayload(n));
    const timestamp = this.#now();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': n.id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': this.#signer.sign(n.id, timestamp, body),
    };
    // The URL's path and query can hold a token of the receiver's; errors name only the origin.
    const target = this.#url.origin;
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: 'POST',
        headers,
        body,
        // A redirect would resend (or, for 301/302, drop) the signed body somewhere unconfigured.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw this.#unreachable(error, target);
    }
    // Read the whole answer under the same deadline, so the connection is free for the next send.
    const answer = await response.text().catch(() => '');
    if (response.ok) return;
    const status = response.status;
    const excerpt = redact(answer.replace(/\s+/g, ' ').trim().slice(0, BODY_EXCERPT_CHARS), [this.#secret]);
    const hint =
      status >= 300 && status < 400
        ? '; webhooks do not follow redirects, set WEBHOOK_URL to the final address'
        : status === 401 || status === 403
          ? '; check that the receiver verifies with the same WEBHOOK_SECRET'
          : '';
    throw new ChannelError(
      'webhook',
      `${target} answered ${status} ${response.statusText}${excerpt ? `: ${excerpt}` : ''}${hint}`,
      // 4xx means the receiver refuses this request as it is, except for these, which pass.
      { retryable: status >= 500 || [408, 409, 425, 429].includes(status) },
    );
  }

  #unreachable(error: unknown, target: string): ChannelError {
    if (error instanceof Error && error.name === 'TimeoutError') {
      return new ChannelError('webhook', `${target} did not answer within ${this.#timeoutMs} ms`, {
        cause: error,
        retryable: true,
      });
    }
    const reason = rootMessage(error) || errorCode(error) || 'unknown error';
    return new ChannelError('webhook', `cannot reach ${target}: ${redact(reason, [this.#secret])}`, {
      cause: error,
      retryable: true,
    });
  }
}
