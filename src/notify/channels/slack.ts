import {
  type Logger,
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebClient,
} from '@slack/web-api';
import { type Notification, toSlackBlocks } from '../message.ts';
import { ChannelError, errorCode, type NotificationChannel, redact, rootMessage } from './channel.ts';

export interface SlackChannelOptions {
  /** Bot token (`xoxb-…`) of a Slack app with the `chat:write` scope. */
  token: string;
  /** Channel id (`C0123456789`, survives renames) or name (`#alerts`); the bot must be a member. */
  channel: string;
  /**
   * Base URL of the Web API; tests point it at a loopback stub.
   * @defaultValue `https://slack.com/api/` (the library's)
   */
  apiUrl?: string;
  /** Longest one chat.postMessage call may take, connecting included. */
  timeoutMs: number;
}

/**
 * Slack error codes that sending again will not fix, each with what the operator should change.
 * Any other code (internal_error, service_unavailable, an unknown one) is treated as transient.
 */
const CONFIGURATION_ERRORS: Record<string, string> = {
  invalid_auth: 'the token is not valid; check SLACK_BOT_TOKEN (a bot token, xoxb-…)',
  not_authed: 'no token reached Slack; set SLACK_BOT_TOKEN',
  token_revoked: 'the token was revoked; reinstall the Slack app and update SLACK_BOT_TOKEN',
  token_expired: 'the token expired; reinstall the Slack app and update SLACK_BOT_TOKEN',
  account_inactive: 'the token belongs to a deleted user or workspace; update SLACK_BOT_TOKEN',
  missing_scope: 'the app lacks the chat:write scope; add it and reinstall the app',
  channel_not_found: 'check SLACK_CHANNEL; a private channel is only visible once the bot is invited',
  not_in_channel: 'invite the bot to the channel (/invite @your-app) or use another SLACK_CHANNEL',
  is_archived: 'the channel is archived; unarchive it or set another SLACK_CHANNEL',
  restricted_action: 'the workspace does not let this app post there; ask a Slack admin',
  invalid_blocks: 'Slack rejected the message layout; this is a supervisor bug, please report it',
};

/** Posts each notification to one channel with chat.postMessage (Block Kit, with a text fallback). */
export class SlackChannel implements NotificationChannel {
  readonly name = 'slack';
  readonly #client: WebClient;
  readonly #channel: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: SlackChannelOptions) {
    if (!options.token)
      throw new ChannelError('slack', 'no bot token; set SLACK_BOT_TOKEN', { retryable: false });
    if (!options.channel)
      throw new ChannelError('slack', 'no channel; set SLACK_CHANNEL', { retryable: false });
    this.#channel = options.channel;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs;
    this.#client = new WebClient(options.token, {
      ...(options.apiUrl ? { slackApiUrl: options.apiUrl } : {}),
      timeout: options.timeoutMs,
      // Retries are the queue's job: the library's default retries for about 30 minutes.
      retryConfig: { retries: 0 },
      // Without this a 429 makes the library sleep for Retry-After inside our call, pausing its queue.
      rejectRateLimitedCalls: true,
      // The library logs to the console, around our logger and its secret scrubbing; every failure
      // comes back to the caller as a ChannelError instead.
      logger: SILENT,
    });
  }

  async send(n: Notification): Promise<void> {
    const { text, blocks } = toSlackBlocks(n);
    try {
      await this.#client.chat.postMessage({
        channel: this.#channel,
        text,
        blocks,
        // A link to the dashboard should stay a link, not grow a preview of a login page.
        unfurl_links: false,
        unfurl_media: false,
      });
    } catch (error) {
      throw this.#failure(error);
    }
  }

  #failure(error: unknown): ChannelError {
    const safe = (text: string) => redact(text, [this.#token]);
    const where = `chat.postMessage to ${this.#channel}`;
    if (error instanceof WebAPIPlatformError) {
      const code = safe(String(error.data.error));
      const fix = CONFIGURATION_ERRORS[code];
      return new ChannelError('slack', `${where} failed: ${code}${fix ? ` (${fix})` : ''}`, {
        cause: error,
        retryable: fix === undefined,
      });
    }
    if (error instanceof WebAPIRateLimitedError) {
      return new ChannelError('slack', `${where} was rate limited; retry after ${error.retryAfter} s`, {
        cause: error,
        retryable: true,
        retryAfterMs: error.retryAfter * 1000,
      });
    }
    if (error instanceof WebAPIHTTPError) {
      // Slack itself answers 200 or 429; another status comes from a proxy or a wrong SLACK_API_URL.
      return new ChannelError('slack', `${where} got HTTP ${error.statusCode} ${safe(error.statusMessage)}`, {
        cause: error,
        retryable: error.statusCode >= 500,
      });
    }
    const original = error instanceof Error && 'original' in error ? error.original : error;
    if (original instanceof Error && original.name === 'TimeoutError') {
      return new ChannelError('slack', `${where} got no answer within ${this.#timeoutMs} ms`, {
        cause: error,
        retryable: true,
      });
    }
    const reason = rootMessage(original) || errorCode(original) || 'unknown error';
    return new ChannelError('slack', `${where} failed: ${safe(reason)}`, {
      cause: error,
      retryable: true,
    });
  }
}

const ignore = () => {};
const SILENT: Logger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
  setLevel: ignore,
  getLevel: () => LogLevel.ERROR,
  setName: ignore,
};
