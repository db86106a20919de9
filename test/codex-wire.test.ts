import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScriptedModelServer, startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';

/**
 * The scripted model server speaks the OpenAI Responses API well enough for the real Codex CLI
 * (pinned @openai/codex) to run on loopback: the groundwork for a Codex driver. Each case runs
 * `codex exec --json` against it and checks what the CLI printed and what it sent.
 */

const CODEX = fileURLToPath(new URL('../node_modules/@openai/codex/bin/codex.js', import.meta.url));

interface CodexRun {
  code: number | null;
  events: Array<Record<string, unknown> & { type: string }>;
}

describe('the scripted model server and the real Codex CLI', () => {
  let model: ScriptedModelServer;
  const scratch: string[] = [];
  let keys = 0;

  beforeAll(async () => {
    model = await startScriptedModelServer();
  });
  afterAll(async () => {
    await model.close();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  /** `codex exec --json` in a fresh directory and CODEX_HOME, on a provider pointed at the server. */
  const run = (key: string, prompt: string, provider = ''): Promise<CodexRun> => {
    const dir = mkdtempSync(join(tmpdir(), 'codex-work-'));
    // Not under the system temp directory: Codex refuses to create its helper links there.
    const home = mkdtempSync(join('/var/tmp', 'codex-home-'));
    scratch.push(dir, home);
    writeFileSync(join(dir, 'app.js'), 'export const answer = 42;\n');
    const child = spawn(
      process.execPath,
      [
        CODEX,
        'exec',
        '--json',
        '--skip-git-repo-check',
        '-m',
        'gpt-scripted',
        '-c',
        'model_provider="scripted"',
        '-c',
        `model_providers.scripted={name="Scripted",base_url="${model.url}/v1",env_key="SCRIPTED_API_KEY",wire_api="responses",request_max_retries=0,stream_max_retries=0${provider}}`,
        '-C',
        dir,
        prompt,
      ],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          CODEX_HOME: home,
          SCRIPTED_API_KEY: key,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    return new Promise((resolve) => {
      child.on('close', (code) => {
        clearTimeout(timer);
        const events = stdout
          .split('\n')
          .filter((line) => line.trim())
          .map((line) => JSON.parse(line) as CodexRun['events'][number]);
        resolve({ code, events });
      });
    });
  };

  const credential = () => `sk-codex-${++keys}`;

  it('runs a shell call and answers: the call’s output goes back in the next request', async () => {
    const key = credential();
    model.script(key, [
      steps.toolUse([{ name: 'exec_command', input: { cmd: 'cat app.js' } }], {
        usage: { input_tokens: 120, output_tokens: 15 },
      }),
      steps.text('The answer is 42.', { usage: { input_tokens: 180, output_tokens: 25 } }),
    ]);
    const { code, events } = await run(key, 'What is the answer?');
    expect(code).toBe(0);
    const thread = events.find((event) => event.type === 'thread.started')!.thread_id;
    const items = events
      .filter((event) => event.type === 'item.completed')
      .map(
        (event) =>
          event.item as { type: string; text?: string; aggregated_output?: string; exit_code?: number },
      );
    expect(items).toContainEqual(
      expect.objectContaining({
        type: 'command_execution',
        aggregated_output: 'export const answer = 42;\n',
        exit_code: 0,
      }),
    );
    expect(items).toContainEqual(
      expect.objectContaining({ type: 'agent_message', text: 'The answer is 42.' }),
    );
    expect(events.at(-1)).toMatchObject({
      type: 'turn.completed',
      usage: { input_tokens: 300, output_tokens: 40 },
    });

    const requests = model.requests((request) => request.credential === key);
    expect(requests.map((request) => request.url)).toEqual(['/v1/responses', '/v1/responses']);
    expect(requests.every((request) => request.sessionId === thread)).toBe(true);
    const second = JSON.stringify(requests[1]!.body!.input);
    expect(second).toContain('"type":"function_call_output"');
    expect(second).toContain('export const answer = 42;');
  });

  it('fails the turn on an exhausted quota at once, without retrying', async () => {
    const key = credential();
    model.script(key, [
      {
        kind: 'error',
        status: 429,
        type: 'insufficient_quota',
        message: 'You exceeded your current quota, please check your plan and billing details.',
      },
    ]);
    const { code, events } = await run(key, 'Anything?');
    expect(code).toBe(1);
    expect(events.at(-1)).toMatchObject({
      type: 'turn.failed',
      error: { message: expect.stringContaining('Quota exceeded') },
    });
    expect(model.requests((request) => request.credential === key)).toHaveLength(1);
  });

  it('names a rejected key, and gives up on a stream that stalls', async () => {
    const rejected = credential();
    model.script(rejected, [
      { kind: 'error', status: 401, type: 'invalid_api_key', message: 'Incorrect API key provided' },
    ]);
    const denied = await run(rejected, 'Anything?');
    expect(denied.code).toBe(1);
    expect(denied.events.at(-1)).toMatchObject({
      type: 'turn.failed',
      error: { message: expect.stringContaining('401 Unauthorized') },
    });

    const stalled = credential();
    model.script(stalled, [{ kind: 'stall_mid_stream' }]);
    const idle = await run(stalled, 'Anything?', ',stream_idle_timeout_ms=2000');
    expect(idle.code).toBe(1);
    expect(idle.events.at(-1)).toMatchObject({
      type: 'turn.failed',
      error: { message: expect.stringContaining('idle timeout waiting for SSE') },
    });
  });
});
