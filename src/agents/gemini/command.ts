import { commonAgentEnv } from '../agent-env.ts';
import type { Credential } from '../claude-code/command.ts';
import type { McpServer } from '../mcp-servers.ts';

/**
 * The exact `gemini` invocation for one attempt: arguments, an environment built from scratch,
 * and the settings.json it reads from its own GEMINI_CLI_HOME. Pure, so the policy it encodes is
 * unit-tested (shared/protocols/agent-cli.md §4).
 *
 * Permission policy (see docs/agents.md): read-only task types run in approval mode `default`,
 * which headless offers read-only tools only; mutating ones in `auto_edit`, which adds the edit
 * tools (write_file, replace), confined by the CLI to the worktree, and no shell. `yolo`, which
 * adds the shell with no sandbox, is never used. The supervisor's instructions and, for review
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
} {
  const args = [
    '--output-format',
    'stream-json',
    '--model',
    input.model,
    '--approval-mode',
    input.readOnly ? 'default' : 'auto_edit',
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
  return { args, env, settings };
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
