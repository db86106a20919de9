import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
} from 'node:net';
import { inspect } from 'node:util';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelError } from '../src/notify/channels/channel.ts';
import { EmailChannel, type EmailChannelOptions } from '../src/notify/channels/email.ts';
import { SlackChannel } from '../src/notify/channels/slack.ts';
import { WebhookChannel } from '../src/notify/channels/webhook.ts';
import type { Notification } from '../src/notify/message.ts';

/**
 * Each channel against a real far end on loopback: a real SMTP server (smtp-server) whose messages
 * are parsed with mailparser, a receiver that verifies Standard Webhooks signatures with the
 * reference library, and a stand-in for Slack's Web API that checks the token like Slack does.
 * The failure cases use short timeouts: a channel that is down must cost one timeout, not minutes.
 */

const at = new Date();
const notification = (): Notification => ({
  id: randomUUID(),
  kind: 'task_failed',
  severity: 'warning',
  title: 'Task 7f3c failed (timeout)',
  what: 'The BUG_FIX task on acme/api failed after its retries.',
  subject: { taskId: '7f3c', agentId: 'claude-2' },
  why: 'the agent stalled; evidence: no output for 600 s',
  action: 'Read its attempts (supervisor show 7f3c), fix the cause, then retry it (supervisor retry 7f3c).',
  link: 'https://supervisor.example.com/api/v1/tasks/7f3c',
  count: 1,
  firstAt: at,
  lastAt: at,
  at,
});

/** Everything a test starts, stopped after it whatever happened. */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** Runs `send` and returns its ChannelError (failing the test if it resolves or throws something else). */
async function failure(send: Promise<void>): Promise<{ error: ChannelError; elapsedMs: number }> {
  const started = performance.now();
  const error = await send.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  const elapsedMs = performance.now() - started;
  expect(error).toBeInstanceOf(ChannelError);
  return { error: error as ChannelError, elapsedMs };
}

/** The error as a log line would show it, cause chain included. */
const everything = (error: unknown) => inspect(error, { depth: 10 });

// ---- loopback HTTP ---------------------------------------------------------------------------

type Handler = (
  request: IncomingMessage,
  body: string,
) => { status: number; json?: unknown; headers?: Record<string, string> } | 'hang';

async function startHttp(handler: Handler): Promise<{ url: string; server: Server }> {
  const server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    const answer = handler(request, body);
    if (answer === 'hang') return; // never answers: the client's timeout must end it
    response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    response.end(answer.json === undefined ? '' : JSON.stringify(answer.json));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// ---- Slack -----------------------------------------------------------------------------------

describe('Slack channel', () => {
  const token = `xoxb-${randomBytes(16).toString('hex')}`;

  /** Slack's chat.postMessage as far as we use it: HTTP 200 with ok:false for a bad token, as Slack answers. */
  async function slackStub(mode: 'ok' | 'rate_limited' | 'hang' = 'ok') {
    const posts: Array<{ contentType: string; payload: Record<string, unknown> }> = [];
    const { url } = await startHttp((request, body) => {
      if (mode === 'hang') return 'hang';
      if (request.headers.authorization !== `Bearer ${token}`) {
        return { status: 200, json: { ok: false, error: 'invalid_auth' } };
      }
      if (request.method !== 'POST' || request.url !== '/api/chat.postMessage') {
        return { status: 200, json: { ok: false, error: 'unknown_method' } };
      }
      if (mode === 'rate_limited') {
        return { status: 429, headers: { 'retry-after': '30' }, json: { ok: false, error: 'ratelimited' } };
      }
      const contentType = request.headers['content-type'] ?? '';
      // @slack/web-api 8 posts application/x-www-form-urlencoded, with blocks as a JSON string.
      const payload: Record<string, unknown> = contentType.includes('json')
        ? JSON.parse(body)
        : Object.fromEntries(new URLSearchParams(body));
      if (typeof payload.blocks === 'string') payload.blocks = JSON.parse(payload.blocks);
      posts.push({ contentType, payload });
      return { status: 200, json: { ok: true, channel: 'C0123456789', ts: '1764000000.000100' } };
    });
    return { apiUrl: `${url}/api/`, posts };
  }

  it('posts a message with the token, the channel, a text fallback and blocks that stand on their own', async () => {
    const stub = await slackStub();
    const n = notification();
    await new SlackChannel({ token, channel: '#agents', apiUrl: stub.apiUrl, timeoutMs: 1000 }).send(n);

    expect(stub.posts).toHaveLength(1);
    const [{ contentType, payload }] = stub.posts as [(typeof stub.posts)[number]];
    expect(contentType).toBe('application/x-www-form-urlencoded');
    expect(payload).toMatchObject({ channel: '#agents', unfurl_links: 'false' });
    expect(payload.text).toContain('Task 7f3c failed (timeout)');
    const blocks = JSON.stringify(payload.blocks);
    expect(blocks).toContain('"type":"header"');
    expect(blocks).toContain('Task 7f3c failed (timeout)');
    expect(blocks).toContain('*Task*\\n`7f3c`');
    expect(blocks).toContain('the agent stalled');
    expect(blocks).toContain('supervisor retry 7f3c');
    expect(blocks).toContain('<https://supervisor.example.com/api/v1/tasks/7f3c|Open in the dashboard>');
  });

  it('names the Slack error code and the fix for a wrong token, never the token, and does not retry', async () => {
    const stub = await slackStub();
    const wrong = `xoxb-${randomBytes(16).toString('hex')}`;
    const channel = new SlackChannel({
      token: wrong,
      channel: '#agents',
      apiUrl: stub.apiUrl,
      timeoutMs: 1000,
    });
    const { error } = await failure(channel.send(notification()));
    expect(error.message).toBe(
      'slack: chat.postMessage to #agents failed: invalid_auth (the token is not valid; check SLACK_BOT_TOKEN (a bot token, xoxb-…))',
    );
    expect(error).toMatchObject({ channel: 'slack', retryable: false });
    expect(everything(error)).not.toContain(wrong);
    expect(stub.posts).toHaveLength(0);
  });

  it('hands a rate limit back at once with Retry-After instead of sleeping through it', async () => {
    const stub = await slackStub('rate_limited');
    const channel = new SlackChannel({ token, channel: '#agents', apiUrl: stub.apiUrl, timeoutMs: 1000 });
    const { error, elapsedMs } = await failure(channel.send(notification()));
    expect(error.message).toBe('slack: chat.postMessage to #agents was rate limited; retry after 30 s');
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 30_000 });
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('gives up after its timeout when Slack does not answer, and says so', async () => {
    const stub = await slackStub('hang');
    const channel = new SlackChannel({ token, channel: '#agents', apiUrl: stub.apiUrl, timeoutMs: 300 });
    const { error, elapsedMs } = await failure(channel.send(notification()));
    expect(error.message).toBe('slack: chat.postMessage to #agents got no answer within 300 ms');
    expect(error.retryable).toBe(true);
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('fails fast when nothing listens', async () => {
    const apiUrl = `http://127.0.0.1:${await closedPort()}/api/`;
    const channel = new SlackChannel({ token, channel: '#agents', apiUrl, timeoutMs: 1000 });
    const { error, elapsedMs } = await failure(channel.send(notification()));
    expect(error.message).toMatch(/^slack: chat\.postMessage to #agents failed: .*ECONNREFUSED/);
    expect(elapsedMs).toBeLessThan(1000);
  });
});

// ---- email -----------------------------------------------------------------------------------

describe('email channel', () => {
  const username = 'supervisor';
  const password = `pw-${randomBytes(12).toString('hex')}`;

  interface Received {
    mail: ParsedMail;
    envelope: SMTPServerSession['envelope'];
    secure: boolean;
  }

  /** A real SMTP server on loopback; by default plain text with AUTH PLAIN/LOGIN checked against the pair above. */
  async function smtpServer(options: Partial<SMTPServerOptions> = {}) {
    const received: Received[] = [];
    const server = new SMTPServer({
      logger: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        if (auth.username === username && auth.password === password)
          return callback(null, { user: username });
        return callback(new Error('Invalid username or password'));
      },
      onData(stream, session, callback) {
        simpleParser(stream).then(
          (mail) => {
            received.push({ mail, envelope: session.envelope, secure: session.secure });
            callback();
          },
          (error: Error) => callback(error),
        );
      },
      ...options,
    });
    server.listen(0, '127.0.0.1');
    await once(server.server, 'listening');
    let open = true;
    const stop = async () => {
      if (!open) return;
      open = false;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
    cleanups.push(stop);
    return { port: (server.server.address() as AddressInfo).port, received, stop };
  }

  const channelFor = (port: number, options: Partial<EmailChannelOptions> = {}) =>
    new EmailChannel({
      host: '127.0.0.1',
      port,
      username,
      password,
      from: 'Supervisor <supervisor@example.com>',
      to: ['oncall@example.com', 'lead@example.com'],
      connectionTimeoutMs: 1000,
      ...options,
    });

  it('delivers a plain-text message with the subject, the recipients and a Message-ID from the notification', async () => {
    const smtp = await smtpServer();
    const n = notification();
    await channelFor(smtp.port).send(n);

    expect(smtp.received).toHaveLength(1);
    const [{ mail, envelope }] = smtp.received as [Received];
    expect(envelope.mailFrom).toMatchObject({ address: 'supervisor@example.com' });
    expect(envelope.rcptTo.map((rcpt) => rcpt.address)).toEqual(['oncall@example.com', 'lead@example.com']);
    expect(mail.from?.value).toEqual([{ address: 'supervisor@example.com', name: 'Supervisor' }]);
    expect(mail.subject).toBe('[supervisor] Task 7f3c failed (timeout)');
    expect(mail.messageId).toBe(`<${n.id}@example.com>`);
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.headers.get('x-supervisor-kind')).toBe('task_failed');
    expect(mail.html).toBe(false);
    const text = mail.text ?? '';
    expect(text).toContain('The BUG_FIX task on acme/api failed after its retries.');
    expect(text).toContain('Task: 7f3c');
    expect(text).toContain('Why: the agent stalled');
    expect(text).toContain('What to do: Read its attempts');
    expect(text).toContain('Open: https://supervisor.example.com/api/v1/tasks/7f3c');
  });

  it('says the login was refused and which settings to check, without the password, and does not retry', async () => {
    const smtp = await smtpServer();
    const { error } = await failure(
      channelFor(smtp.port, { password: 'not-the-password' }).send(notification()),
    );
    expect(error.message).toMatch(
      new RegExp(
        `^email: 127\\.0\\.0\\.1:${smtp.port} refused the login of supervisor: .*check EMAIL_USERNAME and EMAIL_PASSWORD$`,
      ),
    );
    expect(error.retryable).toBe(false);
    expect(everything(error)).not.toContain('not-the-password');
    expect(smtp.received).toHaveLength(0);
  });

  it('upgrades with STARTTLS and checks the certificate unless told not to', async () => {
    // smtp-server's built-in certificate is self-signed (and expired), as a private relay's may be.
    const smtp = await smtpServer({ disabledCommands: [], authOptional: true });
    const channel = (tlsRejectUnauthorized: boolean) =>
      channelFor(smtp.port, {
        username: undefined,
        password: undefined,
        tlsRejectUnauthorized,
        requireTls: true,
      });

    const { error } = await failure(channel(true).send(notification()));
    expect(error.message).toMatch(
      /^email: 127\.0\.0\.1:\d+'s TLS certificate was not accepted: .*EMAIL_SMTP_TLS_REJECT_UNAUTHORIZED=false/,
    );
    expect(error.retryable).toBe(false);

    await channel(false).send(notification());
    expect(smtp.received.map((item) => item.secure)).toEqual([true]);
  });

  it('speaks implicit TLS when secure, and names the TLS settings when they do not match the server', async () => {
    const tls = await smtpServer({ secure: true, authOptional: true });
    const options = { username: undefined, password: undefined, secure: true, tlsRejectUnauthorized: false };
    await channelFor(tls.port, options).send(notification());
    expect(tls.received.map((item) => item.secure)).toEqual([true]);

    const plain = await smtpServer({ authOptional: true });
    const { error } = await failure(channelFor(plain.port, options).send(notification()));
    expect(error.message).toMatch(
      new RegExp(`^email: TLS with 127\\.0\\.0\\.1:${plain.port} failed: .*EMAIL_SMTP_SECURE`),
    );
    expect(error.retryable).toBe(false);
  });

  it('refuses to send in plain text when TLS is required and the server does not offer STARTTLS', async () => {
    const smtp = await smtpServer();
    const { error } = await failure(channelFor(smtp.port, { requireTls: true }).send(notification()));
    expect(error.message).toMatch(
      new RegExp(`^email: TLS with 127\\.0\\.0\\.1:${smtp.port} failed: .*STARTTLS`),
    );
    expect(error.retryable).toBe(false);
    expect(smtp.received).toHaveLength(0);
  });

  it('fails fast with the server named when the SMTP server is down, so the queue can retry later', async () => {
    const smtp = await smtpServer();
    await smtp.stop();
    const { error, elapsedMs } = await failure(channelFor(smtp.port).send(notification()));
    expect(error.message).toMatch(
      new RegExp(`^email: cannot deliver through 127\\.0\\.0\\.1:${smtp.port}: .*ECONNREFUSED`),
    );
    expect(error.retryable).toBe(true);
    expect(everything(error)).not.toContain(password);
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('gives up within its timeout when the server accepts the connection and then says nothing', async () => {
    const sockets = new Set<Socket>();
    const silent: TcpServer = createTcpServer((socket) => {
      sockets.add(socket); // holds it open without a greeting, as a hung server would
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const { port } = silent.address() as AddressInfo;

    const { error, elapsedMs } = await failure(
      channelFor(port, { connectionTimeoutMs: 400 }).send(notification()),
    );
    expect(error.message).toMatch(
      new RegExp(`^email: 127\\.0\\.0\\.1:${port} did not complete the send within 400 ms`),
    );
    expect(error.retryable).toBe(true);
    expect(elapsedMs).toBeGreaterThanOrEqual(350);
    expect(elapsedMs).toBeLessThan(1200);
  });
});

// ---- webhook ---------------------------------------------------------------------------------

describe('webhook channel', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;

  /** A receiver that does what the spec asks of one: verify with the reference library, else 401. */
  async function receiver(verifyWith: string, status = 204) {
    const verified: unknown[] = [];
    const headers: Array<Record<string, string>> = [];
    const verifier = new Webhook(verifyWith);
    const { url } = await startHttp((request, body) => {
      const received = Object.fromEntries(
        Object.entries(request.headers).map(([key, value]) => [key, String(value)]),
      );
      headers.push(received);
      try {
        verified.push(verifier.verify(body, received));
      } catch {
        return { status: 401, json: { error: 'invalid signature' } };
      }
      return { status };
    });
    return { url: `${url}/hooks/supervisor?token=receiver-path-secret`, verified, headers };
  }

  it('POSTs the payload signed so the Standard Webhooks library verifies it', async () => {
    const hook = await receiver(secret);
    const n = notification();
    await new WebhookChannel({ url: hook.url, secret, timeoutMs: 1000 }).send(n);

    expect(hook.verified).toEqual([
      {
        type: 'supervisor.task_failed',
        timestamp: n.at.toISOString(),
        data: expect.objectContaining({
          id: n.id,
          kind: 'task_failed',
          severity: 'warning',
          title: 'Task 7f3c failed (timeout)',
          subject: { task_id: '7f3c', agent_id: 'claude-2', component: null, submission_id: null },
          why: 'the agent stalled; evidence: no output for 600 s',
          link: 'https://supervisor.example.com/api/v1/tasks/7f3c',
          count: 1,
        }),
      },
    ]);
    const [headers] = hook.headers as [Record<string, string>];
    expect(headers['webhook-id']).toBe(n.id);
    expect(headers['content-type']).toBe('application/json');
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  });

  it('is rejected by a receiver holding another secret: the signature is real', async () => {
    const hook = await receiver(`whsec_${randomBytes(32).toString('base64')}`);
    const { error } = await failure(
      new WebhookChannel({ url: hook.url, secret, timeoutMs: 1000 }).send(notification()),
    );
    expect(error.message).toMatch(
      /^webhook: http:\/\/127\.0\.0\.1:\d+ answered 401 Unauthorized: {"error":"invalid signature"}; check that the receiver verifies with the same WEBHOOK_SECRET$/,
    );
    expect(error.retryable).toBe(false);
    expect(hook.verified).toEqual([]);
    expect(everything(error)).not.toContain(secret.slice(6));
    // The URL's path and query are the receiver's business (they can hold its token): only the origin is named.
    expect(error.message).not.toContain('receiver-path-secret');
  });

  it('reports the status of a receiver that fails, as retryable', async () => {
    const hook = await receiver(secret, 500);
    const { error } = await failure(
      new WebhookChannel({ url: hook.url, secret, timeoutMs: 1000 }).send(notification()),
    );
    expect(error.message).toMatch(/^webhook: http:\/\/127\.0\.0\.1:\d+ answered 500 Internal Server Error$/);
    expect(error.retryable).toBe(true);
    expect(hook.verified).toHaveLength(1); // it was delivered and verified; the receiver failed after
  });

  it('gives up after its timeout on a receiver that does not answer, and fails fast on one that is down', async () => {
    const { url } = await startHttp(() => 'hang');
    const slow = await failure(new WebhookChannel({ url, secret, timeoutMs: 300 }).send(notification()));
    expect(slow.error.message).toBe(`webhook: ${url} did not answer within 300 ms`);
    expect(slow.elapsedMs).toBeLessThan(1000);

    const downUrl = `http://127.0.0.1:${await closedPort()}`;
    const down = await failure(
      new WebhookChannel({ url: downUrl, secret, timeoutMs: 1000 }).send(notification()),
    );
    expect(down.error.message).toMatch(/^webhook: cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(down.error.retryable).toBe(true);
    expect(down.elapsedMs).toBeLessThan(1000);
  });

  it('refuses a secret that is not whsec_ and the base64 of enough random bytes, without echoing it', () => {
    for (const bad of ['whsec_short', 'not base64 at all!', `whsec_${randomBytes(16).toString('base64')}`]) {
      expect(
        () => new WebhookChannel({ url: 'https://hooks.example.com/x', secret: bad, timeoutMs: 1000 }),
      ).toThrow(/^webhook: WEBHOOK_SECRET must be whsec_ followed by the base64 of at least 24 random bytes/);
    }
    expect(() => new WebhookChannel({ url: 'ftp://hooks.example.com/x', secret, timeoutMs: 1000 })).toThrow(
      'webhook: WEBHOOK_URL must be http or https, not ftp',
    );
  });
});
