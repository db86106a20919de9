import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { processesUnder } from './support/agent-processes.ts';
import { createSourceRepo, LEAVES_A_DAEMON } from './support/git-repo.ts';
import { signWebhook } from './support/github-stand-in.ts';
import { freePort, pollTask, runCli, type ServerProcess, startServer } from './support/processes.ts';

interface AttemptJson {
  outcome: string | null;
  agent_pid: number | null;
  api_requests: number;
  evidence: { signal?: string; detail?: string };
}

async function pollAttempts(
  url: string,
  id: string,
  ready: (items: AttemptJson[]) => boolean,
): Promise<AttemptJson[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { items } = (await (await fetch(`${url}/api/v1/tasks/${id}/attempts`)).json()) as {
      items: AttemptJson[];
    };
    if (ready(items)) return items;
    if (Date.now() > deadline) throw new Error(`attempts of ${id} never got ready: ${JSON.stringify(items)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface TaskJson {
  id: string;
  status: string;
  attempts: { count: number };
}

describe('the supervisor as a process', () => {
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      if (server.child.exitCode === null) {
        server.child.kill('SIGKILL');
        await server.exited;
      }
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'supervisor-test-'));
    dirs.push(dir);
    return dir;
  };
  const serve = async (env: Record<string, string>) => {
    const server = await startServer(env);
    servers.push(server);
    return server;
  };

  it('loses nothing when killed with SIGKILL mid-task: the task gets a second attempt', async () => {
    const DATA_DIR = dataDir();
    const port = String(await freePort());
    const first = await serve({ DATA_DIR, PORT: port, AGENT_DRIVER: 'echo', ECHO_DRIVER_DELAY_MS: '30000' });
    const env = { SUPERVISOR_URL: first.url };
    const submitted = await runCli(['submit', '--type', 'CODE_ANALYSIS', '--repository', 'owner/repo'], env);
    expect(submitted.code).toBe(0);
    const id = submitted.stdout.trim();
    await pollTask<TaskJson>(first.url, id, (task) => task.status === 'running');

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);

    const second = await serve({ DATA_DIR, PORT: port, AGENT_DRIVER: 'echo', ECHO_DRIVER_DELAY_MS: '50' });
    const done = await pollTask<TaskJson>(second.url, id, (task) => task.status === 'succeeded');
    expect(done.attempts.count).toBe(2);
    const attempts = (await (await fetch(`${second.url}/api/v1/tasks/${id}/attempts`)).json()) as {
      items: Array<{ outcome: string; counts_against_budget: boolean; evidence: { signal: string } }>;
    };
    expect(attempts.items.map((a) => [a.outcome, a.counts_against_budget, a.evidence.signal])).toEqual([
      ['infra_error', false, 'worker_lost'],
      ['succeeded', true, 'echo'],
    ]);
  });

  it('stops the orphaned claude process of a killed supervisor when it recovers the task', async () => {
    const model = await startScriptedModelServer();
    try {
      model.script('sk-orphan', [
        { kind: 'hang' },
        steps.toolUse([{ name: 'StructuredOutput', input: { summary: 'fine', findings: [] } }]),
      ]);
      const DATA_DIR = dataDir();
      const port = String(await freePort());
      const env = {
        DATA_DIR,
        PORT: port,
        AGENT_DRIVER: 'claude-code',
        CLAUDE_API_KEYS: 'sk-orphan',
        ANTHROPIC_BASE_URL: model.url,
        CLAUDE_API_TIMEOUT_MS: '600000',
        // The orphan keeps retrying (with backoff) once its route to the model API is gone, so it
        // is still there when the next start recovers the task.
        CLAUDE_API_RETRIES: '10',
      };
      const first = await serve(env);
      const repository = createSourceRepo({ 'a.js': 'export const a = 1;\n' }).path;
      const submitted = await runCli(['submit', '-t', 'CODE_ANALYSIS', '-r', repository], {
        SUPERVISOR_URL: first.url,
      });
      const id = submitted.stdout.trim();
      const attempt = await pollAttempts(first.url, id, (items) => typeof items[0]?.agent_pid === 'number');
      const agentPid = attempt[0]!.agent_pid as number;
      // Its first request is in flight (the model holds it).
      await expect.poll(() => model.requests().length, { timeout: 30_000 }).toBe(1);

      first.child.kill('SIGKILL');
      await first.exited;
      // The agent leads its own process group, so it outlives the supervisor…
      expect(processesUnder(DATA_DIR).map((p) => p.pid)).toContain(agentPid);

      // …until the next start recovers the task and stops it.
      const second = await serve(env);
      const done = await pollTask<TaskJson>(second.url, id, (task) => task.status === 'succeeded', 60_000);
      expect(done.attempts.count).toBe(2);
      const items = await pollAttempts(second.url, id, () => true);
      expect(items[0]).toMatchObject({ outcome: 'infra_error', evidence: { signal: 'worker_lost' } });
      expect(String(items[0]!.evidence.detail)).toContain(
        `1 orphaned process(es) of the attempt were stopped (the agent was pid ${agentPid})`,
      );
      expect(processesUnder(DATA_DIR)).toEqual([]);
      // Its API route died with its supervisor: the orphan never reached the model again, only the
      // second attempt did.
      expect(model.requests()).toHaveLength(2);
    } finally {
      await model.close();
    }
  });

  it('stops the tool processes of a killed supervisor’s attempt, even in a session of their own', async () => {
    const model = await startScriptedModelServer();
    try {
      model.script('sk-tools', [
        steps.toolUse([{ name: 'Bash', input: { command: 'npm test', description: 'run the tests' } }]),
        { kind: 'hang' },
        steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }]),
        steps.toolUse([
          {
            name: 'Edit',
            input: { file_path: '{{cwd}}/calc.js', old_string: 'a - b', new_string: 'a + b' },
          },
        ]),
        steps.text('Fixed.'),
      ]);
      const DATA_DIR = dataDir();
      const env = {
        DATA_DIR,
        PORT: String(await freePort()),
        AGENT_DRIVER: 'claude-code',
        CLAUDE_API_KEYS: 'sk-tools',
        ANTHROPIC_BASE_URL: model.url,
        CLAUDE_API_TIMEOUT_MS: '600000',
        CLAUDE_API_RETRIES: '0',
        AGENT_ALLOWED_COMMANDS: 'npm test,ls',
      };
      const first = await serve(env);
      const repository = createSourceRepo({
        'calc.js': 'export const add = (a, b) => a - b;\n',
        ...LEAVES_A_DAEMON,
      }).path;
      const submitted = await runCli(
        ['submit', '-t', 'BUG_FIX', '-r', repository, '--description', 'add() subtracts'],
        {
          SUPERVISOR_URL: first.url,
        },
      );
      const id = submitted.stdout.trim();
      // The tool's `sleep` runs in a session of its own; the agent waits on its next request.
      await expect
        .poll(() => processesUnder(DATA_DIR).some((p) => p.cmdline.startsWith('sleep 600')), {
          timeout: 30_000,
        })
        .toBe(true);
      await expect.poll(() => model.requests().length, { timeout: 30_000 }).toBe(2);

      first.child.kill('SIGKILL');
      await first.exited;
      const second = await serve(env);
      await pollTask<TaskJson>(second.url, id, (task) => task.status === 'succeeded', 60_000);
      const [lost] = await pollAttempts(second.url, id, () => true);
      expect(lost).toMatchObject({ outcome: 'infra_error', evidence: { signal: 'worker_lost' } });
      // At least the `sleep` its test script left in a session of its own (the agent itself may
      // have exited already: its route to the model API died with its supervisor).
      const stopped = /; (\d+) orphaned process\(es\) of the attempt were stopped/.exec(
        String(lost!.evidence.detail),
      );
      expect(Number(stopped?.[1])).toBeGreaterThanOrEqual(1);
      await expect.poll(() => processesUnder(DATA_DIR), { timeout: 5000 }).toEqual([]);
    } finally {
      await model.close();
    }
  });

  it('charges the requests of an attempt lost with its worker to the agent’s quota', async () => {
    const model = await startScriptedModelServer();
    try {
      const read = () => steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/a.js' } }]);
      model.script('sk-charged', [
        read(),
        read(),
        { kind: 'hang' },
        steps.toolUse([{ name: 'StructuredOutput', input: { summary: 'fine', findings: [] } }]),
      ]);
      const DATA_DIR = dataDir();
      const env = {
        DATA_DIR,
        PORT: String(await freePort()),
        AGENT_DRIVER: 'claude-code',
        CLAUDE_API_KEYS: 'sk-charged',
        ANTHROPIC_BASE_URL: model.url,
        CLAUDE_API_TIMEOUT_MS: '600000',
        CLAUDE_API_RETRIES: '0',
        // Fixed windows are aligned to the epoch: a 5-hour window may end during the test (one
        // did, at 08:00 UTC, and the count read 0). A year-long one practically never does.
        CLAUDE_QUOTA_RESET_HOURS: '8760',
      };
      const first = await serve(env);
      const repository = createSourceRepo({ 'a.js': 'export const a = 1;\n' }).path;
      const submitted = await runCli(['submit', '-t', 'CODE_ANALYSIS', '-r', repository], {
        SUPERVISOR_URL: first.url,
      });
      const id = submitted.stdout.trim();
      // The two answered requests are on the attempt while it still runs (the third hangs).
      await pollAttempts(first.url, id, (items) => (items[0]?.api_requests ?? 0) >= 2);
      // Killed only once the third request holds the `hang`: killed before it is sent, the retry
      // would get the hang instead (a loaded CI machine did that, and the test timed out).
      const messages = () =>
        model.requests((r) => r.method === 'POST' && r.url.split('?')[0] === '/v1/messages');
      await expect.poll(() => messages().length, { timeout: 30_000 }).toBe(3);

      first.child.kill('SIGKILL');
      await first.exited;
      const second = await serve(env);
      await pollTask<TaskJson>(second.url, id, (task) => task.status === 'succeeded', 60_000);
      const [lost, next] = await pollAttempts(second.url, id, () => true);
      expect(lost).toMatchObject({ outcome: 'infra_error', evidence: { signal: 'worker_lost' } });
      expect(lost!.api_requests).toBe(2);
      // The window counts the lost attempt's requests as well as the one that finished the task.
      const { items } = (await (await fetch(`${second.url}/api/v1/agents/quota/status`)).json()) as {
        items: Array<{ windows: Array<{ metric: string; used: number }> }>;
      };
      expect(items[0]!.windows.find((window) => window.metric === 'requests')!.used).toBe(
        2 + next!.api_requests,
      );
    } finally {
      await model.close();
    }
  }, 150_000);

  it('drains on SIGTERM and refuses a second process on the same data directory', async () => {
    const DATA_DIR = dataDir();
    const server = await serve({ DATA_DIR, AGENT_DRIVER: 'echo' });
    const intruder = await runCli(['serve'], {
      DATA_DIR,
      PORT: String(await freePort()),
      LOG_LEVEL: 'error',
    });
    expect(intruder.code).toBe(1);
    expect(intruder.stderr).toContain(`is in use by process ${server.child.pid}`);
    expect(intruder.stderr).toContain('DATABASE_URL');

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
  });

  it('exits with 2 on bad config and names the variable, without printing secrets', async () => {
    const result = await runCli(['serve'], { PORT: 'eighty', DATABASE_URL: 'mysql://u:hunter2@h/db' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PORT: expected an integer between 0 and 65535; got "eighty"');
    expect(result.stderr).toContain('DATABASE_URL: expected a URL of the form postgres://');
    expect(result.stderr).not.toContain('hunter2');
  });

  it('runs the scripted demo end to end with the real CLI', async () => {
    const result = await runCli(['demo', '--exit', '--port', String(await freePort())], {}, 120_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('SCRIPTED DEMO');
    expect(result.stdout.match(/→ succeeded \(outcome succeeded\)/g)).toHaveLength(2);
    expect(result.stdout).toContain('[major] auth.py: Refresh failure is not handled');
    expect(result.stdout).toContain('+  return a + b;');
  });

  it.each([
    ['codex', 'Codex', '→ /bin/bash -lc "sed -i \'s/return a - b;/return a + b;/\' calc.js" (exit 0)'],
    ['gemini', 'Gemini', '→ write_file {"content":"export function add(a, b) {'],
  ])('runs the scripted demo on the real %s CLI with --cli', async (cli, name, step) => {
    const result = await runCli(
      ['demo', '--exit', '--cli', cli, '--port', String(await freePort())],
      {},
      120_000,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`The real ${name} CLI runs these tasks`);
    expect(result.stdout.match(/→ succeeded \(outcome succeeded\)/g)).toHaveLength(2);
    expect(result.stdout).toContain('[major] auth.py: Refresh failure is not handled');
    expect(result.stdout).toContain(step);
    expect(result.stdout).toContain('+  return a + b;');
  });

  it('names the agent CLIs the demo knows when given another', async () => {
    const unknown = await runCli(['demo', '--cli', 'cursor'], {}, 30_000);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain(
      "argument 'cursor' is invalid. Allowed choices are claude-code, codex, gemini.",
    );
  });

  it('CLI: submit --wait, logs, tasks, show, cancel, retry, reply, approve, and its exit codes', async () => {
    const server = await serve({ DATA_DIR: dataDir(), AGENT_DRIVER: 'echo', ECHO_DRIVER_DELAY_MS: '50' });
    const env = { SUPERVISOR_URL: server.url };
    const dir = dataDir();
    const taskFile = join(dir, 'task.json');
    writeFileSync(
      taskFile,
      JSON.stringify({
        type: 'PR_REVIEW',
        payload: { repository: 'o/r', title: 'T', diff: '--- a\n+++ b\n' },
        priority: 7,
      }),
    );

    const waited = await runCli(['submit', '--file', taskFile, '--wait'], env);
    expect(waited.code).toBe(0);
    expect(waited.stdout).toMatch(/ succeeded/);
    expect(waited.stdout).toContain('echo driver');
    // The summary closes the output; without a terminal there is no spinner on stderr.
    expect(waited.stdout).toMatch(
      /\nstatus {5}succeeded \(outcome: succeeded\)\nattempts {3}1 \(budget \d+\)\n/,
    );
    expect(waited.stdout).toMatch(/\ncost {7}\$\d+\.\d{4} {3}tokens in \d+ \/ out \d+/);
    expect(waited.stderr).toBe('');

    const waitedId = waited.stdout.split(' ')[0]!;
    const logs = await runCli(['logs', waitedId], env);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(
      /status running\n.*echo\.started.*\n.*echo\.result.*\n.*status succeeded \(succeeded\)/,
    );
    const following = await runCli(['submit', '-t', 'CODE_ANALYSIS', '-r', 'o/r'], env);
    const followed = await runCli(['logs', '-f', following.stdout.trim()], env);
    expect(followed.code).toBe(0);
    // The streamed events end with the final status; the summary follows after a blank line.
    const [stream, summary] = followed.stdout.trim().split('\n\n');
    expect(stream!.split('\n').at(-1)).toMatch(/status succeeded/);
    expect(summary).toMatch(/^── \S+ ──\nstatus {5}succeeded \(outcome: succeeded\)\nattempts {3}1 /);
    expect(followed.stderr).toBe('');

    const listed = await runCli(['tasks', '--json'], env);
    expect(listed.code).toBe(0);
    const page = JSON.parse(listed.stdout) as { items: TaskJson[]; next_cursor: string | null };
    expect(page.items[0]!.status).toBe('succeeded');
    expect(Object.keys(page)).toEqual(['items', 'next_cursor']);
    const table = await runCli(['tasks', '--status', 'succeeded'], env);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+TYPE/);

    const shown = await runCli(['show', page.items[0]!.id], env);
    expect(shown.stdout).toContain('#1 succeeded  echo');

    const later = await runCli(
      ['submit', '-t', 'FEATURE', '-r', 'o/r', '--description', 'x', '--run-after', '2099-01-01T00:00:00Z'],
      env,
    );
    const id = later.stdout.trim();
    const early = await runCli(['reply', id, 'hello'], env);
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout.trim()).toBe(`${id} queued (the message waits for the run in progress to end)`);
    const nothingToApprove = await runCli(['approve', id], env);
    expect(nothingToApprove.code).toBe(4);
    expect(nothingToApprove.stderr).toContain(`task ${id} waits for no approval now`);
    expect((await runCli(['cancel', id], env)).stdout.trim()).toBe(`${id} cancelled`);
    const cancelAgain = await runCli(['cancel', id], env);
    expect(cancelAgain.code).toBe(2);
    expect(cancelAgain.stderr).toContain('invalid_transition: cannot cancel a task that is cancelled');
    expect((await runCli(['retry', id], env)).stdout.trim()).toBe(`${id} queued`);
    // A follow-up to a finished task runs it again, its words joined into one message.
    const replied = await runCli(['reply', waitedId, 'explain', 'finding', '2', '--wait'], env);
    expect(replied.code, replied.stderr).toBe(0);
    expect(replied.stdout).toMatch(new RegExp(`^${waitedId} queued\n`));
    expect(replied.stdout).toMatch(/\nstatus {5}succeeded \(outcome: succeeded\)\nattempts {3}2 /);
    const thread = (await (await fetch(`${server.url}/api/v1/tasks/${waitedId}/messages`)).json()) as {
      items: Array<{ text: string }>;
    };
    expect(thread.items.map((m) => m.text)).toEqual(['explain finding 2']);

    const bad = await runCli(['submit', '-t', 'BUG_FIX', '-r', 'o/r', '--priority', '11'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('payload.description');
    expect(bad.stderr).toContain('priority: Too big');

    const usage = await runCli(['frobnicate'], env);
    expect(usage.code).toBe(2);
    // A bad number never reaches the server; a task that does not exist is its own exit code.
    const badLimit = await runCli(['tasks', '-n', 'abc'], env);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain("option '-n, --limit <n>' argument 'abc' is invalid");
    const missing = await runCli(['show', '00000000-0000-4000-8000-000000000001'], env);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('task_not_found');
    expect((await runCli(['submit', '--help'], env)).stdout).toContain('Examples:\n  $ supervisor submit');

    const unreachable = await runCli(['tasks'], { SUPERVISOR_URL: `http://127.0.0.1:${await freePort()}` });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach the supervisor');
  });

  it('CLI: memory add, search, show and rm, with usage errors naming the flag', async () => {
    const server = await serve({ DATA_DIR: dataDir(), AGENT_DRIVER: 'echo' });
    const env = { SUPERVISOR_URL: server.url };
    const added = await runCli(
      [
        'memory',
        'add',
        '-r',
        'acme/api',
        '--title',
        'Refresh tokens never rotate',
        '--content',
        'See auth.py.',
        '--path',
        'auth.py',
        '--json',
      ],
      env,
    );
    expect(added.code, added.stderr).toBe(0);
    const entry = JSON.parse(added.stdout) as { id: string; paths: string[] };
    expect(entry.paths).toEqual(['auth.py']);
    await runCli(['memory', 'add', '-r', 'acme/web', '--title', 'Pool size', '--content', 'Ten.'], env);

    const found = await runCli(['memory', 'search', 'refresh', 'token', '--json'], env);
    const foundPage = JSON.parse(found.stdout) as { items: Array<{ id: string }>; next_cursor: null };
    expect(foundPage.items.map((item) => item.id)).toEqual([entry.id]);
    const listed = await runCli(['memory', 'search', '-r', 'acme/web'], env);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+REPOSITORY\s+KIND\s+TITLE/);
    expect(listed.stdout).toContain('Pool size');
    expect(listed.stdout).not.toContain('Refresh');
    const shown = await runCli(['memory', 'show', entry.id], env);
    expect(shown.stdout).toContain('files:   auth.py');
    expect(shown.stdout).toContain('See auth.py.');

    const noContent = await runCli(['memory', 'add', '-r', 'acme/api', '--title', 'x'], env);
    expect(noContent.code).toBe(2);
    expect(noContent.stderr).toContain('exactly one of --content or --file');
    const badKind = await runCli(['memory', 'search', '--kind', 'gossip'], env);
    expect(badKind.code).toBe(2);
    expect(badKind.stderr).toContain('--kind: expected one of');

    expect((await runCli(['memory', 'rm', entry.id], env)).stdout.trim()).toBe(`deleted ${entry.id}`);
    const gone = await runCli(['memory', 'show', entry.id], env);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toContain('memory_entry_not_found');
  });

  it('CLI: tokens create, list and revoke with the first admin token, printed once and never logged', async () => {
    const server = await serve({ DATA_DIR: dataDir(), AGENT_DRIVER: 'echo', AUTH_MODE: 'tokens' });
    const admin = /^\s+(sv_[\w-]{43})$/m.exec(server.output())?.[1];
    expect(admin, server.output()).toBeDefined();
    const logLines = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(admin!);

    const anonymous = await runCli(['tasks'], { SUPERVISOR_URL: server.url });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toContain('unauthorized');
    expect(anonymous.stderr).toContain('SUPERVISOR_TOKEN');

    const asAdmin = { SUPERVISOR_URL: server.url, SUPERVISOR_TOKEN: admin! };
    const created = await runCli(['tokens', 'create', '--name', 'ci', '--role', 'viewer', '--json'], asAdmin);
    expect(created.code, created.stderr).toBe(0);
    const viewer = JSON.parse(created.stdout) as { id: string; token: string };
    const badRole = await runCli(['tokens', 'create', '--name', 'x', '--role', 'root'], asAdmin);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('--role: expected one of viewer, submitter, operator, admin');

    const asViewer = { SUPERVISOR_URL: server.url, SUPERVISOR_TOKEN: viewer.token };
    expect((await runCli(['tasks'], asViewer)).code).toBe(0);
    const refused = await runCli(['submit', '-t', 'CODE_ANALYSIS', '-r', 'o/r'], asViewer);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('forbidden');

    const listed = await runCli(['tokens', 'list'], asAdmin);
    expect(listed.stdout).toMatch(/ci\s+viewer/);
    expect(listed.stdout).not.toContain(viewer.token);
    expect((await runCli(['tokens', 'revoke', viewer.id], asAdmin)).stdout).toContain(`revoked ${viewer.id}`);
    const revoked = await runCli(['tasks'], asViewer);
    expect(revoked.code).toBe(2);
    expect(revoked.stderr).toContain('revoked');
    expect((await runCli(['tokens', 'generate'], {})).stdout.trim()).toMatch(/^sv_[\w-]{43}$/);
  });

  it('CLI: github deliveries lists what each delivery did, github replay handles one again, github reconcile looks for missed ones, github status', async () => {
    const secret = 'cli-webhook-secret-0123456789';
    const server = await serve({
      DATA_DIR: dataDir(),
      AGENT_DRIVER: 'echo',
      GITHUB_TOKEN: 'ghp_cli_test_never_sent',
      GITHUB_WEBHOOK_SECRET: secret,
      GITHUB_API_URL: 'http://127.0.0.1:9',
    });
    const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const id = randomUUID();
    const sent = await fetch(`${server.url}/api/v1/github/webhooks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'ping',
        'x-github-delivery': id,
        'x-hub-signature-256': signWebhook(secret, body),
      },
      body,
    });
    expect(sent.status).toBe(202);
    const env = { SUPERVISOR_URL: server.url };
    await expect
      .poll(async () => (await runCli(['github', 'deliveries'], env)).stdout, { timeout: 30_000 })
      .toMatch(new RegExp(`${id}\\s.*ping\\s.*no trigger for ping events`));
    const replayed = await runCli(['github', 'replay', id], env);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toContain(`replaying ${id}`);
    const missing = await runCli(['github', 'replay', randomUUID()], env);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('delivery_not_found');
    const page = JSON.parse((await runCli(['github', 'deliveries', '--json'], env)).stdout);
    expect(page.items.map((d: { id: string }) => d.id)).toEqual([id]);
    expect(page.next_cursor).toBeNull();
    // A ping names no repository, so there is none to look at (and GitHub is not asked).
    const reconciled = await runCli(['github', 'reconcile'], env);
    expect(reconciled.code, reconciled.stderr).toBe(0);
    expect(reconciled.stdout.trim()).toBe('looked at 0 repositories: 0 missed deliveries found and queued');
    const status = await runCli(['github', 'status'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('acting as   a personal access token (no check runs)');
    expect(status.stdout).toContain('git         http://127.0.0.1:9');
    expect(status.stdout).toMatch(/deliveries {2}1 in 24 h \(0 reconciled\), 0 waiting, last \d{4}-/);
    expect(status.stdout).not.toContain('ghp_cli_test_never_sent');
  });
});
