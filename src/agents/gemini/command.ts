import { commonAgentEnv } from '../agent-env.ts';
import type { Credential } from '../claude-code/command.ts';
import { toToml } from '../codex/toml.ts';
import type { McpServer } from '../mcp-servers.ts';

/**
 * The exact `gemini` invocation for one attempt: arguments, an environment built from scratch,
 * and the settings.json it reads from its own GEMINI_CLI_HOME. Pure, so the policy it encodes is
 * unit-tested (shared/protocols/agent-cli.md §4).
 *
 * Permission policy (see docs/agents.md): every type runs in approval mode `default`, where a
 * headless run gets only what its policy allows, and nothing that would ask a person. Read-only
 * types get no policy: read-only tools only. Mutating ones get a policy file (the CLI's policy
 * engine) allowing the edit tools, which the CLI confines to the worktree, and the shell for the
 * command prefixes AGENT_ALLOWED_COMMANDS names; a command with a redirection, or chained to one
 * not named, still asks, so it is refused. `auto_edit` (which lets redirections through) and
 * `yolo` (any command, unsandboxed) are never used. The supervisor's instructions and, for review
 * types, the answer's JSON schema are said in the prompt: the CLI has no flag for either.
 */

export const GEMINI_HOME = 'gemini';
const CREDENTIAL_ENV = 'GEMINI_API_KEY';
/** The provider's API, where the CLI goes when no base URL is configured. */
export const GEMINI_API = 'https://generativelanguage.googleapis.com';

export interface GeminiCommandInput {
  model: string;
  /** A new session's id; resuming, the file of the session to continue (it gets an id of its own). */
  session: { id: string } | { file: string };
  readOnly: boolean;
  /** Shell command prefixes a mutating agent may run, e.g. `git status`, `npm test`. */
  allowedCommands: string[];
  /** Where the policy file goes (mutating types). */
  policyFile: string;
  credential: Credential;
  /** The Gemini API base (the model API tap's route in practice). */
  baseUrl: string;
  mcpServers?: Record<string, McpServer>;
  geminiHome: string;
  tmpDir: string;
  path: string;
  gitIdentity: { name: string; email: string };
  attemptId: string;
  gitSafeDirectory?: string;
}

export function geminiToken(credential: Credential): string {
  if (credential.kind === 'api_key' || credential.kind === 'gateway_token') return credential.value;
  throw new Error(`gemini agents take an api_key or gateway_token credential, not ${credential.kind}`);
}

export function geminiCommand(input: GeminiCommandInput): {
  args: string[];
  env: Record<string, string>;
  settings: object;
  /** The policy file's content (mutating types). */
  policy?: string;
} {
  const args = [
    '--output-format',
    'stream-json',
    '--model',
    input.model,
    '--approval-mode',
    'default',
    ...(input.readOnly ? [] : ['--policy', input.policyFile]),
    ...('file' in input.session
      ? ['--session-file', input.session.file]
      : ['--session-id', input.session.id]),
    '--skip-trust',
    // Headless; the prompt comes on stdin.
    '--prompt',
    '',
  ];
  const settings = {
    security: { auth: { selectedType: 'gemini-api-key' } },
    privacy: { usageStatisticsEnabled: false },
    ...(input.mcpServers ? { mcpServers: geminiMcpServers(input.mcpServers) } : {}),
  };
  const env: Record<string, string> = {
    PATH: input.path,
    HOME: input.geminiHome,
    GEMINI_CLI_HOME: input.geminiHome,
    LANG: 'C.UTF-8',
    // Its error reports go to the temporary directory: the attempt's own.
    TMPDIR: input.tmpDir,
    [CREDENTIAL_ENV]: geminiToken(input.credential),
    GOOGLE_GEMINI_BASE_URL: input.baseUrl,
    ...commonAgentEnv(input),
  };
  return {
    args,
    env,
    settings,
    ...(input.readOnly ? {} : { policy: mutatingPolicy(input.allowedCommands) }),
  };
}

/** The policy of a mutating task: the edit tools, and the shell for the allowed command prefixes. */
function mutatingPolicy(allowedCommands: string[]): string {
  return toToml({
    rule: [
      { toolName: ['write_file', 'replace'], decision: 'allow', priority: 500 },
      ...(allowedCommands.length
        ? [
            {
              toolName: 'run_shell_command',
              commandPrefix: allowedCommands,
              decision: 'allow',
              priority: 500,
            },
          ]
        : []),
    ],
  });
}

/** The task as the Gemini CLI gets it: the supervisor's instructions, the task, and the answer's form. */
export function geminiPrompt(prompt: {
  text: string;
  appendSystemPrompt: string;
  jsonSchema?: object;
}): string {
  return [
    prompt.appendSystemPrompt,
    '',
    prompt.text,
    ...(prompt.jsonSchema
      ? [
          '',
          'End with your answer as one JSON object, and nothing else in that last message, that follows this JSON schema:',
          JSON.stringify(prompt.jsonSchema),
        ]
      : []),
  ].join('\n');
}

/** The supervisor's servers are trusted: their tools run without asking (nobody could answer). */
function geminiMcpServers(servers: Record<string, McpServer>): Record<string, object> {
  return Object.fromEntries(
    Object.entries(servers).map(([name, server]) => [
      name,
      {
        ...(server.url
          ? { httpUrl: server.url, ...(server.headers ? { headers: server.headers } : {}) }
          : { command: server.command, args: server.args ?? [], ...(server.env ? { env: server.env } : {}) }),
        trust: true,
      },
    ]),
  );
}
