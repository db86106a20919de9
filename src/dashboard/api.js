// The API client: the token from sessionStorage as `Authorization: Bearer`, JSON errors as ApiError,
// and the event streams read with fetch() (EventSource cannot send headers).

const TOKEN_KEY = 'supervisor.token';

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const listeners = new Set();
/** Called with the error whenever the API answers 401 (no token, or a wrong one). */
export const onUnauthorized = (listener) => listeners.add(listener);

function headers(extra = {}) {
  const token = session.token();
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function failure(response) {
  let code = 'http_error';
  let message = `${response.status} ${response.statusText}`;
  let details;
  try {
    const body = await response.json();
    if (body?.error) ({ code, message, details } = body.error);
  } catch {
    // Not JSON: keep the status line.
  }
  const error = new ApiError(response.status, code, message, details);
  if (response.status === 401) for (const listener of listeners) listener(error);
  return error;
}

/** Calls `/api/v1${path}`; resolves to the parsed JSON (or the text, with `text: true`). */
export async function api(path, { method = 'GET', body, signal, text = false } = {}) {
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers: headers(
      body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
    ),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await failure(response);
  return text ? { text: await response.text(), headers: response.headers } : response.json();
}

export const query = (params) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
};

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Parses one SSE frame (the lines between blank lines) into { id, event, data }. */
export function parseFrame(frame) {
  const message = { id: null, event: 'message', data: [], retry: null };
  for (const line of frame.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') message.id = value;
    else if (field === 'event') message.event = value;
    else if (field === 'data') message.data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) message.retry = Number(value);
  }
  return { ...message, data: message.data.join('\n') };
}

/**
 * Streams a task's events: history first, then live. On a dropped connection it reconnects with
 * `Last-Event-ID`, so nothing is missed or repeated. Resolves when the server ends the stream
 * after the task's final status (or when `signal` aborts); rejects on 401, 403 and 404.
 */
export const streamTaskEvents = (taskId, options) =>
  streamEvents(`/tasks/${encodeURIComponent(taskId)}/events`, options);

/**
 * Streams every task's status changes until `signal` aborts, reconnecting when the connection
 * drops. Each connection opens with a `ready` event and may bring a `resync` one: reload the list
 * then (see GET /tasks/changes).
 */
export const streamTaskChanges = (options) =>
  streamEvents('/tasks/changes', { ...options, isFinished: async () => false });

/** Reads Server-Sent Events from `/api/v1${path}` with fetch, reconnecting until `isFinished` says so. */
async function streamEvents(path, { onEvent, onState, signal, isFinished }) {
  let lastId = null;
  let retryMs = 2000;
  for (let failures = 0; !signal.aborted; ) {
    try {
      const response = await fetch(`/api/v1${path}`, {
        headers: headers(
          lastId === null
            ? { accept: 'text/event-stream' }
            : { accept: 'text/event-stream', 'last-event-id': lastId },
        ),
        signal,
      });
      if (!response.ok) {
        const error = await failure(response);
        if ([400, 401, 403, 404].includes(response.status)) throw Object.assign(error, { fatal: true });
        throw error;
      }
      onState('live');
      failures = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (frame.retry) retryMs = frame.retry;
          if (frame.id !== null) lastId = frame.id;
          if (frame.data) onEvent(frame.event, JSON.parse(frame.data));
        }
      }
      // The server closes the stream after the final status; otherwise the connection dropped.
      if (await isFinished()) {
        onState('ended');
        return;
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error.fatal) throw error;
      failures += 1;
    }
    onState('reconnecting');
    await sleep(Math.min(retryMs * Math.max(failures, 1), 15_000), signal);
  }
}
