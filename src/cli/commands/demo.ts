import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentDefinition } from '../../agents/agent-definition.ts';
import { loadConfig } from '../../config/load.ts';
import type { AgentCli } from '../../core/agent-types.ts';
import { isTerminal } from '../../core/task-status.ts';
import type { TaskSubmission } from '../../core/task-types.ts';
import { createLogger } from '../../runtime/logger.ts';
import { Supervisor } from '../../runtime/supervisor.ts';
import { startScriptedModelServer } from '../../scripted-model/server.ts';
import * as steps from '../../scripted-model/steps.ts';
import type { TaskRow } from '../../store/schema.ts';
import { formatEvent, type StreamedEvent } from '../event-format.ts';

const banner = (name: string) => {
  return [
    '┌──────────────────────────────────────────────────────────────────────────────┐',
    `│ SCRIPTED DEMO. The real ${name} CLI runs these tasks, but every model${' '.repeat(15 - name.length)}│`,
    '│ answer comes from a scripted server on 127.0.0.1, not from a model. No API   │',
    '│ key is used and nothing leaves this machine.                                 │',
    '└──────────────────────────────────────────────────────────────────────────────┘',
  ].join('\n');
};

const DEMO_KEY = 'demo-key-for-the-scripted-server';
const FIX_SUMMARY = 'Fixed add() in calc.js: it returned a - b instead of a + b.';

const REVIEW = {
  summary: 'The change swaps the token helper for refresh(); it reads well but nothing tests the new path.',
  verdict: 'comment',
  findings: [
    {
      severity: 'major',
      file: 'auth.py',
      line: 2,
      title: 'Refresh failure is not handled',
      detail: 'refresh() can raise when the refresh token has expired; the caller would crash.',
      suggestion: 'Catch the error and ask the user to sign in again.',
    },
    {
      severity: 'minor',
      file: 'auth.py',
      title: 'No test for refresh()',
      detail: 'Add a unit test for the new call.',
    },
  ],
};

/** The model's answers for the review, then the fix, as the Claude Code CLI calls its tools. */
const CLAUDE_SCRIPT: steps.Step[] = [
  steps.toolUse([{ name: 'StructuredOutput', input: REVIEW }], {
    usage: { input_tokens: 3100, output_tokens: 240 },
  }),
  steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }], {
    text: 'Let me look at add().',
    usage: { input_tokens: 2800, output_tokens: 60 },
  }),
  steps.toolUse(
    [
      {
        name: 'Edit',
        input: { file_path: '{{cwd}}/calc.js', old_string: 'return a - b;', new_string: 'return a + b;' },
      },
    ],
    { text: 'add() subtracts; fixing it.', usage: { input_tokens: 3000, output_tokens: 90 } },
  ),
  steps.text(FIX_SUMMARY, { usage: { input_tokens: 3200, output_tokens: 40 } }),
];

/** The same, as the Codex CLI works: shell commands, and a structured answer as JSON text. */
const CODEX_SCRIPT: steps.Step[] = [
  steps.text(JSON.stringify(REVIEW), { usage: { input_tokens: 3100, output_tokens: 240 } }),
  steps.toolUse([{ name: 'exec_command', input: { cmd: 'cat calc.js' } }], {
    text: 'Let me look at add().',
    usage: { input_tokens: 2800, output_tokens: 60 },
  }),
  steps.toolUse(
    [{ name: 'exec_command', input: { cmd: "sed -i 's/return a - b;/return a + b;/' calc.js" } }],
    {
      text: 'add() subtracts; fixing it.',
      usage: { input_tokens: 3000, output_tokens: 90 },
    },
  ),
  steps.text(FIX_SUMMARY, { usage: { input_tokens: 3200, output_tokens: 40 } }),
];

/** The same, as the Gemini CLI works: its file tools, and a structured answer as JSON text. */
const GEMINI_SCRIPT: steps.Step[] = [
  steps.text(JSON.stringify(REVIEW), { usage: { input_tokens: 3100, output_tokens: 240 } }),
  steps.toolUse([{ name: 'read_file', input: { file_path: 'calc.js' } }], {
    text: 'Let me look at add().',
    usage: { input_tokens: 2800, output_tokens: 60 },
  }),
  steps.toolUse(
    [
      {
        name: 'write_file',
        input: { file_path: 'calc.js', content: 'export function add(a, b) {\n  return a + b;\n}\n' },
      },
    ],
    { text: 'add() subtracts; fixing it.', usage: { input_tokens: 3000, output_tokens: 90 } },
  ),
  steps.text(FIX_SUMMARY, { usage: { input_tokens: 3200, output_tokens: 40 } }),
];

/** What each CLI's demo agent runs: its script, its model and where its API is on the scripted server. */
const DEMO_AGENTS: Record<AgentCli, { name: string; script: steps.Step[]; model?: string; path: string }> = {
  'claude-code': { name: 'Claude Code', script: CLAUDE_SCRIPT, path: '' },
  codex: { name: 'Codex', script: CODEX_SCRIPT, model: 'gpt-scripted', path: '/v1' },
  gemini: { name: 'Gemini', script: GEMINI_SCRIPT, model: 'gemini-scripted', path: '' },
};

/**
 * `supervisor demo`: the whole flow on this machine with nothing to configure. Starts a scripted
 * model server, a throwaway git repository and the embedded supervisor wired to both, with one
 * agent of the chosen CLI, then submits a PR review and a bug fix and prints what happens, event by
 * event.
 */
export async function demo(
  options: { port: number; exit: boolean; cli: AgentCli },
  out: (text: string) => void,
): Promise<void> {
  const demoAgent = DEMO_AGENTS[options.cli];
  out(banner(demoAgent.name));
  const workDir = mkdtempSync(join(tmpdir(), 'supervisor-demo-'));
  const repository = createDemoRepository(join(workDir, 'service'));
  const model = await startScriptedModelServer();
  model.script(DEMO_KEY, demoAgent.script);
  const config = loadConfig({
    env: {
      PORT: String(options.port),
      LOG_LEVEL: 'warn',
      DATA_DIR: join(workDir, 'data'),
      AGENT_DRIVER: 'claude-code',
      CLAUDE_API_RETRIES: '0',
    },
  });
  const agent: AgentDefinition = {
    id: `demo-${options.cli}`,
    cli: options.cli,
    credential: { kind: 'api_key', value: DEMO_KEY },
    limits: {
      models: [demoAgent.model ?? config.CLAUDE_MODEL],
      maxConcurrent: 2,
      windows: [],
      baseUrl: `${model.url}${demoAgent.path}`,
    },
  };
  const supervisor = await Supervisor.start({ config, logger: createLogger(config), agents: [agent] });
  const url = `http://${config.HOST}:${config.PORT}`;
  out(`supervisor running on ${url} (API docs: ${url}/docs), scripted model server on ${model.url}\n`);
  const stopAll = async () => {
    await supervisor.stop();
    await model.close();
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    const review = await runAndShow(
      supervisor,
      {
        type: 'PR_REVIEW',
        priority: 8,
        payload: {
          repository,
          pr_number: 42,
          title: 'Refresh tokens before they expire',
          diff: '--- a/auth.py\n+++ b/auth.py\n@@ -1,3 +1,3 @@\n def token():\n-    return old_token()\n+    return refresh()\n',
        },
      },
      out,
    );
    const findings =
      (review.result as { structured_output?: typeof REVIEW } | null)?.structured_output?.findings ?? [];
    out(`review: ${findings.length} findings`);
    for (const finding of findings) out(`  [${finding.severity}] ${finding.file}: ${finding.title}`);

    const fix = await runAndShow(
      supervisor,
      {
        type: 'BUG_FIX',
        priority: 5,
        payload: { repository, description: 'add(2, 3) returns -1 instead of 5' },
      },
      out,
    );
    const change = (fix.result as { workspace?: { branch: string; diff: string } } | null)?.workspace;
    if (change) out(`\nthe fix is on branch ${change.branch}:\n${change.diff}`);
    out(`\nTry: curl ${url}/api/v1/tasks   |   npm run supervisor -- logs ${fix.id}`);
  } catch (error) {
    await stopAll();
    throw error;
  }
  if (options.exit) {
    await stopAll();
    return;
  }
  out('The demo supervisor keeps running so you can explore it; press Ctrl-C to stop.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stopAll();
}

async function runAndShow(
  supervisor: Supervisor,
  submission: TaskSubmission,
  out: (text: string) => void,
): Promise<TaskRow> {
  const { task } = await supervisor.tasks.submit(submission, { actor: { name: 'demo' } });
  out(`── ${submission.type} task ${task.id}`);
  const finished = new Promise<void>((resolve) => {
    const off = supervisor.bus.subscribe(task.id, (message) => {
      const line = formatEvent({
        id: message.id,
        type: message.type,
        data: (message.data ?? {}) as Record<string, unknown>,
        created_at: message.createdAt.toISOString(),
      } satisfies StreamedEvent);
      if (line) out(`   ${line}`);
      if (message.type === 'status' && isTerminal((message.data as { status: TaskRow['status'] }).status)) {
        off();
        resolve();
      }
    });
  });
  await finished;
  const { task: done, totals } = await supervisor.tasks.get(task.id);
  out(
    `   → ${done.status} (outcome ${done.outcome}), ${totals.inputTokens} tokens in / ${totals.outputTokens} out, $${totals.costUsd.toFixed(4)}`,
  );
  if (done.status !== 'succeeded')
    throw new Error(`demo task ${done.id} ended ${done.status}: ${done.error}`);
  return done;
}

function createDemoRepository(path: string): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: path,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_AUTHOR_NAME: 'Demo',
        GIT_AUTHOR_EMAIL: 'demo@example.invalid',
        GIT_COMMITTER_NAME: 'Demo',
        GIT_COMMITTER_EMAIL: 'demo@example.invalid',
      },
    });
  mkdirSync(path, { recursive: true });
  git('init', '--quiet', '--initial-branch', 'main');
  writeFileSync(join(path, 'calc.js'), 'export function add(a, b) {\n  return a - b;\n}\n');
  writeFileSync(join(path, 'auth.py'), 'def token():\n    return old_token()\n');
  writeFileSync(join(path, 'README.md'), '# service\n');
  git('add', '-A');
  git('commit', '--quiet', '-m', 'a service with a bug');
  return path;
}
