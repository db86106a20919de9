import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A loopback pass-through between agent CLIs and their model API, so the supervisor sees what the
 * CLI hides: each response's status and headers (quota state, retry-after) for every credential
 * class, as it happens. Each attempt opens a route, an unguessable path prefix that forwards to
 * that agent's API; the CLI is pointed at the route as its base URL. Requests and bodies pass
 * through unchanged and streamed; nothing is parsed but the headers.
 *
 * When the observer says a response is a refusal to respect (a quota rejection, a long
 * retry-after), the same answer is given locally to further requests of that agent until then
 * (capped at MAX_HOLD_MS), so neither the CLI's own retries nor a concurrent attempt ask a key that
 * has just refused; by then the pool's cooldown keeps new attempts away from it.
 *
 * A route lives as long as its attempt: closing it aborts whatever it still has in flight. An
 * upstream that cannot be reached drops the CLI's connection, which the CLI reports as it would
 * without the tap.
 */

export interface TapResponse {
  status: number;
  header(name: string): string | undefined;
  /** Answered by the tap from a held refusal, not by the API. */
  local: boolean;
}

/** Sees the body of one response as it passes (to read its usage), then its end. */
export interface BodyObserver {
  chunk(data: Buffer): void;
  end(): void;
}

export interface RouteOptions {
  /** The model API's base URL (a gateway's, or the provider's). */
  upstream: string;
  /** Routes with the same key (one agent's credential) share held refusals. */
  holdKey: string;
  /** The route reads response bodies (body observers): they are asked for uncompressed. */
  readsBodies?: boolean;
  /**
   * Sees each response before its body; returns until when to answer the same way locally, and
   * an observer for its body, if the route reads bodies.
   */
  onResponse(response: TapResponse): { holdUntil?: Date; body?: BodyObserver } | undefined;
}

export interface TapRoute {
  /** The base URL to give the CLI. */
  readonly url: string;
  close(): void;
}

/** Longest a refusal is answered locally; the pool's cooldown keeps agents away after that. */
export const MAX_HOLD_MS = 60_000;

interface Route extends RouteOptions {
  inFlight: Set<ClientRequest>;
}

interface Held {
  until: number;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Connection-level headers, which describe one hop and are not passed on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

function headerReader(headers: IncomingHttpHeaders): (name: string) => string | undefined {
  return (name) => {
    const value = headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
}

const ROUTE_PATH = /^\/r\/([0-9a-f]{32})(\/.*)?$/s;

export class ModelApiTap {
  readonly #routes = new Map<string, Route>();
  readonly #held = new Map<string, Held>();
  readonly #now: () => number;
  #server: Server | undefined;
  #base: Promise<string> | undefined;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async open(options: RouteOptions): Promise<TapRoute> {
    const base = await this.#listen();
    const id = randomBytes(16).toString('hex');
    const route: Route = { ...options, inFlight: new Set() };
    this.#routes.set(id, route);
    return {
      url: `${base}/r/${id}`,
      close: () => {
        this.#routes.delete(id);
        for (const outgoing of route.inFlight) outgoing.destroy();
      },
    };
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#base = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  #listen(): Promise<string> {
    this.#base ??= (async () => {
      const server = createServer((request, response) => this.#handle(request, response));
      this.#server = server;
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      // Serving agents' API calls must never keep a finished process alive.
      server.unref();
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    })();
    return this.#base;
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const [path = '/', query] = (request.url ?? '/').split(/\?(.*)/s, 2);
    const match = ROUTE_PATH.exec(path);
    const route = match ? this.#routes.get(match[1]!) : undefined;
    if (!route) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'no such route: it belongs to an attempt that has ended' }));
      request.resume();
      return;
    }
    const rest = `${match![2] ?? '/'}${query !== undefined ? `?${query}` : ''}`;
    const held = this.#held.get(route.holdKey);
    if (held && held.until > this.#now()) {
      request.resume();
      route.onResponse({ status: held.status, header: headerReader(held.headers), local: true });
      response.writeHead(held.status, { ...endToEnd(held.headers), 'content-length': held.body.length });
      response.end(held.body);
      return;
    }
    this.#forward(route, rest, request, response);
  }

  #forward(route: Route, rest: string, request: IncomingMessage, response: ServerResponse): void {
    const target = new URL(route.upstream);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const outgoing = send({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: request.method,
      path: `${target.pathname.replace(/\/+$/, '')}${rest}`,
      headers: {
        ...endToEnd(request.headers),
        host: target.host,
        ...(route.readsBodies ? { 'accept-encoding': 'identity' } : {}),
      },
    });
    route.inFlight.add(outgoing);
    let complete = false;
    outgoing.on('response', (upstream) => {
      const status = upstream.statusCode ?? 502;
      const verdict = route.onResponse({ status, header: headerReader(upstream.headers), local: false });
      const holdUntil = verdict?.holdUntil?.getTime();
      if (holdUntil !== undefined && holdUntil > this.#now()) {
        const chunks: Buffer[] = [];
        upstream.on('data', (chunk: Buffer) => chunks.push(chunk));
        upstream.on('end', () => {
          this.#held.set(route.holdKey, {
            until: Math.min(holdUntil, this.#now() + MAX_HOLD_MS),
            status,
            headers: upstream.headers,
            body: Buffer.concat(chunks),
          });
        });
      }
      const body = verdict?.body;
      let observed = false;
      // Once, however the body ends: a stream cut short still used what it reported so far.
      const ended = () => {
        if (observed) return;
        observed = true;
        body?.end();
      };
      if (body) upstream.on('data', (chunk: Buffer) => body.chunk(chunk));
      upstream.on('end', () => {
        complete = true;
        route.inFlight.delete(outgoing);
        ended();
      });
      upstream.on('close', ended);
      upstream.on('error', () => response.destroy());
      response.writeHead(status, endToEnd(upstream.headers));
      upstream.pipe(response);
    });
    // The CLI sees the connection fail, as it would have talking to the API directly.
    outgoing.on('error', () => {
      route.inFlight.delete(outgoing);
      response.destroy();
    });
    response.on('close', () => {
      if (!complete) outgoing.destroy();
    });
    request.pipe(outgoing);
  }
}
