/**
 * Records what the real `claude` CLI prints for each failure mode of the protocol notes, by running
 * it against the scripted model server. The recordings in test/fixtures/claude-streams/ drive the
 * outcome classifier's table tests. Re-run after upgrading the pinned CLI:
 *
 *   node scripts/record-claude-streams.ts [scenario …]
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLAUDE_BIN } from '../src/agents/claude-code/binary.ts';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';

interface Scenario {
  name: string;
  steps: Step[];
  oauth?: boolean;
  args?: string[];
  env?: Record<string, string>;
  /** Kill the CLI after this long (for faults it never ends by itself). */
  killAfterMs?: number;
}

const resetsAt = Math.floor(Date.now() / 1000) + 3600;
/** How a read-only task runs: read tools only, and an answer in the form of a JSON schema. */
const READ_ONLY_WITH_SCHEMA = [
  '--permission-mode',
  'dontAsk',
  '--tools',
  'Read,Glob,Grep',
  '--json-schema',
  JSON.stringify({ type: 'object', required: ['summary'], properties: { summary: { type: 'string' } } }),
];
const scenarios: Scenario[] = [
  {
    name: 'success-text',
    steps: [steps.text('The change looks correct.', { usage: { input_tokens: 1200, output_tokens: 80 } })],
  },
  {
    name: 'success-tool-use',
    steps: [
      steps.toolUse([{ name: 'Write', input: { file_path: 'CWD/notes.txt', content: 'hello\n' } }]),
      steps.text('Wrote notes.txt.'),
    ],
  },
  {
    name: 'permission-denied',
    args: ['--permission-mode', 'acceptEdits'],
    steps: [
      steps.toolUse([{ name: 'Bash', input: { command: 'curl https://example.com' } }]),
      steps.text('I could not run curl.'),
    ],
  },
  { name: 'rate-limited-short', steps: [steps.rateLimit(1, 3)], env: { CLAUDE_CODE_MAX_RETRIES: '1' } },
  { name: 'rate-limited-long', steps: [steps.rateLimit(120)] },
  { name: 'quota-rejected-oauth', oauth: true, steps: [steps.quotaExhausted(resetsAt)] },
  {
    name: 'quota-warning-oauth',
    oauth: true,
    steps: [steps.text('Done.', { headers: steps.quotaWarningHeaders(0.92, 0.9, resetsAt) })],
  },
  { name: 'auth-401', steps: [steps.authError(5)], env: { CLAUDE_CODE_MAX_RETRIES: '1' } },
  { name: 'forbidden-403', steps: [steps.forbidden()] },
  { name: 'billing', steps: [steps.billing()] },
  { name: 'overloaded-529', steps: [steps.overloaded(5)], env: { CLAUDE_CODE_MAX_RETRIES: '1' } },
  { name: 'server-error-500', steps: [steps.serverError(5)], env: { CLAUDE_CODE_MAX_RETRIES: '1' } },
  {
    name: 'max-turns',
    args: ['--max-turns', '1'],
    steps: [
      steps.toolUse([{ name: 'Read', input: { file_path: 'CWD/missing.txt' } }]),
      steps.text('unreached'),
    ],
  },
  {
    name: 'max-budget',
    args: ['--max-budget-usd', '0.0001'],
    steps: [
      steps.toolUse([{ name: 'Read', input: { file_path: 'CWD/missing.txt' } }], {
        usage: { input_tokens: 50_000, output_tokens: 10 },
      }),
      steps.text('unreached'),
    ],
  },
  {
    name: 'hang-before-headers',
    steps: [{ kind: 'hang', repeat: 4 }],
    env: { API_TIMEOUT_MS: '2000', CLAUDE_CODE_MAX_RETRIES: '1' },
  },
  { name: 'stall-mid-stream', steps: [{ kind: 'stall_mid_stream', repeat: 3 }], killAfterMs: 5000 },
  { name: 'truncated', steps: [{ kind: 'truncated', repeat: 4 }], env: { CLAUDE_CODE_MAX_RETRIES: '1' } },
  { name: 'bad-json', steps: [{ kind: 'bad_json', repeat: 4 }], env: { CLAUDE_CODE_MAX_RETRIES: '1' } },
  { name: 'not-logged-in', steps: [] },
  {
    name: 'model-not-found',
    steps: [
      { kind: 'error', status: 404, type: 'not_found_error', message: 'model: claude-sonnet-4-5', repeat: 3 },
    ],
  },
  {
    name: 'prompt-too-long',
    steps: [
      {
        kind: 'error',
        status: 400,
        type: 'invalid_request_error',
        message: 'prompt is too long: 250000 tokens > 200000 maximum',
      },
    ],
  },
  {
    name: 'request-too-large',
    steps: [
      { kind: 'error', status: 413, type: 'request_too_large', message: 'Request exceeds the maximum size' },
    ],
  },
  { name: 'refusal', steps: [steps.text('', { stopReason: 'refusal', repeat: 2 })] },
  { name: 'sse-error', steps: [{ kind: 'sse_error', repeat: 6 }], env: { CLAUDE_CODE_MAX_RETRIES: '1' } },
  {
    name: 'connection-refused',
    steps: [],
    env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', CLAUDE_CODE_MAX_RETRIES: '1' },
  },
  { name: 'root-bypass', steps: [], args: ['--permission-mode', 'bypassPermissions'] },
  {
    // The model answers in plain text instead of calling StructuredOutput; the CLI insists once.
    name: 'plain-text-no-structured-output',
    args: READ_ONLY_WITH_SCHEMA,
    steps: [steps.text('Looks fine to me.'), steps.text('It really is fine.')],
  },
  {
    // Headless runs disable AskUserQuestion: the CLI answers "No such tool available".
    name: 'ask-user-question',
    args: READ_ONLY_WITH_SCHEMA,
    steps: [
      steps.toolUse([
        {
          name: 'AskUserQuestion',
          input: {
            questions: [
              {
                question: 'Which branch should I review?',
                header: 'Branch',
                options: [
                  { label: 'main', description: 'the default branch' },
                  { label: 'release', description: 'the release branch' },
                ],
                multiSelect: false,
              },
            ],
          },
        },
      ]),
      steps.text('I will assume main.'),
      steps.text('Still no answer.'),
    ],
  },
];

const out = join(import.meta.dirname, '../test/fixtures/claude-streams');
mkdirSync(out, { recursive: true });
const server = await startScriptedModelServer();

// Optional arguments name the scenarios to record again; none records them all.
const only = new Set(process.argv.slice(2));
for (const scenario of scenarios.filter((s) => only.size === 0 || only.has(s.name))) {
  const cwd = mkdtempSync(join(tmpdir(), 'record-cwd-'));
  const config = mkdtempSync(join(tmpdir(), 'record-cfg-'));
  const credential = `sk-record-${randomUUID()}`;
  server.script(
    credential,
    scenario.steps.map((step) => JSON.parse(JSON.stringify(step).replaceAll('CWD', cwd)) as Step),
  );
  const auth: Record<string, string> =
    scenario.name === 'not-logged-in'
      ? {}
      : scenario.oauth
        ? { CLAUDE_CODE_OAUTH_TOKEN: credential }
        : { ANTHROPIC_API_KEY: credential };
  const args = [
    '-p',
    'Review the change.',
    '--output-format',
    'stream-json',
    '--verbose',
    '--include-partial-messages',
    '--model',
    'claude-sonnet-4-5',
    '--session-id',
    randomUUID(),
    '--setting-sources',
    '',
    '--strict-mcp-config',
    ...(scenario.args ?? ['--permission-mode', 'acceptEdits', '--max-turns', '5']),
  ];
  const started = Date.now();
  const child = spawn(CLAUDE_BIN, args, {
    cwd,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: config,
      CLAUDE_CONFIG_DIR: config,
      CLAUDE_CODE_TMPDIR: config,
      ANTHROPIC_BASE_URL: server.url,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_MAX_RETRIES: '2',
      ...auth,
      ...scenario.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), scenario.killAfterMs ?? 120_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.on('close', (c, s) => resolve([c, s])),
  );
  clearTimeout(killer);
  const lines = stdout.split('\n').filter((line) => line.trim());
  writeFileSync(
    join(out, `${scenario.name}.json`),
    `${JSON.stringify(
      {
        scenario: scenario.name,
        recordedWith: 'claude-code 2.1.330 via scripts/record-claude-streams.ts',
        exit: { code, signal },
        killedBySupervisor: scenario.killAfterMs !== undefined,
        stderr: stderr.slice(0, 2000).replaceAll(credential, '<credential>'),
        events: lines.map((line) =>
          JSON.parse(line.replaceAll(cwd, '/work/cwd').replaceAll(credential, '<credential>')),
        ),
      },
      null,
      1,
    )}\n`,
  );
  console.log(
    `${scenario.name.padEnd(22)} exit=${code ?? signal} events=${lines.length} ${Date.now() - started} ms`,
  );
  rmSync(cwd, { recursive: true, force: true });
  rmSync(config, { recursive: true, force: true });
}
console.log(
  'unexpected requests:',
  server
    .requests((r) => !r.url.startsWith('/v1/messages') && r.method !== 'HEAD')
    .map((r) => `${r.method} ${r.url}`),
);
await server.close();
