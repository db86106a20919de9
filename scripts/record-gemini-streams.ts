/**
 * Records what the real Gemini CLI prints (`--output-format stream-json`) for each failure mode of
 * the protocol notes (shared/protocols/agent-cli.md §4), by running it against the scripted model
 * server. The recordings in test/fixtures/gemini-streams/ drive the Gemini classifier's table
 * tests, with the status of each model API response (what the supervisor's tap sees). A failure
 * the CLI retries for minutes is stopped at its second response, as the supervisor stops it.
 * Re-run after upgrading the pinned CLI:
 *
 *   node scripts/record-gemini-streams.ts [scenario …]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GEMINI_ENTRY } from '../src/agents/gemini/binary.ts';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';

const error = (
  status: number,
  type: string,
  message: string,
  extra: Partial<Extract<Step, { kind: 'error' }>> = {},
): Step => ({
  kind: 'error',
  status,
  type,
  message,
  ...extra,
});

const scenarios: Array<{ name: string; steps: Step[]; stopAfterRequests?: number }> = [
  {
    name: 'success',
    steps: [
      steps.toolUse([{ name: 'read_file', input: { file_path: 'app.js' } }]),
      steps.text('The answer is 42.'),
    ],
  },
  {
    name: 'quota-exhausted',
    steps: [
      error(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for metric: generate_content_requests_per_day', {
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel' }],
          },
        ],
      }),
    ],
  },
  {
    name: 'rate-limit-429',
    steps: [
      error(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).', { repeat: 20 }),
    ],
    stopAfterRequests: 2,
  },
  {
    name: 'auth-400',
    steps: [
      error(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', {
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
      }),
    ],
  },
  {
    name: 'unavailable-503',
    steps: [error(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.', { repeat: 20 })],
    stopAfterRequests: 2,
  },
  {
    name: 'bad-request-400',
    steps: [error(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.')],
  },
];

const only = new Set(process.argv.slice(2));
const out = new URL('../test/fixtures/gemini-streams/', import.meta.url);
mkdirSync(out, { recursive: true });
const model = await startScriptedModelServer();
try {
  for (const scenario of scenarios) {
    if (only.size && !only.has(scenario.name)) continue;
    const key = `gm-record-${scenario.name}-${Date.now()}`;
    model.script(key, scenario.steps);
    const dir = mkdtempSync(join(tmpdir(), 'gemini-record-'));
    const home = mkdtempSync(join(tmpdir(), 'gemini-record-home-'));
    mkdirSync(join(home, '.gemini'));
    writeFileSync(
      join(home, '.gemini', 'settings.json'),
      JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } } }),
    );
    writeFileSync(join(dir, 'app.js'), 'export const answer = 42;\n');
    const child = spawn(
      process.execPath,
      [
        GEMINI_ENTRY,
        '--output-format',
        'stream-json',
        '--model',
        'gemini-scripted',
        '--skip-trust',
        '--prompt',
        '',
      ],
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          GEMINI_CLI_HOME: home,
          TMPDIR: home,
          GEMINI_API_KEY: key,
          GOOGLE_GEMINI_BASE_URL: model.url,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      },
    );
    child.stdin.end('What is the answer?');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const requests = () =>
      model.requests((request) => request.credential === key && request.body !== undefined);
    const watch = setInterval(() => {
      if (scenario.stopAfterRequests && requests().length >= scenario.stopAfterRequests)
        process.kill(-child.pid!, 'SIGTERM');
    }, 100);
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    clearInterval(watch);
    const responses = requests().map((_, i) => {
      const step = scenario.steps[Math.min(i, scenario.steps.length - 1)];
      return step?.kind === 'error'
        ? { status: step.status, headers: step.headers ?? {} }
        : { status: 200, headers: {} };
    });
    const events = stdout
      .split('\n')
      .filter((line) => line.trim().startsWith('{'))
      .map((line) => JSON.parse(line));
    const recording = {
      scenario: scenario.name,
      exit,
      stderr: stderr.replaceAll(home, '$HOME').slice(-2000),
      responses,
      events,
    };
    writeFileSync(new URL(`${scenario.name}.json`, out), `${JSON.stringify(recording, null, 2)}\n`);
    console.log(
      `${scenario.name}: exit ${exit.code ?? exit.signal}, ${events.length} events, ${responses.length} responses`,
    );
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
} finally {
  await model.close();
}
