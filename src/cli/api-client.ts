import { EXIT, ExitError } from './exit.ts';

/** Every call to the API gives up after this long, so the CLI never hangs on a stuck server. */
const REQUEST_TIMEOUT_MS = 30_000;

/** A thin client for the supervisor's REST API, turning failures into CLI exit codes. */
export class ApiClient {
  readonly baseUrl: string;
  /** Headers every request carries: the API token, when there is one. */
  readonly authHeaders: Record<string, string>;

  constructor(baseUrl: string, token?: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.authHeaders = token ? { authorization: `Bearer ${token}` } : {};
  }

  async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...this.authHeaders,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError' ? 'timed out' : 'connection failed';
      throw new ExitError(
        EXIT.unreachable,
        `cannot reach the supervisor at ${this.baseUrl} (${reason}). Is \`supervisor serve\` running? Set SUPERVISOR_URL to point elsewhere.`,
      );
    }
    const text = await response.text();
    const body = text ? safeJson(text) : undefined;
    if (response.ok) return body as T;
    const apiError = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
      ?.error;
    const message = apiError
      ? `${apiError.code}: ${apiError.message}${hint(response.status)}`
      : `HTTP ${response.status}`;
    const code =
      response.status >= 500 ? EXIT.unreachable : response.status === 404 ? EXIT.notFound : EXIT.usage;
    throw new ExitError(code, message);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { error: { code: 'bad_response', message: text.slice(0, 200) } };
  }
}

function hint(status: number): string {
  return status === 401 ? ' (set SUPERVISOR_TOKEN to an API token)' : '';
}
