import type { ApiClient } from './api-client.ts';
import { EXIT, ExitError } from './exit.ts';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Parses a Server-Sent Events byte stream into messages (comments and `retry:` are skipped). */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let boundary = buffer.indexOf('\n\n');
    while (boundary >= 0) {
      const frame = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      boundary = buffer.indexOf('\n\n');
      const message: SseMessage = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') message.id = value;
        else if (field === 'event') message.event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0 && message.id === undefined) continue;
      message.data = data.join('\n');
      yield message;
    }
  }
}

/**
 * Follows a task's event stream, reconnecting with Last-Event-ID if the connection drops, until
 * the server ends it (the task finished) or, with `untilReplayed`, history has been sent, or `signal`
 * is aborted.
 */
export async function* followEvents(
  client: ApiClient,
  taskId: string,
  options: { untilReplayed: boolean; signal?: AbortSignal },
): AsyncGenerator<SseMessage> {
  let lastId: string | undefined;
  for (let reconnects = 0; reconnects <= 5; reconnects++) {
    if (options.signal?.aborted) return;
    let response: Response;
    try {
      response = await fetch(`${client.baseUrl}/api/v1/tasks/${encodeURIComponent(taskId)}/events`, {
        headers: {
          accept: 'text/event-stream',
          ...client.authHeaders,
          ...(lastId ? { 'last-event-id': lastId } : {}),
        },
        signal: options.signal,
      });
    } catch {
      if (options.signal?.aborted) return;
      if (reconnects === 5)
        throw new ExitError(EXIT.unreachable, `cannot reach the supervisor at ${client.baseUrl}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    if (!response.ok || !response.body) {
      const body = (await response.json().catch(() => undefined)) as
        | { error?: { code: string; message: string } }
        | undefined;
      const message = body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${response.status}`;
      throw new ExitError(response.status >= 500 ? EXIT.unreachable : EXIT.usage, message);
    }
    try {
      for await (const message of parseSse(response.body)) {
        if (message.id) lastId = message.id;
        if (message.event === 'replay_complete') {
          if (options.untilReplayed) return;
          continue;
        }
        yield message;
      }
      return; // the server ended the stream: the task is over
    } catch {
      // connection lost mid-stream (or stopped by the caller): reconnect and resume after lastId
      if (options.signal?.aborted) return;
    }
  }
}
