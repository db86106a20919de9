import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';

/**
 * The far ends of the notification channels, for tests: a real SMTP server (smtp-server) whose
 * messages are parsed with mailparser, a receiver that verifies Standard Webhooks signatures with
 * the reference library, and a loopback stand-in for Slack's Web API that checks the token.
 */

export interface SmtpReceiver {
  port: number;
  messages: ParsedMail[];
  stop(): Promise<void>;
  /** Starts again on the same port (after `stop`), as a mail server coming back would. */
  restart(): Promise<void>;
}

export async function startSmtpReceiver(port = 0): Promise<SmtpReceiver> {
  const messages: ParsedMail[] = [];
  let server: SMTPServer;
  const listen = async (on: number) => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, _session, callback) {
        simpleParser(stream).then(
          (mail) => {
            messages.push(mail);
            callback();
          },
          (error: Error) => callback(error),
        );
      },
    });
    server.listen(on, '127.0.0.1');
    await once(server.server, 'listening');
    return (server.server.address() as AddressInfo).port;
  };
  const bound = await listen(port);
  return {
    port: bound,
    messages,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
    restart: async () => {
      await listen(bound);
    },
  };
}

export interface WebhookReceiver {
  url: string;
  /** Payloads whose signature verified. */
  payloads: Array<{ type: string; data: Record<string, unknown> }>;
  rejected: number;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const verifier = new Webhook(secret);
  const receiver = { payloads: [] as WebhookReceiver['payloads'], rejected: 0 };
  const server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    try {
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([key, value]) => [key, String(value)]),
      );
      receiver.payloads.push(verifier.verify(body, headers) as WebhookReceiver['payloads'][number]);
      response.writeHead(204).end();
    } catch {
      receiver.rejected += 1;
      response.writeHead(400).end();
    }
  });
  const url = `http://127.0.0.1:${await listenOn(server)}/hooks/supervisor`;
  return Object.assign(receiver, { url, stop: () => close(server) });
}

export interface SlackStub {
  url: string;
  posts: Array<Record<string, unknown>>;
  /** Where an interaction's `response_url` may point, and what was sent there. */
  responseUrl: string;
  responses: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * Answers `chat.postMessage` like Slack: `invalid_auth` unless the bearer token is `token`. Also
 * takes what is sent to an interaction's `response_url` (which, as at Slack, needs no token).
 */
export async function startSlackStub(token: string): Promise<SlackStub> {
  const posts: Array<Record<string, unknown>> = [];
  const responses: Array<Record<string, unknown>> = [];
  const server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    if (request.url === '/actions/response') {
      responses.push(JSON.parse(body) as Record<string, unknown>);
      return response.writeHead(200).end('ok');
    }
    const reply = (payload: Record<string, unknown>) =>
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    if (request.headers.authorization !== `Bearer ${token}`)
      return reply({ ok: false, error: 'invalid_auth' });
    if (!request.url?.endsWith('/chat.postMessage')) return reply({ ok: false, error: 'unknown_method' });
    const type = request.headers['content-type'] ?? '';
    const payload = type.includes('json')
      ? (JSON.parse(body) as Record<string, unknown>)
      : Object.fromEntries(new URLSearchParams(body));
    if (typeof payload.blocks === 'string') payload.blocks = JSON.parse(payload.blocks);
    posts.push(payload);
    return reply({ ok: true, channel: payload.channel, ts: `${Date.now() / 1000}` });
  });
  const base = `http://127.0.0.1:${await listenOn(server)}`;
  return {
    url: `${base}/api/`,
    posts,
    responseUrl: `${base}/actions/response`,
    responses,
    stop: () => close(server),
  };
}

async function listenOn(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
