import { describe, expect, it } from 'vitest';
import { ATTEMPT_MARKER } from '../attempt-processes.ts';
import { type CodexCommandInput, CREDENTIAL_ENV, codexCommand } from './command.ts';
import { durationMs } from './response-headers.ts';
import { toToml } from './toml.ts';

const input: CodexCommandInput = {
  model: 'gpt-5.5-codex',
  readOnly: true,
  workspaceDir: '/work/ws',
  appendSystemPrompt: 'Treat "data" as data.',
  credential: { kind: 'api_key', value: 'sk-openai-secret' },
  baseUrl: 'http://127.0.0.1:4000/r/abc',
  codexHome: '/state/codex',
  homeDir: '/state/home',
  tmpDir: '/state/tmp',
  path: '/usr/bin:/bin',
  apiRetries: 1,
  streamIdleMs: 120_000,
  gitIdentity: { name: 'Agent', email: 'agent@x' },
  attemptId: 'attempt-1',
};

describe('the codex command', () => {
  it('runs a read-only type in the read-only sandbox, never asking, the prompt on stdin', () => {
    const { args, env, config } = codexCommand(input);
    expect(args).toEqual([
      'exec',
      '--json',
      '--skip-git-repo-check',
      '--ignore-rules',
      '--model',
      'gpt-5.5-codex',
      '--sandbox',
      'read-only',
      '--cd',
      '/work/ws',
      '-',
    ]);
    expect(config).toContain('sandbox_mode = "read-only"\n');
    expect(config).toContain('approval_policy = "never"\n');
    expect(config).toContain('developer_instructions = "Treat \\"data\\" as data."\n');
    expect(config).toContain(
      'model_providers = { supervisor = { name = "Supervisor", base_url = "http://127.0.0.1:4000/r/abc", ' +
        `env_key = "${CREDENTIAL_ENV}", wire_api = "responses", request_max_retries = 1, stream_max_retries = 1, ` +
        'stream_idle_timeout_ms = 120000 } }\n',
    );
    // The credential is in one variable, kept from the commands the agent runs; never an argument.
    expect(env[CREDENTIAL_ENV]).toBe('sk-openai-secret');
    expect(config).toContain(`exclude = ["${CREDENTIAL_ENV}"]`);
    expect(JSON.stringify(args)).not.toContain('sk-openai');
    expect(env).toMatchObject({ CODEX_HOME: '/state/codex', HOME: '/state/home', TMPDIR: '/state/tmp' });
    expect(env[ATTEMPT_MARKER]).toBe('attempt-1');
    expect(Object.keys(env)).not.toContain('OPENAI_API_KEY');
  });

  it('runs a mutating type in workspace-write: the worktree and its TMPDIR, no /tmp, no network', () => {
    const { args, config } = codexCommand({ ...input, readOnly: false });
    expect(args).toContain('workspace-write');
    expect(config).toContain('sandbox_mode = "workspace-write"\n');
    expect(config).toContain(
      'sandbox_workspace_write = { network_access = false, exclude_slash_tmp = true }\n',
    );
  });

  it('resumes a thread, asks for a schema, and gives the memory tools in config, not arguments', () => {
    const { args, config } = codexCommand({
      ...input,
      resumeThread: 'thread-1',
      outputSchemaFile: '/state/schema.json',
      mcpServers: {
        supervisor: {
          type: 'stdio',
          command: '/node',
          args: ['mcp'],
          env: { SUPERVISOR_TOKEN: 'tok-secret' },
        },
      },
    });
    expect(args.slice(-3)).toEqual(['resume', 'thread-1', '-']);
    expect(args).toContain('/state/schema.json');
    expect(args).not.toContain('--sandbox'); // `exec resume` takes it from config.toml
    expect(JSON.stringify(args)).not.toContain('tok-secret');
    expect(config).toContain(
      'mcp_servers = { supervisor = { command = "/node", args = ["mcp"], env = { SUPERVISOR_TOKEN = "tok-secret" }, ' +
        'startup_timeout_sec = 30, default_tools_approval_mode = "approve" } }',
    );
  });

  it('takes an API key or a gateway token, nothing else', () => {
    expect(
      codexCommand({ ...input, credential: { kind: 'gateway_token', value: 'gw' } }).env[CREDENTIAL_ENV],
    ).toBe('gw');
    expect(() => codexCommand({ ...input, credential: { kind: 'subscription', value: 'x' } })).toThrowError(
      'codex agents take an api_key or gateway_token credential, not subscription',
    );
  });
});

describe('TOML and durations', () => {
  it('writes strings TOML can read back, including quotes, newlines and DEL', () => {
    expect(toToml({ a: 'x"y\nz\u007f', 'b.c': [1, true], d: {}, e: undefined })).toBe(
      'a = "x\\"y\\nz\\u007F"\n"b.c" = [1, true]\nd = {}\n',
    );
  });

  it('reads OpenAI reset durations', () => {
    expect(durationMs('6m0s')).toBe(360_000);
    expect(durationMs('1h2m3.5s')).toBe(3_723_500);
    expect(durationMs('250ms')).toBe(250);
    expect(durationMs('soon')).toBeUndefined();
  });
});
