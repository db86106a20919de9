import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { encodeSse, errorBody, jsonMessage, messageStart, streamEvents } from './anthropic-wire.ts';
import {
  asksForJson,
  encodeGeminiChunk,
  geminiChunks,
  geminiErrorBody,
  geminiResponse,
  jsonAnswer,
} from './gemini-wire.ts';
import { openaiErrorBody, responseCreated, responseEvents } from './openai-wire.ts';
import type { Step } from './steps.ts';

/**
 * A loopback server that speaks the Anthropic Messages API (and the OpenAI Responses API, for the
 * Codex CLI) from a script, so the real CLIs can be run end to end with no network and no API key. Scripts are keyed by credential (the
 * API key or bearer token a request carries), which models accounts directly: one key can be
 * rate limited while another succeeds. `*` is the script for any credential without its own.
 *
 * Used by the integration tests, the overhead benchmark and `supervisor demo` (always labelled
 * as scripted there).
 */

export interface RecordedRequest {
  n: number;
  at: Date;
  method: string;
  url: string;
  /** The credential the request carried (test keys only; never point this at real ones). */
  credential: string | undefined;
  sessionId: string | undefined;
  stream: boolean;
  headers: Record<string, string>;
  body: Record<string, unknown> | undefined;
}

export interface ScriptedModelServer {
  readonly url: string;
  /** Appends steps to the script of `credential` (or `*`). */
  script(credential: string, steps: Step[]): void;
  requests(filter?: (request: RecordedRequest) => boolean): RecordedRequest[];
  /** Steps not yet served for `credential`, counting repeats. */
  remaining(credential: string): number;
  reset(): void;
  close(): Promise<void>;
}

const ANY = '*';
/** `POST /v1beta/models/<model>:<method>`, as the Gemini CLI calls the API. */
const GEMINI_CALL = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;

interface QueuedStep {
  step: Step;
  left: number;
}

/**
 * Replaces `{{cwd}}` in a step with the agent's working directory, read from the system prompt
 * ("Primary working directory: …"), so a script can name files before the task exists.
 */
function withCwd(step: Step, body: Record<string, unknown>): Step {
  const text = JSON.stringify(step);
  if (!text.includes('{{cwd}}')) return step;
  const system = Array.isArray(body.system)
    ? body.system.map((block) => (block as { text?: string }).text ?? '').join('\n')
    : String(body.system ?? '');
  // Claude Code names it in the system prompt; Codex in an <environment_context> input message.
  const cwd =
    /Primary working directory: (\S+)/.exec(system)?.[1] ??
    /<cwd>([^<]+)<\/cwd>/.exec(JSON.stringify(body.input ?? ''))?.[1] ??
    '.';
  return JSON.parse(text.replaceAll('{{cwd}}', JSON.stringify(cwd).slice(1, -1))) as Step;
}

function credentialOf(request: IncomingMessage): string | undefined {
  const key = request.headers['x-api-key'] ?? request.headers['x-goog-api-key'];
  if (typeof key === 'string') return key;
  const auth = request.headers.authorization;
  return typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
}

const CREDENTIAL_HEADERS = new Set(['x-api-key', 'x-goog-api-key', 'authorization']);
const redact = (value: string) => (value.length > 8 ? `${value.slice(0, 6)}…` : '…');

function recordedHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value !== 'string') continue;
    headers[name] = CREDENTIAL_HEADERS.has(name) ? redact(value) : value;
  }
  return headers;
}

export async function startScriptedModelServer(
  options: { host?: string; port?: number } = {},
): Promise<ScriptedModelServer> {
  const scripts = new Map<string, QueuedStep[]>();
  const log: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const nextStep = (credential: string | undefined): Step | undefined => {
    const queue =
      (credential !== undefined && scripts.get(credential)?.length
        ? scripts.get(credential)
        : scripts.get(ANY)) ?? [];
    const head = queue[0];
    if (!head) return undefined;
    head.left -= 1;
    if (head.left <= 0) queue.shift();
    return head.step;
  };

  /** The next step of the request's credential, built (a `reply`) and with `{{cwd}}` filled in. */
  const stepFor = (request: IncomingMessage, body: Record<string, unknown>): Step | undefined => {
    const scripted = nextStep(credentialOf(request));
    const built =
      scripted?.kind === 'reply'
        ? { ...scripted.build(body), ...(scripted.delayMs ? { delayMs: scripted.delayMs } : {}) }
        : scripted;
    return built && built.kind !== 'reply' ? withCwd(built, body) : undefined;
  };

  const readBody = async (request: IncomingMessage): Promise<string> => {
    const parts: Buffer[] = [];
    for await (const part of request) parts.push(part as Buffer);
    return Buffer.concat(parts).toString('utf8');
  };

  const sendJson = (
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };

  const answerMessages = async (
    request: IncomingMessage,
    response: ServerResponse,
    body: Record<string, unknown>,
  ) => {
    const streaming = body.stream === true;
    const model = typeof body.model === 'string' ? body.model : 'scripted-model';
    const step = stepFor(request, body);
    if (!step) {
      sendJson(
        response,
        400,
        errorBody('invalid_request_error', 'scripted model server: no step left for this credential'),
      );
      return;
    }
    if (step.delayMs) await wait(step.delayMs);
    switch (step.kind) {
      case 'hang':
        return; // the socket stays open until the client gives up or the server closes
      case 'error':
        sendJson(response, step.status, errorBody(step.type, step.message), step.headers);
        return;
      case 'text':
      case 'tool_use': {
        if (!streaming) {
          sendJson(response, 200, jsonMessage(step, model), step.headers);
          return;
        }
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          ...step.headers,
        });
        for (const event of streamEvents(step, model)) {
          response.write(encodeSse(event));
          if (step.kind === 'text' && step.chunkDelayMs) await wait(step.chunkDelayMs);
        }
        response.end();
        return;
      }
    }
    // Stream faults. The CLI's non-streaming fallback gets the matching body fault (§6.3).
    const usage = {
      input_tokens: 100,
      output_tokens: 1,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    };
    if (!streaming) {
      switch (step.kind) {
        case 'truncated':
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end('{"id":"msg_cut","type":"message","content":[{"type":"te');
          return;
        case 'bad_json':
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end('this is not json');
          return;
        case 'sse_error':
          sendJson(response, 529, errorBody('overloaded_error', 'Overloaded'));
          return;
        case 'stall_mid_stream':
          response.writeHead(200, { 'content-type': 'application/json' });
          response.write('{"id":"msg_stall","type":"message",');
          return;
        case 'hang_after_headers':
          response.writeHead(200, { 'content-type': 'application/json' });
          response.flushHeaders();
          return;
      }
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    response.flushHeaders();
    switch (step.kind) {
      case 'hang_after_headers':
        return;
      case 'stall_mid_stream':
        response.write(encodeSse(messageStart(model, usage)));
        response.write(
          encodeSse({
            event: 'content_block_start',
            data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
          }),
        );
        response.write(
          encodeSse({
            event: 'content_block_delta',
            data: {
              type: 'content_block_delta',
              index: 0,
              delta: { type: 'text_delta', text: 'Let me look' },
            },
          }),
        );
        return;
      case 'truncated':
        response.write(encodeSse(messageStart(model, usage)));
        response.end();
        return;
      case 'bad_json':
        response.write(encodeSse(messageStart(model, usage)));
        response.write('event: content_block_start\ndata: {not json\n\n');
        response.end();
        return;
      case 'sse_error':
        response.write(encodeSse(messageStart(model, usage)));
        response.write(
          encodeSse({ event: 'error', data: errorBody(step.type ?? 'overloaded_error', 'Overloaded') }),
        );
        response.end();
        return;
    }
  };

  /** One `POST /v1/responses` (Codex): always streamed, as Codex asks. */
  const answerResponses = async (
    request: IncomingMessage,
    response: ServerResponse,
    body: Record<string, unknown>,
  ) => {
    const model = typeof body.model === 'string' ? body.model : 'scripted-model';
    const step = stepFor(request, body);
    if (!step) {
      sendJson(
        response,
        400,
        openaiErrorBody('invalid_request_error', 'scripted model server: no step left for this credential'),
      );
      return;
    }
    if (step.delayMs) await wait(step.delayMs);
    switch (step.kind) {
      case 'hang':
        return;
      case 'error':
        sendJson(response, step.status, openaiErrorBody(step.type, step.message), step.headers);
        return;
      case 'text':
      case 'tool_use':
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          ...step.headers,
        });
        for (const event of responseEvents(step, model)) response.write(encodeSse(event));
        response.end();
        return;
      case 'stall_mid_stream': {
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const created = responseCreated(model);
        response.write(encodeSse({ event: created.event, data: created.data }));
        return; // the stream stays open with nothing more
      }
      default:
        sendJson(
          response,
          400,
          openaiErrorBody(
            'invalid_request_error',
            `scripted model server: step ${step.kind} is not served on the Responses API`,
          ),
        );
    }
  };

  /**
   * One Gemini `generateContent` or `streamGenerateContent` call. A request that asks for JSON by
   * schema (the CLI's router and checks) is answered from the schema and uses no step.
   */
  const answerGemini = async (
    request: IncomingMessage,
    response: ServerResponse,
    body: Record<string, unknown>,
    model: string,
    streamed: boolean,
  ) => {
    if (asksForJson(body)) {
      sendJson(response, 200, jsonAnswer(body, model));
      return;
    }
    const step = stepFor(request, body);
    if (!step) {
      sendJson(
        response,
        400,
        geminiErrorBody(400, 'INVALID_ARGUMENT', 'scripted model server: no step left for this credential'),
      );
      return;
    }
    if (step.delayMs) await wait(step.delayMs);
    switch (step.kind) {
      case 'hang':
        return;
      case 'error':
        sendJson(
          response,
          step.status,
          geminiErrorBody(step.status, step.type, step.message, step.details),
          step.headers,
        );
        return;
      case 'text':
      case 'tool_use':
        if (!streamed) {
          sendJson(response, 200, geminiResponse(step, model), step.headers);
          return;
        }
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          ...step.headers,
        });
        for (const chunk of geminiChunks(step, model)) response.write(encodeGeminiChunk(chunk));
        response.end();
        return;
      case 'stall_mid_stream': {
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const [first] = geminiChunks({ kind: 'text', text: 'Thinking' }, model);
        response.write(encodeGeminiChunk(first!));
        return; // the stream stays open with nothing more
      }
      default:
        sendJson(
          response,
          400,
          geminiErrorBody(
            400,
            'INVALID_ARGUMENT',
            `scripted model server: step ${step.kind} is not served on the Gemini API`,
          ),
        );
    }
  };

  const server = createServer(async (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const raw = request.method === 'POST' ? await readBody(request) : '';
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    log.push({
      n: log.length + 1,
      at: new Date(),
      method: request.method ?? 'GET',
      url: request.url ?? '/',
      credential: credentialOf(request),
      // Claude Code sends its session id in a header; Codex its thread id as the prompt cache key.
      sessionId:
        typeof request.headers['x-claude-code-session-id'] === 'string'
          ? request.headers['x-claude-code-session-id']
          : typeof body?.prompt_cache_key === 'string'
            ? body.prompt_cache_key
            : undefined,
      stream: body?.stream === true,
      headers: recordedHeaders(request),
      body,
    });
    try {
      if (request.method === 'HEAD' && path === '/') {
        response.writeHead(200).end();
      } else if (request.method === 'POST' && path === '/v1/messages') {
        await answerMessages(request, response, body ?? {});
      } else if (request.method === 'POST' && path === '/v1/responses') {
        await answerResponses(request, response, body ?? {});
      } else if (request.method === 'POST' && GEMINI_CALL.test(path ?? '')) {
        const [, model, method] = GEMINI_CALL.exec(path ?? '')!;
        if (method === 'countTokens') sendJson(response, 200, { totalTokens: 100 });
        else await answerGemini(request, response, body ?? {}, model!, method === 'streamGenerateContent');
      } else if (request.method === 'POST' && path === '/v1/messages/count_tokens') {
        sendJson(response, 200, { input_tokens: 100 });
      } else {
        sendJson(
          response,
          404,
          errorBody('not_found_error', `scripted model server has no route ${request.method} ${path}`),
        );
      }
    } catch (error) {
      if (!response.headersSent) sendJson(response, 500, errorBody('api_error', String(error)));
      else response.destroy();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    script(credential, steps) {
      const queue = scripts.get(credential) ?? [];
      for (const step of steps) queue.push({ step, left: step.repeat ?? 1 });
      scripts.set(credential, queue);
    },
    requests: (filter) => (filter ? log.filter(filter) : [...log]),
    remaining: (credential) => (scripts.get(credential) ?? []).reduce((sum, queued) => sum + queued.left, 0),
    reset() {
      scripts.clear();
      log.length = 0;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      // Hanging steps keep sockets open; without destroying them close() would wait forever.
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
