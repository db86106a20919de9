import { describe, expect, it } from 'vitest';
import { type ClaudeCommandInput, claudeCommand } from './command.ts';

const input: ClaudeCommandInput = {
  model: 'claude-sonnet-4-5',
  sessionId: '11111111-2222-3333-4444-555555555555',
  resume: false,
  maxTurns: 30,
  maxBudgetUsd: 2.5,
  readOnly: true,
  allowedCommands: ['git diff', 'npm test'],
  appendSystemPrompt: 'be careful',
  credential: { kind: 'api_key', value: 'sk-secret' },
  baseUrl: 'http://127.0.0.1:9999',
  configDir: '/s/config',
  tmpDir: '/s/tmp',
  homeDir: '/s/home',
  path: '/usr/bin:/bin',
  apiRetries: 2,
  apiTimeoutMs: 120_000,
  gitIdentity: { name: 'Agent', email: 'a@x' },
  attemptId: 'aaaaaaaa-0000-4000-8000-000000000001',
};

const valueAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('claudeCommand', () => {
  it('runs headless in stream-json with explicit model, session and limits, ignoring user settings', () => {
    const { args } = claudeCommand(input);
    expect(args.slice(0, 7)).toEqual([
      '-p',
      '--input-format',
      'stream-json',
      '--output-format',
      'stream-json',
      '--verbose',
      '--include-partial-messages',
    ]);
    expect(valueAfter(args, '--model')).toBe('claude-sonnet-4-5');
    expect(valueAfter(args, '--session-id')).toBe(input.sessionId);
    expect(valueAfter(args, '--max-turns')).toBe('30');
    expect(valueAfter(args, '--max-budget-usd')).toBe('2.5');
    expect(valueAfter(args, '--setting-sources')).toBe('');
    expect(args).toContain('--strict-mcp-config');
    expect(valueAfter(args, '--append-system-prompt')).toBe('be careful');
  });

  it('gives read-only tasks read tools only, and never asks', () => {
    const { args } = claudeCommand({ ...input, permissionPrompt: true, gatedWrites: ['db/**'] });
    expect(valueAfter(args, '--permission-mode')).toBe('dontAsk');
    expect(valueAfter(args, '--tools')).toBe('Read,Glob,Grep');
    expect(args).not.toContain('--allowedTools');
    expect(args).not.toContain('--permission-prompt-tool');
    expect(args).not.toContain('--settings');
  });

  it('lets a mutating task ask the supervisor, and makes edits under gated paths ask first', () => {
    const plain = claudeCommand({ ...input, readOnly: false }).args;
    expect(plain).not.toContain('--permission-prompt-tool');
    const { args } = claudeCommand({
      ...input,
      readOnly: false,
      permissionPrompt: true,
      gatedWrites: ['db/**'],
    });
    expect(valueAfter(args, '--permission-prompt-tool')).toBe('stdio');
    expect(JSON.parse(valueAfter(args, '--settings')!)).toEqual({
      permissions: { ask: ['Edit(db/**)', 'Write(db/**)'] },
    });
    expect(valueAfter(args, '--permission-mode')).toBe('acceptEdits');
  });

  it('gives the supervisor memory server by file and allows exactly its tools', () => {
    const mcp = { configFile: '/s/mcp.json', tools: ['memory_search', 'memory_save'] };
    const readOnly = claudeCommand({ ...input, mcp }).args;
    expect(valueAfter(readOnly, '--mcp-config')).toBe('/s/mcp.json');
    expect(
      readOnly.slice(readOnly.indexOf('--allowedTools') + 1, readOnly.indexOf('--allowedTools') + 3),
    ).toEqual(['mcp__supervisor__memory_search', 'mcp__supervisor__memory_save']);
    const mutating = claudeCommand({ ...input, readOnly: false, mcp }).args;
    expect(
      mutating.slice(mutating.indexOf('--allowedTools') + 1, mutating.indexOf('--allowedTools') + 5),
    ).toEqual([
      'Bash(git diff:*)',
      'Bash(npm test:*)',
      'mcp__supervisor__memory_search',
      'mcp__supervisor__memory_save',
    ]);
    expect(claudeCommand(input).args).not.toContain('--mcp-config');
  });

  it('lets mutating tasks edit in their directory and run allowlisted commands only', () => {
    const { args } = claudeCommand({ ...input, readOnly: false });
    expect(valueAfter(args, '--permission-mode')).toBe('acceptEdits');
    expect(valueAfter(args, '--tools')).toBe('Read,Glob,Grep,Edit,Write,NotebookEdit,Bash');
    expect(args.slice(args.indexOf('--allowedTools') + 1, args.indexOf('--allowedTools') + 3)).toEqual([
      'Bash(git diff:*)',
      'Bash(npm test:*)',
    ]);
  });

  it('never bypasses permissions, so root needs no sandbox acknowledgement', () => {
    for (const readOnly of [true, false]) {
      const { args, env } = claudeCommand({ ...input, readOnly });
      expect(args.join(' ')).not.toMatch(/bypassPermissions|dangerously/);
      expect(env.IS_SANDBOX).toBeUndefined();
    }
  });

  it('resumes a session by id', () => {
    const { args } = claudeCommand({ ...input, resume: true });
    expect(valueAfter(args, '--resume')).toBe(input.sessionId);
    expect(args).not.toContain('--session-id');
  });

  it('builds the environment from scratch with exactly one credential', () => {
    const { env } = claudeCommand(input);
    expect(env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/s/home',
      LANG: 'C.UTF-8',
      TMPDIR: '/s/tmp',
      CLAUDE_CONFIG_DIR: '/s/config',
      CLAUDE_CODE_TMPDIR: '/s/tmp',
      ANTHROPIC_API_KEY: 'sk-secret',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      CLAUDE_CODE_MAX_RETRIES: '2',
      API_TIMEOUT_MS: '120000',
      GIT_AUTHOR_NAME: 'Agent',
      GIT_AUTHOR_EMAIL: 'a@x',
      GIT_COMMITTER_NAME: 'Agent',
      GIT_COMMITTER_EMAIL: 'a@x',
      GIT_TERMINAL_PROMPT: '0',
      SUPERVISOR_ATTEMPT_ID: 'aaaaaaaa-0000-4000-8000-000000000001',
    });
    const oauth = claudeCommand({
      ...input,
      credential: { kind: 'subscription', value: 'tok' },
      baseUrl: undefined,
    }).env;
    expect(oauth.CLAUDE_CODE_OAUTH_TOKEN).toBe('tok');
    expect(oauth.ANTHROPIC_API_KEY).toBeUndefined();
    expect(oauth.ANTHROPIC_BASE_URL).toBeUndefined();
    const gateway = claudeCommand({ ...input, credential: { kind: 'gateway_token', value: 'gw' } }).env;
    expect(gateway.ANTHROPIC_AUTH_TOKEN).toBe('gw');
    const cloud = claudeCommand({
      ...input,
      credential: {
        kind: 'cloud',
        provider: 'bedrock',
        env: { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIA-long-enough' },
      },
    }).env;
    expect(cloud).toMatchObject({
      CLAUDE_CODE_USE_BEDROCK: '1',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIA-long-enough',
    });
    expect(cloud.ANTHROPIC_API_KEY).toBeUndefined();
  });
});
