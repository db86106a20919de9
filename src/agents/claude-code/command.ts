import { commonAgentEnv } from '../agent-env.ts';

/**
 * The exact `claude` invocation for one attempt: arguments and an environment built from scratch.
 * Pure, so the policy it encodes is unit-tested line by line.
 *
 * Permission policy (see docs/agents.md):
 * - read-only task types get `--permission-mode dontAsk` and only the Read, Glob and Grep tools;
 * - mutating task types get `--permission-mode acceptEdits` (edits inside the working directory
 *   only) with Bash limited to an allowlist of command prefixes.
 * The supervisor never uses `bypassPermissions`, so agents run the same way as root (CI) and as an
 * unprivileged user, and the CLI's root sandbox acknowledgement (`IS_SANDBOX`) is never set.
 * With `permissionPrompt`, what the CLI would refuse (a Bash command outside the allowlist, an edit
 * under a gated path) is asked of the supervisor instead (`can_use_tool` on stdio), which answers
 * from the approval policy or a person.
 *
 * Input is stream-json: the prompt is the first user message, and stdin stays open so people's
 * messages reach the agent's next turn (shared/protocols/agent-cli.md §1.4).
 */

/** An agent's one credential. */
export type Credential =
  | { kind: 'api_key' | 'gateway_token' | 'subscription'; value: string }
  | { kind: 'cloud'; provider: 'bedrock' | 'vertex'; env: Record<string, string> };

/** Where each credential kind goes: only one of them is ever set for an agent process. */
const CREDENTIAL_ENV = {
  api_key: 'ANTHROPIC_API_KEY',
  gateway_token: 'ANTHROPIC_AUTH_TOKEN',
  subscription: 'CLAUDE_CODE_OAUTH_TOKEN',
} as const;

const CLOUD_SWITCH = { bedrock: 'CLAUDE_CODE_USE_BEDROCK', vertex: 'CLAUDE_CODE_USE_VERTEX' } as const;

/** The environment variables that carry a credential into the CLI. */
export function credentialEnv(credential: Credential): Record<string, string> {
  if (credential.kind === 'cloud') return { ...credential.env, [CLOUD_SWITCH[credential.provider]]: '1' };
  return { [CREDENTIAL_ENV[credential.kind]]: credential.value };
}

/** The secret strings of a credential, to scrub from anything the agent prints. */
export function credentialSecrets(credential: Credential): string[] {
  const values = credential.kind === 'cloud' ? Object.values(credential.env) : [credential.value];
  // Short values (a region name) are not secrets and would scrub ordinary words.
  return values.filter((value) => value.length >= 12);
}

export const READ_ONLY_TOOLS = ['Read', 'Glob', 'Grep'];
/** The supervisor's MCP server name; its tools reach the agent as `mcp__supervisor__<tool>`. */
export const SUPERVISOR_MCP_SERVER = 'supervisor';
export const MUTATING_TOOLS = ['Read', 'Glob', 'Grep', 'Edit', 'Write', 'NotebookEdit', 'Bash'];

export interface ClaudeCommandInput {
  model: string;
  sessionId: string;
  /** Continue an earlier session (same id) instead of starting one. */
  resume: boolean;
  maxTurns: number;
  maxBudgetUsd: number;
  readOnly: boolean;
  /** Bash command prefixes a mutating agent may run, e.g. `git diff`, `npm test`. */
  allowedCommands: string[];
  appendSystemPrompt?: string;
  jsonSchema?: object;
  /** An MCP configuration file (the supervisor's memory server) and the tools the agent may call on it. */
  mcp?: { configFile: string; tools: readonly string[] };
  credential: Credential;
  baseUrl?: string;
  /** CLAUDE_CONFIG_DIR: all CLI state, including the session transcript. */
  configDir: string;
  tmpDir: string;
  homeDir: string;
  /** PATH for the agent (its Bash tool runs commands with it). */
  path: string;
  /** Retries per API call inside the CLI; the supervisor retries whole attempts itself. */
  apiRetries: number;
  /** Per-request time limit until the response starts. */
  apiTimeoutMs: number;
  gitIdentity: { name: string; email: string };
  /** Marks every process of the attempt, whatever group or session it moves to (attempt-processes.ts). */
  attemptId: string;
  /** Ask the supervisor on stdio instead of refusing what needs permission (mutating tasks only). */
  permissionPrompt?: boolean;
  /** Paths (globs relative to the working directory) whose edits always ask first. */
  gatedWrites?: readonly string[];
  /**
   * A worktree the agent's git should trust although it runs as another user than the one owning
   * the repository's git directory (AGENT_USER): without it git refuses with "dubious ownership".
   */
  gitSafeDirectory?: string;
}

/** Tools allowed without asking: Bash command prefixes (mutating tasks) and the supervisor's MCP tools. */
function allowedTools(input: ClaudeCommandInput): string[] {
  const tools = [
    ...(input.readOnly ? [] : input.allowedCommands.map((command) => `Bash(${command}:*)`)),
    ...(input.mcp?.tools.map((tool) => `mcp__${SUPERVISOR_MCP_SERVER}__${tool}`) ?? []),
  ];
  return tools.length ? ['--allowedTools', ...tools] : [];
}

/** `ask` rules for gated paths, as flag settings (which `--setting-sources ''` leaves in force). */
function gatedWriteSettings(input: ClaudeCommandInput): string[] {
  if (input.readOnly || !input.permissionPrompt || !input.gatedWrites?.length) return [];
  const ask = input.gatedWrites.flatMap((glob) => [`Edit(${glob})`, `Write(${glob})`]);
  return ['--settings', JSON.stringify({ permissions: { ask } })];
}

export function claudeCommand(input: ClaudeCommandInput): { args: string[]; env: Record<string, string> } {
  const args = [
    '-p',
    '--input-format',
    'stream-json',
    '--output-format',
    'stream-json',
    '--verbose',
    '--include-partial-messages',
    '--model',
    input.model,
    ...(input.resume ? ['--resume', input.sessionId] : ['--session-id', input.sessionId]),
    '--max-turns',
    String(input.maxTurns),
    '--max-budget-usd',
    String(input.maxBudgetUsd),
    // Ignore user and project settings, hooks and .mcp.json: the supervisor decides everything.
    '--setting-sources',
    '',
    '--strict-mcp-config',
    ...(input.mcp ? ['--mcp-config', input.mcp.configFile] : []),
    '--permission-mode',
    input.readOnly ? 'dontAsk' : 'acceptEdits',
    '--tools',
    (input.readOnly ? READ_ONLY_TOOLS : MUTATING_TOOLS).join(','),
    ...allowedTools(input),
    ...(input.permissionPrompt && !input.readOnly ? ['--permission-prompt-tool', 'stdio'] : []),
    ...gatedWriteSettings(input),
    ...(input.appendSystemPrompt ? ['--append-system-prompt', input.appendSystemPrompt] : []),
    ...(input.jsonSchema ? ['--json-schema', JSON.stringify(input.jsonSchema)] : []),
  ];
  const env: Record<string, string> = {
    PATH: input.path,
    HOME: input.homeDir,
    LANG: 'C.UTF-8',
    TMPDIR: input.tmpDir,
    CLAUDE_CONFIG_DIR: input.configDir,
    CLAUDE_CODE_TMPDIR: input.tmpDir,
    ...credentialEnv(input.credential),
    ...(input.baseUrl ? { ANTHROPIC_BASE_URL: input.baseUrl } : {}),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    CLAUDE_CODE_MAX_RETRIES: String(input.apiRetries),
    API_TIMEOUT_MS: String(input.apiTimeoutMs),
    ...commonAgentEnv(input),
  };
  return { args, env };
}
