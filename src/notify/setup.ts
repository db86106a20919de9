import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { NotificationChannel } from './channels/channel.ts';
import { EmailChannel } from './channels/email.ts';
import { SlackChannel } from './channels/slack.ts';
import { WebhookChannel } from './channels/webhook.ts';
import { type ChannelName, parseRoutes, type Routes } from './rules.ts';

/** Every call to a channel gives up after this long; the queue retries it later. */
const CHANNEL_TIMEOUT_MS = 10_000;

/**
 * The channels whose settings are complete; a half-configured channel is a configuration error.
 * Email takes the seed project's settings too: the sender defaults to EMAIL_USERNAME, and without
 * recipients (EMAIL_TO) email is off with a warning, unless NOTIFY_ROUTES sends to it.
 */
export function channelsFromConfig(
  config: Config,
  routes: Routes,
): { channels: Map<ChannelName, NotificationChannel>; warnings: string[] } {
  const channels = new Map<ChannelName, NotificationChannel>();
  const problems: string[] = [];
  const warnings: string[] = [];
  const need = (channel: string, settings: Record<string, unknown>) => {
    const given = Object.entries(settings).filter(([, value]) => value !== undefined && value !== '');
    if (given.length === 0) return false;
    const missing = Object.keys(settings).filter((key) => !given.some(([name]) => name === key));
    for (const key of missing)
      problems.push(`${key}: required for ${channel} notifications (or unset the others)`);
    return missing.length === 0;
  };
  if (need('Slack', { SLACK_BOT_TOKEN: config.SLACK_BOT_TOKEN, SLACK_CHANNEL: config.SLACK_CHANNEL })) {
    channels.set(
      'slack',
      new SlackChannel({
        token: config.SLACK_BOT_TOKEN!,
        channel: config.SLACK_CHANNEL!,
        apiUrl: config.SLACK_API_URL,
        timeoutMs: CHANNEL_TIMEOUT_MS,
      }),
    );
  }
  const sender = config.EMAIL_FROM ?? config.EMAIL_USERNAME;
  const emailRouted = routes.has('email');
  if (config.EMAIL_SMTP_HOST && config.EMAIL_TO.length === 0 && !emailRouted) {
    warnings.push('email notifications are off: EMAIL_SMTP_HOST is set but no recipient (set EMAIL_TO)');
  } else if (
    need('email', {
      EMAIL_SMTP_HOST: config.EMAIL_SMTP_HOST,
      'EMAIL_FROM (or EMAIL_USERNAME)': sender,
      EMAIL_TO: config.EMAIL_TO.length ? config.EMAIL_TO : undefined,
    })
  ) {
    channels.set(
      'email',
      new EmailChannel({
        host: config.EMAIL_SMTP_HOST!,
        port: config.EMAIL_SMTP_PORT,
        secure: config.EMAIL_SMTP_SECURE,
        requireTls: config.EMAIL_SMTP_REQUIRE_TLS,
        tlsRejectUnauthorized: config.EMAIL_SMTP_TLS_REJECT_UNAUTHORIZED,
        ...(config.EMAIL_USERNAME ? { username: config.EMAIL_USERNAME } : {}),
        ...(config.EMAIL_PASSWORD ? { password: config.EMAIL_PASSWORD } : {}),
        from: sender!,
        to: config.EMAIL_TO,
        connectionTimeoutMs: CHANNEL_TIMEOUT_MS,
      }),
    );
  }
  if (need('webhook', { WEBHOOK_URL: config.WEBHOOK_URL, WEBHOOK_SECRET: config.WEBHOOK_SECRET })) {
    channels.set(
      'webhook',
      new WebhookChannel({
        url: config.WEBHOOK_URL!,
        secret: config.WEBHOOK_SECRET!,
        timeoutMs: CHANNEL_TIMEOUT_MS,
      }),
    );
  }
  if (problems.length) throw new ConfigError(problems);
  return { channels, warnings };
}

export function routesFromConfig(config: Config): Routes {
  const parsed = parseRoutes(config.NOTIFY_ROUTES ?? '');
  if ('error' in parsed) throw new ConfigError([`NOTIFY_ROUTES: ${parsed.error}`]);
  return parsed.routes;
}
