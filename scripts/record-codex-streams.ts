/**
 * Records what the real `codex exec --json` prints for each failure mode of the protocol notes
 * (shared/protocols/agent-cli.md §3), by running it against the scripted model server with the
 * CLI's own retries off, as the supervisor runs it. The recordings in test/fixtures/codex-streams/
 * drive the Codex classifier's table tests, with the status each model API response had (what the
 * supervisor's tap sees). Re-run after upgrading the pinned CLI:
 *
 *   node scripts/record-codex-streams.ts [scenario …]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODEX_ENTRY } from '../src/agents/codex/binary.ts';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';

const error = (status: number, type: string, message: string, headers?: Record<string, string>): Step => ({
  kind: 'error',
  status,
  type,
  message,
  ...(headers ? { headers } : {}),
});

const scenarios: Array<{ name: string; steps: Step[] }> = [
  {
    name: 'success',
    steps: [
      steps.toolUse([{ name: 'exec_command', input: { cmd: 'cat app.js' } }]),
      steps.text('The answer is 42.'),
    ],
  },
  {
    name: 'rate-limit-429',
    steps: [error(429, 'rate_limit_exceeded', 'Rate limit reached', { 'retry-after': '20' })],
  },
  { name: 'quota-exhausted', steps: [error(429, 'insufficient_quota', 'You exceeded your current quota')] },
  { name: 'auth-401', steps: [error(401, 'invalid_api_key', 'Incorrect API key provided')] },
  { name: 'server-500', steps: [error(500, 'server_error', 'The server had an error')] },
  { name: 'unavailable-503', steps: [error(503, 'server_error', 'overloaded')] },
  { name: 'bad-request-400', steps: [error(400, 'invalid_request_error', 'model not found')] },
  { name: 'stall', steps: [{ kind: 'stall_mid_stream' }] },
];

const only = new Set(process.argv.slice(2));
const out = new URL('../test/fixtures/codex-streams/', import.meta.url);
mkdirSync(out, { recursive: true });
const model = await startScriptedModelServer();
try {
  for (const scenario of scenarios) {
    if (only.size && !only.has(scenario.name)) continue;
    const key = `sk-record-${scenario.name}-${Date.now()}`;
    model.script(key, scenario.steps);
    const dir = mkdtempSync(join(tmpdir(), 'codex-record-'));
    // Not under the system temp directory: Codex refuses to create its helper links there.
    const home = mkdtempSync('/var/tmp/codex-record-home-');
    writeFileSync(join(dir, 'app.js'), 'export const answer = 42;\n');
    const provider =
      `model_providers.scripted={name="Scripted",base_url="${model.url}/v1",env_key="SCRIPTED_API_KEY",` +
      'wire_api="responses",request_max_retries=0,stream_max_retries=0,stream_idle_timeout_ms=3000}';
    const child = spawn(
      process.execPath,
      [
        CODEX_ENTRY,
        'exec',
        '--json',
        '--skip-git-repo-check',
        '-m',
        'gpt-scripted',
        '-c',
        'model_provider="scripted"',
        '-c',
        provider,
        '-C',
        dir,
        'What is the answer?',
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
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    const statuses = model
      .requests((request) => request.credential === key && request.body !== undefined)
      .map((_, i) => {
        const step = scenario.steps[i];
        return step?.kind === 'error'
          ? { status: step.status, headers: step.headers ?? {} }
          : { status: 200, headers: {} };
      });
    const events = stdout
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line.replaceAll(model.url, 'http://127.0.0.1:PORT')));
    const recording = {
      scenario: scenario.name,
      exit,
      stderr: stderr.slice(-2000),
      responses: statuses,
      events,
    };
    writeFileSync(new URL(`${scenario.name}.json`, out), `${JSON.stringify(recording, null, 2)}\n`);
    console.log(`${scenario.name}: exit ${exit.code}, ${events.length} events, ${statuses.length} responses`);
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
} finally {
  await model.close();
}
