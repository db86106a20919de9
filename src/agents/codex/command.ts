import { commonAgentEnv } from '../agent-env.ts';
import type { Credential } from '../claude-code/command.ts';
import type { McpServer } from '../mcp-servers.ts';
import { toToml } from './toml.ts';

/**
 * The exact `codex exec` invocation for one attempt: arguments, an environment built from
 * scratch, and the config.toml it reads from its own CODEX_HOME. Pure, so the policy it encodes is
 * unit-tested line by line (shared/protocols/agent-cli.md §3).
 *
 * Permission policy (see docs/agents.md): Codex confines the agent's commands with its own
 * operating-system sandbox rather than a tool list. Read-only task types run in `read-only` (no
 * write anywhere); mutating ones in `workspace-write` (writes inside the worktree and the
 * attempt's temporary directory only, no network; the worktree's git directory is outside it, so
 * the supervisor commits the agent's work). It never asks for approval (`never`): a
 * headless run has nobody to ask, so what the sandbox refuses fails inside it and the agent is
 * told. User rules, project config and hooks in the repository are not loaded.
 *
 * Everything is in config.toml, not in arguments: the MCP server's token and the instructions
 * are not for `ps` to show. The credential travels in one environment variable, which Codex keeps
 * out of the commands it runs.
 */

/** The model provider the supervisor defines; `env_key` names the variable holding the credential. */
export const PROVIDER = 'supervisor';
export const CREDENTIAL_ENV = 'SUPERVISOR_MODEL_API_KEY';
/** The provider's API, where the CLI goes when no base URL is configured. */
export const OPENAI_API = 'https://api.openai.com/v1';

export interface CodexCommandInput {
  model: string;
  /** Continue this thread (its rollout is in CODEX_HOME) instead of starting one. */
  resumeThread?: string;
  readOnly: boolean;
  workspaceDir: string;
  /** Said to the model as developer instructions, beside Codex's own. */
  appendSystemPrompt?: string;
  /** A JSON schema file the final answer must follow. */
  outputSchemaFile?: string;
  /** MCP servers (the supervisor's memory tools), by name. */
  mcpServers?: Record<string, McpServer>;
  credential: Credential;
  /** The Responses API base (ends in /v1); the model API tap's route in practice. */
  baseUrl: string;
  /** CODEX_HOME: config, session rollouts and Codex's own databases. */
  codexHome: string;
  homeDir: string;
  tmpDir: string;
  path: string;
  /** Retries per API request and per stream inside the CLI; the supervisor retries whole attempts. */
  apiRetries: number;
  /** A response stream silent this long is given up by the CLI. */
  streamIdleMs: number;
  gitIdentity: { name: string; email: string };
  attemptId: string;
  gitSafeDirectory?: string;
}

export class UnsupportedCredentialError extends Error {}

/** The bearer token Codex sends: an API key, or a gateway's token. */
export function codexToken(credential: Credential): string {
  if (credential.kind === 'api_key' || credential.kind === 'gateway_token') return credential.value;
  throw new UnsupportedCredentialError(
    `codex agents take an api_key or gateway_token credential, not ${credential.kind}`,
  );
}

export function codexCommand(input: CodexCommandInput): {
  args: string[];
  env: Record<string, string>;
  config: string;
} {
  const sandbox = input.readOnly ? 'read-only' : 'workspace-write';
  const args = [
    'exec',
    '--json',
    '--skip-git-repo-check',
    '--ignore-rules',
    '--model',
    input.model,
    ...(input.outputSchemaFile ? ['--output-schema', input.outputSchemaFile] : []),
    // `exec resume` takes no -C or --sandbox: the working directory is the process's, and the
    // sandbox is config.toml's.
    ...(input.resumeThread
      ? ['resume', input.resumeThread]
      : ['--sandbox', sandbox, '--cd', input.workspaceDir]),
    // The prompt comes on stdin.
    '-',
  ];
  const config = toToml({
    model: input.model,
    model_provider: PROVIDER,
    approval_policy: 'never',
    sandbox_mode: sandbox,
    // Writable: the worktree and the attempt's own TMPDIR; not /tmp, not the network.
    sandbox_workspace_write: { network_access: false, exclude_slash_tmp: true },
    developer_instructions: input.appendSystemPrompt,
    check_for_update_on_startup: false,
    shell_environment_policy: { inherit: 'all', ignore_default_excludes: false, exclude: [CREDENTIAL_ENV] },
    model_providers: {
      [PROVIDER]: {
        name: 'Supervisor',
        base_url: input.baseUrl,
        env_key: CREDENTIAL_ENV,
        wire_api: 'responses',
        request_max_retries: input.apiRetries,
        stream_max_retries: input.apiRetries,
        stream_idle_timeout_ms: input.streamIdleMs,
      },
    },
    mcp_servers: input.mcpServers ? codexMcpServers(input.mcpServers) : undefined,
  });
  const env: Record<string, string> = {
    PATH: input.path,
    HOME: input.homeDir,
    LANG: 'C.UTF-8',
    TMPDIR: input.tmpDir,
    CODEX_HOME: input.codexHome,
    [CREDENTIAL_ENV]: codexToken(input.credential),
    ...commonAgentEnv(input),
  };
  return { args, env, config };
}

/**
 * The `mcpServers` configuration (Claude's shape) as Codex's `mcp_servers` tables. Their tools are
 * the supervisor's own, so they run without approval: under `approval_policy = "never"` a tool
 * that needs approval is refused.
 */
function codexMcpServers(servers: Record<string, McpServer>): Record<string, object> {
  return Object.fromEntries(
    Object.entries(servers).map(([name, server]) => [
      name,
      {
        ...(server.url
          ? { url: server.url, ...(server.headers ? { http_headers: server.headers } : {}) }
          : { command: server.command, args: server.args ?? [], ...(server.env ? { env: server.env } : {}) }),
        startup_timeout_sec: 30,
        default_tools_approval_mode: 'approve',
      },
    ]),
  );
}
