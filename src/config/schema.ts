import { z } from 'zod';
import { REPOSITORY_SCHEMES } from '../workspace/repository-policy.ts';

/**
 * Every setting the supervisor reads, with its default. The names are environment variables;
 * `.env.sample` documents each one and a test keeps that file, the README table and this schema
 * in step. Units are in the names (`_MS`, `_SECONDS`, `_BYTES`, `_USD`).
 */

const intInRange = (min: number, max: number) =>
  z.coerce
    .number({ error: `expected an integer between ${min} and ${max}` })
    .int({ error: `expected an integer between ${min} and ${max}` })
    .min(min, { error: `expected an integer between ${min} and ${max}` })
    .max(max, { error: `expected an integer between ${min} and ${max}` });

const positiveNumber = z.coerce
  .number({ error: 'expected a positive number' })
  .positive({ error: 'expected a positive number' });

const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\/\S+$/, { error: 'expected a URL of the form postgres://user@host:5432/db' });

const redisUrl = z
  .string()
  .regex(/^rediss?:\/\/\S+$/, { error: 'expected a URL of the form redis://host:6379' });

const httpUrl = z.string().regex(/^https?:\/\/\S+$/, { error: 'expected an http:// or https:// URL' });

const apiToken = z.string().regex(/^sv_[A-Za-z0-9_-]{43}$/, {
  error: 'expected an API token (sv_ and 43 characters); `supervisor tokens generate` prints a new one',
});

const booleanFlag = z
  .preprocess(
    (value) => (typeof value === 'string' ? value.toLowerCase() : value),
    z.enum(['true', 'false', '1', '0'], { error: 'expected true or false' }),
  )
  .transform((value) => value === 'true' || value === '1');

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** The seed project's (Python's) level names that are not ours. */
const PYTHON_LOG_LEVELS: Record<string, (typeof LOG_LEVELS)[number]> = { warning: 'warn', critical: 'fatal' };
export const AGENT_DRIVERS = ['claude-code', 'echo'] as const;
export const AUTH_MODES = ['auto', 'tokens', 'none'] as const;

export const configSchema = z.object({
  /** HTTP port of the API and dashboard. */
  PORT: intInRange(0, 65535).default(8000),
  /** Interface to bind. Loopback by default so a laptop install is not exposed to the network. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** PostgreSQL server for distributed mode. Unset: an embedded PGlite database under DATA_DIR. */
  DATABASE_URL: postgresUrl.optional(),
  /** Directory for the embedded database and other local state. */
  DATA_DIR: z.string().min(1).default('./data'),
  /** Redis for the cross-process event bus in distributed mode. */
  REDIS_URL: redisUrl.optional(),
  /** Prefix of this deployment's Redis keys, so several can share one Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[\w.:-]{1,100}$/, { error: 'expected letters, digits and . _ : -' })
    .default('supervisor'),
  /** Comma-separated Anthropic API keys, one agent per key. */
  CLAUDE_API_KEYS: commaList.default([]),
  /** Requests each agent may make per quota window. */
  CLAUDE_QUOTA_LIMIT_PER_AGENT: intInRange(1, 10_000_000).default(1000),
  /**
   * Attempts each CLAUDE_API_KEYS agent may run at once, across every worker of the cluster
   * (the agents file says `max_concurrent` per agent). Independent of WORKER_CONCURRENCY.
   */
  CLAUDE_CONCURRENCY_PER_AGENT: intInRange(1, 1000).default(4),
  /** Length of an agent's quota window. */
  CLAUDE_QUOTA_RESET_HOURS: positiveNumber.default(5),
  /** Slack bot token for notifications. */
  SLACK_BOT_TOKEN: z.string().min(1).optional(),
  /** Slack channel id or name for notifications. */
  SLACK_CHANNEL: z.string().min(1).optional(),
  /**
   * Signing secret of the Slack app: with it, the Approve and Deny buttons under an approval
   * notification work (POST /api/v1/slack/interactions checks each request's signature).
   */
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  /** Slack user ids (U…) allowed to approve or deny from Slack, comma-separated; nobody else is. */
  SLACK_APPROVERS: commaList.default([]),
  /** SMTP host for email notifications. */
  EMAIL_SMTP_HOST: z.string().min(1).optional(),
  /** SMTP port for email notifications. */
  EMAIL_SMTP_PORT: intInRange(1, 65535).default(587),
  /** SMTP user name. */
  EMAIL_USERNAME: z.string().min(1).optional(),
  /** SMTP password. */
  EMAIL_PASSWORD: z.string().min(1).optional(),
  /** Implicit TLS from the first byte (port 465); otherwise STARTTLS is used when the server offers it. */
  EMAIL_SMTP_SECURE: booleanFlag.default(false),
  /** Refuse to send unless the connection is upgraded to TLS (STARTTLS). */
  EMAIL_SMTP_REQUIRE_TLS: booleanFlag.default(false),
  /** Check the SMTP server's TLS certificate; false only for a self-signed one you trust. */
  EMAIL_SMTP_TLS_REJECT_UNAUTHORIZED: booleanFlag.default(true),
  /** Sender address of notification emails. */
  EMAIL_FROM: z.string().min(3).optional(),
  /** Recipients of notification emails, comma-separated. */
  EMAIL_TO: commaList.default([]),
  /** Slack Web API base URL (tests and proxies point it elsewhere). */
  SLACK_API_URL: httpUrl.default('https://slack.com/api/'),
  /** Webhook endpoint for notifications, signed per the Standard Webhooks spec. */
  WEBHOOK_URL: httpUrl.optional(),
  /** Webhook signing secret (`whsec_` and base64). */
  WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]{32,}$/, {
      error:
        'expected whsec_ and the base64 of at least 24 random bytes: echo "whsec_$(openssl rand -base64 32)"',
    })
    .optional(),
  /** Which alert kinds go to which channel, e.g. `email=agents_exhausted,agent_disabled;slack=*` (unset: all to all). */
  NOTIFY_ROUTES: z.string().min(1).optional(),
  /** Alerts of one kind within this long become one message with a count. */
  NOTIFY_GROUP_WINDOW_SECONDS: intInRange(1, 86_400).default(60),
  /** First retry delay of a failed delivery; it doubles up to an hour. */
  NOTIFY_RETRY_SECONDS: intInRange(1, 3600).default(15),
  /** UTC hour (0-23) at which a summary of the past day is sent (unset: no daily summary). */
  NOTIFY_DAILY_SUMMARY_HOUR: intInRange(0, 23).optional(),
  /** Audit records older than this many days are deleted, leaving a verifiable anchor (unset: kept forever). */
  AUDIT_RETENTION_DAYS: intInRange(1, 36_500).optional(),
  /** Public base URL of this supervisor, used for links in notifications. */
  PUBLIC_URL: httpUrl.optional(),
  /** GitHub App id (the App's settings page); with GITHUB_APP_PRIVATE_KEY, the supervisor acts as the App. */
  GITHUB_APP_ID: intInRange(1, Number.MAX_SAFE_INTEGER).optional(),
  /** The App's private key (PEM; `\n` escapes are read as line breaks). */
  GITHUB_APP_PRIVATE_KEY: z
    .string()
    .transform((value) => value.replace(/\\n/g, '\n'))
    .pipe(
      z.string().regex(/^-----BEGIN (RSA )?PRIVATE KEY-----/, {
        error: 'expected a PEM private key (-----BEGIN ... PRIVATE KEY-----)',
      }),
    )
    .optional(),
  /** A personal access token instead of an App, for trying it out (no check runs). */
  GITHUB_TOKEN: z.string().min(1).optional(),
  /** The App's webhook secret: deliveries whose X-Hub-Signature-256 does not match it are refused. */
  GITHUB_WEBHOOK_SECRET: z
    .string()
    .min(16, { error: 'expected at least 16 characters: openssl rand -hex 32' })
    .optional(),
  /** The previous webhook secret, still accepted while the App's is being rotated. */
  GITHUB_WEBHOOK_SECRET_PREVIOUS: z
    .string()
    .min(16, { error: 'expected at least 16 characters: openssl rand -hex 32' })
    .optional(),
  /** GitHub REST API base URL; GitHub Enterprise Server: https://<host>/api/v3. */
  GITHUB_API_URL: httpUrl.default('https://api.github.com'),
  /** The least finding severity that fails a review's check run: critical, major, minor, nit or never. */
  GITHUB_REVIEW_FAIL_ON: z
    .enum(['critical', 'major', 'minor', 'nit', 'never'], {
      error: 'expected critical, major, minor, nit or never',
    })
    .default('critical'),
  /** The name comment commands are addressed to: `@supervisor review`, `@supervisor summarize`. */
  GITHUB_MENTION: z
    .string()
    .regex(/^[A-Za-z0-9][\w-]{0,38}$/, { error: 'expected a GitHub-style name: letters, digits, - and _' })
    .default('supervisor'),
  /** Reviews of one pull request started in any 24 hours, at most; later pushes are not reviewed until the window moves on. */
  GITHUB_REVIEWS_PER_PR_PER_DAY: intInRange(1, 1000).default(10),
  /** How often the reconcile pass looks for what GitHub never delivered; 0: never (on demand only). */
  GITHUB_RECONCILE_MINUTES: intInRange(0, 1440).default(10),
  /** A review whose verdict is request_changes is posted as REQUEST_CHANGES (otherwise as a comment). */
  GITHUB_REQUEST_CHANGES: booleanFlag.default(false),
  /** Log verbosity, in any case; Python's WARNING and CRITICAL mean warn and fatal. */
  LOG_LEVEL: z
    .preprocess(
      (value) =>
        typeof value === 'string' ? (PYTHON_LOG_LEVELS[value.toLowerCase()] ?? value.toLowerCase()) : value,
      z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }),
    )
    .default('info'),
  /** The seed project's debug switch: `true` means LOG_LEVEL=debug when LOG_LEVEL is not set. */
  APP_DEBUG: booleanFlag.optional(),
  /** Human-readable logs instead of JSON lines. */
  LOG_PRETTY: booleanFlag.optional(),
  /** Agents this worker may run, comma-separated names (empty: all). Lets hosts serve different agents. */
  WORKER_AGENTS: commaList.default([]),
  /** Attempts one worker process runs at the same time, whichever agents they use. */
  WORKER_CONCURRENCY: intInRange(1, 256).default(4),
  /**
   * An agent starts only while the machine has this much memory available (MiB; 0: not checked);
   * otherwise its task waits for a slot with the reason shown. A Claude Code process takes ~200–300.
   */
  AGENT_MIN_FREE_MEMORY_MB: intInRange(0, 1_048_576).default(300),
  /** An agent starts only while this much disk is free where workspaces live (MiB; 0: not checked). */
  AGENT_MIN_FREE_DISK_MB: intInRange(0, 1_048_576 * 1024).default(1024),
  /**
   * Most `"batch": true` tasks (read-only, same type, repository and refs) run as items of one
   * agent session. Default 1: batching off. See docs/batching.md.
   */
  BATCH_SIZE: intInRange(1, 100).default(1),
  /** Seconds a `"batch": true` task waits for companions before its job is due. Default 10. */
  BATCH_INTERVAL_SECONDS: intInRange(0, 3600).default(10),
  /**
   * Submitters whose batch tasks may share one agent session with each other (say, a team's
   * service accounts). Empty (default): a session only ever holds one submitter's tasks.
   */
  BATCH_SHARED_SUBMITTERS: commaList.default([]),
  /**
   * Which agent driver runs tasks: `claude-code`, the real agent CLIs (each agent's `cli`: Claude
   * Code, Codex or Gemini); `echo` only echoes the payload back and runs no model.
   */
  AGENT_DRIVER: z
    .enum(AGENT_DRIVERS, { error: `expected one of ${AGENT_DRIVERS.join(', ')}` })
    .default('claude-code'),
  /** Model the Claude Code agents use (always passed explicitly: the CLI's default changes between versions). */
  CLAUDE_MODEL: z
    .string()
    .regex(/^[\w.:[\]-]+$/, { error: 'expected a model id such as claude-sonnet-4-5' })
    .default('claude-sonnet-4-5'),
  /** Model API endpoint for the agents: an LLM gateway, or unset for Anthropic's own. */
  ANTHROPIC_BASE_URL: httpUrl.optional(),
  /** Turns one attempt may take. */
  CLAUDE_MAX_TURNS: intInRange(1, 1000).default(50),
  /** Retries per model API call inside the CLI; the supervisor retries whole attempts itself. */
  CLAUDE_API_RETRIES: intInRange(0, 10).default(2),
  /** How long the CLI waits for a model API response to start. */
  CLAUDE_API_TIMEOUT_MS: intInRange(1000, 600_000).default(120_000),
  /** Wall-clock limit of one attempt. */
  TASK_TIMEOUT_SECONDS: intInRange(1, 86_400).default(1800),
  /** An agent silent this long while no tool runs is stalled and stopped. */
  AGENT_IDLE_TIMEOUT_SECONDS: intInRange(1, 86_400).default(180),
  /** How long a running tool (tests, builds) may go without output. */
  AGENT_TOOL_TIMEOUT_SECONDS: intInRange(1, 86_400).default(900),
  /** Spend limit of one attempt, priced with the supervisor's own table. */
  TASK_MAX_COST_USD: positiveNumber.default(5),
  /**
   * Command prefixes a mutating agent may run with Bash, comma-separated. The default holds only
   * commands whose file arguments Claude Code confines to the worktree. A test runner runs code the
   * agent wrote (a package.json script, a Makefile, conftest.py), and `git diff --output` or
   * `git commit -F` reach outside it: add those only where agents run in an OS sandbox
   * (docs/security.md).
   */
  AGENT_ALLOWED_COMMANDS: commaList.default('git status,ls,cat,head,tail,grep,wc'.split(',')),
  /**
   * Unprivileged user (name or uid) agent processes run as when the supervisor runs as root; their
   * worktree and session state are handed to it. Unset: agents run as the supervisor's user.
   */
  AGENT_USER: z
    .string()
    .regex(/^([a-z_][a-z0-9_-]{0,31}|\d{1,10})$/, { error: 'expected a user name or uid, such as nobody' })
    .optional(),
  /** PATH for agent processes (their Bash tool runs commands with it). Default: the supervisor's Node, then the system's. */
  AGENT_PATH: z.string().min(1).optional(),
  /** Directory of `owner/repo` checkouts that `owner/repo` repositories are cloned from. */
  REPOS_ROOT: z.string().min(1).optional(),
  /** Base URL `owner/repo` repositories are cloned from when REPOS_ROOT is unset, e.g. https://github.com/. */
  GIT_BASE_URL: z
    .string()
    .regex(/^(https?|ssh|git|file):\/\/\S+$/, { error: 'expected a URL such as https://github.com/' })
    .optional(),
  /** Where task worktrees go. Default: DATA_DIR/workspaces. */
  WORKSPACES_DIR: z.string().min(1).optional(),
  /** How long a finished mutating task keeps its attempts' worktrees (its branch stays until the task is deleted). */
  WORKSPACE_RETENTION_HOURS: positiveNumber.default(24),
  /**
   * Finished tasks older than this many days are deleted with their attempts and events; workers
   * then delete their branches and agent state. Audit records and memory entries are kept on
   * their own terms (AUDIT_RETENTION_DAYS).
   */
  TASK_RETENTION_DAYS: intInRange(1, 36_500).default(90),
  /** A repository copy older than this is fetched again before use. */
  MIRROR_REFRESH_SECONDS: intInRange(0, 86_400).default(60),
  /** Agents file (YAML or JSON) with the full agent definitions; replaces the CLAUDE_API_KEYS form. */
  AGENTS_FILE: z.string().min(1).optional(),
  /** Key that encrypts stored credentials. Unset in embedded mode: a generated DATA_DIR/secrets.key. */
  SECRETS_KEY: z.string().min(16, { error: 'expected at least 16 characters' }).optional(),
  /** Expected cost of a task with no history, used by admission until real figures exist. */
  TASK_COST_ESTIMATE_USD: positiveNumber.default(0.5),
  /** Spend limit per repository per UTC day across all agents (unset: none). */
  REPO_DAILY_BUDGET_USD: positiveNumber.optional(),
  /** A parked task waiting for capacity is looked at again at least this often. */
  PARK_RECHECK_SECONDS: intInRange(1, 86_400).default(60),
  /** How long the echo driver pretends to work. */
  ECHO_DRIVER_DELAY_MS: intInRange(0, 3_600_000).default(200),
  /** Attempts a task gets for its own failures before it fails (infrastructure interruptions do not count). */
  TASK_MAX_ATTEMPTS: intInRange(1, 20).default(3),
  /**
   * Which tool calls of mutating tasks wait for a person (YAML or JSON; docs/agents.md). Unset:
   * none do, and the CLI refuses what is outside the allowlist as before.
   */
  APPROVAL_POLICY_FILE: z.string().min(1).optional(),
  /** How long a tool call waits for a person before it counts as denied (a rule may say otherwise). */
  APPROVAL_TIMEOUT_SECONDS: intInRange(1, 7 * 86_400).default(900),
  /** Messages (answers, follow-ups) one task takes, at most: each starts a run of its own. */
  TASK_MESSAGES_MAX: intInRange(0, 1000).default(10),
  /** How far back a `dedupe: true` submission looks for a task of the same content. */
  DEDUP_WINDOW_SECONDS: intInRange(1, 30 * 86_400).default(3600),
  /** Project memory a prompt may carry, in (estimated) tokens; 0 leaves memory out of prompts. */
  MEMORY_PROMPT_TOKENS: intInRange(0, 100_000).default(2000),
  /**
   * How agent runs reach the memory tools: `http` (the API's MCP endpoint), `stdio` (each run
   * starts `supervisor mcp`, about 0.3 s more before its first model request), or `off` (memory in
   * prompts only).
   */
  MEMORY_TOOLS: z.enum(['http', 'stdio', 'off']).default('http'),
  /**
   * Where agents' memory tools (`supervisor mcp`) reach the API. Default for `serve`: this
   * process's own address; a `worker` process without it gives agents no memory tools.
   */
  AGENT_API_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, { error: 'expected an http(s) URL such as http://supervisor-api:8000' })
    .optional(),
  /** First retry delay; doubles per attempt, with jitter. */
  RETRY_BASE_DELAY_MS: intInRange(0, 3_600_000).default(2000),
  /** Upper bound of the retry delay. */
  RETRY_MAX_DELAY_MS: intInRange(0, 86_400_000).default(300_000),
  /** Largest accepted request body. */
  MAX_BODY_BYTES: intInRange(1024, 104_857_600).default(1_048_576),
  /** How long shutdown waits for running attempts before handing them back to the queue. */
  SHUTDOWN_GRACE_SECONDS: intInRange(0, 3600).default(30),
  /**
   * Length of a running attempt's lease (renewed four times per period by its worker); an attempt
   * not renewed for a lease, and a lease more after another worker noticed, is recovered.
   */
  WORKER_HEARTBEAT_SECONDS: intInRange(10, 3600).default(10),
  /** How often a worker checks whether one of its running tasks was cancelled. */
  CANCEL_POLL_INTERVAL_MS: intInRange(50, 60_000).default(1000),
  /** Where the CLI finds the API. */
  SUPERVISOR_URL: httpUrl.default('http://127.0.0.1:8000'),
  /** API token the CLI sends (`Authorization: Bearer`). */
  SUPERVISOR_TOKEN: apiToken.optional(),
  /**
   * `tokens`: every API route but the probes and docs needs a token. `none`: no-auth development
   * mode, allowed only for `serve` on a loopback HOST. `auto`: `none` where allowed, else `tokens`.
   */
  AUTH_MODE: z.enum(AUTH_MODES, { error: `expected one of ${AUTH_MODES.join(', ')}` }).default('auto'),
  /** A fixed admin token (e.g. from a deployment secret). Unset: one is created and printed on first start. */
  ADMIN_TOKEN: apiToken.optional(),
  /** Task submissions one token may make per minute (bursts up to this many). */
  SUBMIT_RATE_PER_MINUTE: intInRange(1, 1_000_000).default(60),
  /** Task submissions one IP address may make per minute, whatever the token. */
  SUBMIT_RATE_PER_MINUTE_PER_IP: intInRange(1, 1_000_000).default(120),
  /**
   * What a task's repository URL may use: https, http, ssh, git, file (file also covers local
   * paths). Unset: https and ssh, plus file in development mode. owner/repo is always allowed.
   */
  REPOSITORY_SCHEMES: commaList
    .pipe(z.array(z.enum(REPOSITORY_SCHEMES, { error: `expected some of ${REPOSITORY_SCHEMES.join(', ')}` })))
    .optional(),
  /** Hosts a task's repository URL may name, comma-separated; `*.example.com` covers subdomains. Empty: any. */
  REPOSITORY_HOSTS: commaList.default([]),
  /** Browser origins allowed to call the API cross-origin, comma-separated (empty: none, CORS closed). */
  CORS_ORIGINS: commaList
    .pipe(
      z.array(
        z
          .string()
          .regex(/^https?:\/\/[^/\s]+$/, { error: 'expected origins such as https://dashboard.example.com' }),
      ),
    )
    .default([]),
});

/** Variables whose values are secrets: never printed, logged or returned. */
export const SECRET_KEYS = new Set<keyof ConfigInput>([
  'CLAUDE_API_KEYS',
  'SECRETS_KEY',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'EMAIL_PASSWORD',
  'WEBHOOK_SECRET',
  'DATABASE_URL',
  'REDIS_URL',
  'ADMIN_TOKEN',
  'SUPERVISOR_TOKEN',
  'GITHUB_APP_PRIVATE_KEY',
  'GITHUB_TOKEN',
  'GITHUB_WEBHOOK_SECRET',
  'GITHUB_WEBHOOK_SECRET_PREVIOUS',
]);

export type ConfigInput = z.input<typeof configSchema>;
export type Config = Readonly<z.output<typeof configSchema>>;
