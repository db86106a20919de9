import { describe, expect, it } from 'vitest';
import { ATTEMPT_MARKER } from '../attempt-processes.ts';
import { type GeminiCommandInput, geminiCommand, geminiPrompt } from './command.ts';

const input: GeminiCommandInput = {
  model: 'gemini-3.5-pro',
  session: { id: '5f0c3f36-1111-4c36-9a37-2f1f2b0f0f0f' },
  readOnly: true,
  allowedCommands: ['git status', 'npm test'],
  policyFile: '/state/policy.toml',
  credential: { kind: 'api_key', value: 'gm-secret-key-123' },
  baseUrl: 'http://127.0.0.1:4000/r/abc',
  geminiHome: '/state/gemini',
  tmpDir: '/state/tmp',
  path: '/usr/bin:/bin',
  gitIdentity: { name: 'Agent', email: 'agent@x' },
  attemptId: 'attempt-1',
};

describe('the gemini command', () => {
  it('runs a read-only type headless in approval mode default, in its own home, the key in the environment', () => {
    const { args, env, settings } = geminiCommand(input);
    expect(args).toEqual([
      '--output-format',
      'stream-json',
      '--model',
      'gemini-3.5-pro',
      '--approval-mode',
      'default',
      '--session-id',
      '5f0c3f36-1111-4c36-9a37-2f1f2b0f0f0f',
      '--skip-trust',
      '--prompt',
      '',
    ]);
    expect(JSON.stringify(args)).not.toContain('gm-secret');
    expect(env).toMatchObject({
      GEMINI_API_KEY: 'gm-secret-key-123',
      GOOGLE_GEMINI_BASE_URL: 'http://127.0.0.1:4000/r/abc',
      GEMINI_CLI_HOME: '/state/gemini',
      HOME: '/state/gemini',
      TMPDIR: '/state/tmp',
      [ATTEMPT_MARKER]: 'attempt-1',
    });
    expect(settings).toEqual({
      security: { auth: { selectedType: 'gemini-api-key' } },
      privacy: { usageStatisticsEnabled: false },
    });
  });

  it('continues a session from its file', () => {
    const { args } = geminiCommand({ ...input, session: { file: '/state/resume-chat.jsonl' } });
    expect(args).toContain('/state/resume-chat.jsonl');
    expect(args[args.indexOf('/state/resume-chat.jsonl') - 1]).toBe('--session-file');
    expect(args).not.toContain('--session-id');
  });

  it('gives a mutating type the edit tools and the allowed commands by policy, never auto_edit or yolo', () => {
    const { args, policy } = geminiCommand({ ...input, readOnly: false });
    expect(args.slice(4, 8)).toEqual(['--approval-mode', 'default', '--policy', '/state/policy.toml']);
    expect(args).not.toContain('auto_edit');
    expect(args).not.toContain('yolo');
    expect(policy).toBe(
      'rule = [{ toolName = ["write_file", "replace"], decision = "allow", priority = 500 }, ' +
        '{ toolName = "run_shell_command", commandPrefix = ["git status", "npm test"], decision = "allow", priority = 500 }]\n',
    );
    expect(geminiCommand(input).policy).toBeUndefined();
    expect(geminiCommand({ ...input, readOnly: false, allowedCommands: [] }).policy).not.toContain(
      'run_shell_command',
    );
  });

  it('trusts the supervisor’s MCP servers, over HTTP or stdio', () => {
    const { settings } = geminiCommand({
      ...input,
      mcpServers: {
        http: {
          type: 'http',
          url: 'http://127.0.0.1:8000/api/v1/mcp',
          headers: { Authorization: 'Bearer t' },
        },
        stdio: { type: 'stdio', command: '/node', args: ['mcp'], env: { SUPERVISOR_TOKEN: 't' } },
      },
    });
    expect(settings).toMatchObject({
      mcpServers: {
        http: {
          httpUrl: 'http://127.0.0.1:8000/api/v1/mcp',
          headers: { Authorization: 'Bearer t' },
          trust: true,
        },
        stdio: { command: '/node', args: ['mcp'], env: { SUPERVISOR_TOKEN: 't' }, trust: true },
      },
    });
  });

  it('says the instructions and the answer’s schema in the prompt, which has no flag for them', () => {
    const prompt = geminiPrompt({
      text: 'Review this.',
      appendSystemPrompt: 'Be headless.',
      jsonSchema: { type: 'object' },
    });
    expect(prompt).toBe(
      'Be headless.\n\nReview this.\n\nEnd with your answer as one JSON object, and nothing else in that last message, that follows this JSON schema:\n{"type":"object"}',
    );
    expect(geminiPrompt({ text: 'Fix it.', appendSystemPrompt: 'Be headless.' })).toBe(
      'Be headless.\n\nFix it.',
    );
  });
});
