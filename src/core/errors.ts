/**
 * The catalogue of errors the API returns. Codes are stable: clients branch on them, and a retired
 * code is never reused. `docs/errors.md` has a row per code and a test keeps the two in step.
 */
export const ERROR_CATALOGUE = {
  validation_failed: {
    status: 400,
    fix: 'Correct the fields listed in `details` and send the request again.',
  },
  bad_request: {
    status: 400,
    fix: 'The request could not be read; `message` says which part. Check it against /docs.',
  },
  invalid_cursor: {
    status: 400,
    fix: 'Pass the `next_cursor` value of a previous page unchanged, or omit it.',
  },
  unauthorized: {
    status: 401,
    fix: 'Send `Authorization: Bearer <token>` with a valid, unexpired API token (`supervisor tokens create`).',
  },
  invalid_signature: {
    status: 401,
    fix: 'Sign the delivery with the GitHub App’s webhook secret; it must equal GITHUB_WEBHOOK_SECRET (or GITHUB_WEBHOOK_SECRET_PREVIOUS while rotating). For Slack, the app’s signing secret must equal SLACK_SIGNING_SECRET, and the request be under 5 minutes old.',
  },
  forbidden: {
    status: 403,
    fix: 'Use a token whose role allows this (viewer < submitter < operator < admin); `message` names the role needed.',
  },
  not_found: { status: 404, fix: 'Check the method and path against the API reference at /docs.' },
  method_not_allowed: {
    status: 405,
    fix: 'Use one of the methods the `Allow` header lists for this path (see /docs).',
  },
  slack_not_configured: {
    status: 404,
    fix: 'Set SLACK_SIGNING_SECRET (the Slack app’s signing secret) and SLACK_APPROVERS, and restart (docs/notifications.md).',
  },
  github_not_configured: {
    status: 404,
    fix: 'Set GITHUB_WEBHOOK_SECRET and GITHUB_APP_ID with GITHUB_APP_PRIVATE_KEY (or GITHUB_TOKEN), and restart (docs/github.md).',
  },
  delivery_not_found: {
    status: 404,
    fix: 'Check the delivery id; list deliveries with GET /api/v1/github/deliveries (`supervisor github deliveries`).',
  },
  task_not_found: { status: 404, fix: 'Check the task id; list tasks with GET /api/v1/tasks.' },
  agent_not_found: { status: 404, fix: 'Check the agent name; list agents with GET /api/v1/agents.' },
  no_diff: {
    status: 404,
    fix: 'Only REFACTOR, BUG_FIX and FEATURE tasks produce a diff, once an attempt has finished; check the task’s status.',
  },
  schedule_not_found: {
    status: 404,
    fix: 'Check the schedule id; list schedules with GET /api/v1/schedules.',
  },
  memory_entry_not_found: {
    status: 404,
    fix: 'Check the entry id; search memory with GET /api/v1/memory.',
  },
  token_not_found: { status: 404, fix: 'Check the token id; list tokens with GET /api/v1/tokens.' },
  invalid_transition: {
    status: 409,
    fix: 'Read the task’s current status; `details.allowed` lists what can be done from it.',
  },
  dependencies_not_succeeded: {
    status: 409,
    fix: 'Retry the tasks listed in `details.dependencies` first, and this one once they have succeeded.',
  },
  task_in_progress: {
    status: 409,
    fix: 'The task waits for the tasks it depends on and has not run yet: send the message once it has started.',
  },
  approval_closed: {
    status: 409,
    fix: 'Someone decided already, or nobody answered in time, or the attempt ended: read the task’s approvals (GET /api/v1/tasks/{id}/approvals).',
  },
  task_never_ran: {
    status: 409,
    fix: 'The task ended before an agent ran, so there is no session to continue: retry it (POST /api/v1/tasks/{id}/retry).',
  },
  message_limit: {
    status: 409,
    fix: 'The task has had TASK_MESSAGES_MAX messages (`details.limit`): submit a new task to go on, or raise the setting.',
  },
  idempotency_key_reused: {
    status: 409,
    fix: 'Use a new Idempotency-Key for a different request, or resend the original body.',
  },
  payload_too_large: { status: 413, fix: 'Send a smaller body, or raise MAX_BODY_BYTES on the server.' },
  unsupported_media_type: { status: 415, fix: 'Send the body as JSON with Content-Type: application/json.' },
  rate_limited: {
    status: 429,
    fix: 'Wait the number of seconds in the Retry-After header, then send again; operators can raise SUBMIT_RATE_PER_MINUTE.',
  },
  not_ready: { status: 503, fix: 'The supervisor is starting or stopping; retry in a few seconds.' },
  database_unavailable: {
    status: 503,
    fix: 'The database cannot be reached; retry shortly. Operators: check PostgreSQL and DATABASE_URL.',
  },
  internal_error: { status: 500, fix: 'Retry; if it persists, look up the request id in the server log.' },
} as const satisfies Record<string, { status: number; fix: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** An error the API can show its caller as is: a catalogue code, a message, and optional details. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  /** Response headers that belong with the error (Retry-After, WWW-Authenticate). */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    details?: unknown,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.headers = options?.headers ?? {};
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.details = details;
  }
}
