import { createTransport, type Transporter } from 'nodemailer';
import { headline, type Notification, toText } from '../message.ts';
import { ChannelError, errorCode, type NotificationChannel, redact } from './channel.ts';

export interface EmailChannelOptions {
  host: string;
  port: number;
  /**
   * Implicit TLS from the first byte (SMTPS, usually port 465). When false the connection starts in
   * plain text and is upgraded with STARTTLS when the server offers it (see the next two options).
   * @defaultValue false
   */
  secure?: boolean;
  /** Refuse to send, and to log in, unless the connection is upgraded with STARTTLS. @defaultValue false */
  requireTls?: boolean;
  /** Never upgrade, even when the server offers STARTTLS (a local relay without TLS). @defaultValue false */
  ignoreTls?: boolean;
  /**
   * Check the server's certificate against the system's CAs. Turn off only for a server with a
   * self-signed certificate on a network you trust.
   * @defaultValue true
   */
  tlsRejectUnauthorized?: boolean;
  /** Login (AUTH) when set; the password must be set with it. */
  username?: string;
  password?: string;
  /** Sender: `alerts@example.com` or `Supervisor <alerts@example.com>`. */
  from: string;
  /** Recipients; at least one. */
  to: string[];
  /**
   * Longest one send may take, end to end; also the limit on each of connecting, waiting for the
   * greeting and waiting for any one reply.
   */
  connectionTimeoutMs: number;
}

/** Sends each notification as a plain-text email over SMTP, one connection per message. */
export class EmailChannel implements NotificationChannel {
  readonly name = 'email';
  readonly #transport: Transporter;
  readonly #options: EmailChannelOptions;
  readonly #server: string;

  constructor(options: EmailChannelOptions) {
    const invalid = (message: string) => new ChannelError('email', message, { retryable: false });
    if (!options.host) throw invalid('no SMTP host; set EMAIL_SMTP_HOST');
    if (!options.from) throw invalid('no sender address; set EMAIL_FROM');
    if (options.to.length === 0) throw invalid('no recipients; set EMAIL_TO (comma-separated addresses)');
    if (Boolean(options.username) !== Boolean(options.password)) {
      throw invalid('EMAIL_USERNAME and EMAIL_PASSWORD go together; set both, or neither for no login');
    }
    if (options.requireTls && options.ignoreTls) {
      throw invalid('requiring STARTTLS and ignoring it contradict each other; choose one');
    }
    this.#options = options;
    this.#server = `${options.host}:${options.port}`;
    // Not pooled: notifications are rare, and a fresh connection per message never finds a pooled
    // one that the server closed while idle.
    this.#transport = createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure ?? false,
      requireTLS: options.requireTls ?? false,
      ignoreTLS: options.ignoreTls ?? false,
      tls: { rejectUnauthorized: options.tlsRejectUnauthorized ?? true },
      ...(options.username ? { auth: { user: options.username, pass: options.password } } : {}),
      // nodemailer's defaults are 2 minutes to connect, 30 s for the greeting and 10 minutes of
      // silence: a server that is down would hold the queue's worker for that long.
      connectionTimeout: options.connectionTimeoutMs,
      greetingTimeout: options.connectionTimeoutMs,
      socketTimeout: options.connectionTimeoutMs,
      dnsTimeout: options.connectionTimeoutMs,
      logger: false,
      debug: false,
    });
  }

  async send(n: Notification): Promise<void> {
    try {
      await this.#transport.sendMail({
        from: this.#options.from,
        to: this.#options.to,
        subject: `[supervisor] ${oneLine(headline(n))}`,
        text: toText(n),
        messageId: messageId(n.id, this.#options.from),
        date: n.at,
        headers: {
          // RFC 3834: vacation responders and ticket systems must not answer it.
          'Auto-Submitted': 'auto-generated',
          'X-Supervisor-Kind': n.kind,
          'X-Supervisor-Severity': n.severity,
        },
        // The per-connection timeouts reset on every byte; this bounds the whole send.
        signal: AbortSignal.timeout(this.#options.connectionTimeoutMs),
      });
    } catch (error) {
      throw this.#failure(error);
    }
  }

  #failure(error: unknown): ChannelError {
    const { username, password } = this.#options;
    const secrets = [password, ...(password ? credentialForms(username ?? '', password) : [])];
    const detail = redact(readable(error instanceof Error ? error.message : String(error)), secrets);
    const code = errorCode(error);
    const responseCode = (error as { responseCode?: unknown }).responseCode;
    const fail = (message: string, retryable: boolean) =>
      new ChannelError('email', message, { cause: error, retryable });
    const server = this.#server;
    if (code === 'EABORT' || code === 'ETIMEDOUT') {
      const phase = code === 'ETIMEDOUT' ? ` (${detail})` : '';
      return fail(
        `${server} did not complete the send within ${this.#options.connectionTimeoutMs} ms${phase}`,
        true,
      );
    }
    if (code === 'EAUTH' || code === 'ENOAUTH') {
      return fail(
        `${server} refused the login of ${username ?? '(no user)'}: ${detail}; check EMAIL_USERNAME and EMAIL_PASSWORD`,
        false,
      );
    }
    if (/certificate|self[- ]signed|unable to verify/i.test(detail)) {
      return fail(
        `${server}'s TLS certificate was not accepted: ${detail}; fix the certificate, or set ` +
          'EMAIL_SMTP_TLS_REJECT_UNAUTHORIZED=false for a server you trust on a network you trust',
        false,
      );
    }
    if (code === 'ETLS' || /wrong version number|STARTTLS/i.test(detail)) {
      return fail(
        `TLS with ${server} failed: ${detail}; check EMAIL_SMTP_SECURE (implicit TLS, usually port 465) ` +
          'and EMAIL_SMTP_REQUIRE_TLS (STARTTLS, usually port 587) against what the server offers',
        false,
      );
    }
    if (code === 'EENVELOPE') return fail(`${server} refused the sender or a recipient: ${detail}`, false);
    if (typeof responseCode === 'number' && responseCode >= 500 && responseCode !== 503) {
      // A permanent SMTP reply: the same message would be refused again. 503 is a bad command
      // sequence, which a new connection can get past.
      return fail(`${server} rejected the message: ${detail}`, false);
    }
    if (code === 'EDNS')
      return fail(`cannot resolve ${this.#options.host}: ${detail}; check EMAIL_SMTP_HOST`, true);
    return fail(`cannot deliver through ${server}: ${detail}`, true);
  }
}

/** How AUTH PLAIN and AUTH LOGIN put the password on the wire, should a server echo it back. */
function credentialForms(username: string, password: string): string[] {
  return [
    Buffer.from(password).toString('base64'),
    Buffer.from(`\u0000${username}\u0000${password}`).toString('base64'),
  ];
}

/** One line; OpenSSL's `…:error:0A00010B:SSL routines:…:wrong version number:…/ssl/…c:77:` becomes its reason. */
function readable(message: string): string {
  const reason = /SSL routines:[^:]*:([^:]+):/.exec(message)?.[1];
  return (reason ?? message).replace(/\s+/g, ' ').trim();
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= 200 ? line : `${line.slice(0, 199)}…`;
}

/**
 * `<id@sender-domain>`: the same for every attempt at one notification, so a mail system that
 * accepted an earlier attempt whose reply was lost can drop the duplicate.
 */
export function messageId(id: string, from: string): string {
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? 'supervisor.invalid';
  return `<${id.replace(/[^A-Za-z0-9._-]/g, '-')}@${domain}>`;
}
