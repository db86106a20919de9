import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { ApprovalView, AttemptView, MessageView, TaskView } from '../../api/schemas.ts';
import { isTerminal, TASK_STATUSES } from '../../core/task-status.ts';
import { TASK_TYPES } from '../../core/task-types.ts';
import type { ApiClient } from '../api-client.ts';
import { formatEvent, type StreamedEvent } from '../event-format.ts';
import { EXIT, ExitError, wholeNumber } from '../exit.ts';
import { listJson, table, taskDetails, taskTable, toolCallSummary } from '../format.ts';
import { taskSummary } from '../progress.ts';
import { noProgress, type Progress, startProgress } from '../spinner.ts';
import { followEvents } from '../sse-client.ts';
import { buildSubmission, type SubmitFlags } from '../submission.ts';

/** How often `submit --wait` looks at the task. */
const WAIT_POLL_MS = 1000;

type Output = (text: string) => void;

interface InboxItemJson {
  kind: 'question' | 'approval' | 'no_agent';
  task_id: string;
  type: string;
  since: string;
  question: string | null;
  approval: ApprovalView | null;
}

const INBOX_WAITS_FOR = { question: 'answer', approval: 'approval', no_agent: 'an agent' } as const;

function inboxWhat(item: InboxItemJson): string {
  if (item.kind === 'question') return item.question ?? '';
  if (item.kind === 'approval' && item.approval)
    return `${item.approval.tool}: ${toolCallSummary(item.approval)}`;
  return 'no enabled agent can run it';
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerTaskCommands(program: Command, client: () => ApiClient, out: Output): void {
  program
    .command('submit')
    .description('Submit a task; prints its id')
    .option(
      '-f, --file <task.json>',
      'the whole task as JSON ({"type", "payload", "priority", …}); flags override it',
    )
    .option('-t, --type <type>', 'PR_REVIEW, ISSUE_SUMMARY, CODE_ANALYSIS, REFACTOR, BUG_FIX or FEATURE')
    .option('-p, --priority <1-10>', 'urgency, 10 most urgent (default 5)')
    .option('--run-after <time>', 'do not start before this ISO 8601 time')
    .option('--max-attempts <n>', 'attempts for the task’s own failures')
    .option('--payload <json>', 'payload fields as a JSON object')
    .option('-r, --repository <repo>', 'owner/repo, git URL or absolute path')
    .option('--title <text>', 'PR or issue title')
    .option('--description <text>', 'what to do (REFACTOR, BUG_FIX, FEATURE) or the PR description')
    .option('--body <text>', 'issue body (ISSUE_SUMMARY)')
    .option('--diff <file>', 'file holding the diff to review (PR_REVIEW)')
    .option('--pr-number <n>', 'pull request number')
    .option('--issue-number <n>', 'issue number')
    .option('--base-ref <ref>', 'base branch or commit')
    .option('--head-ref <ref>', 'head branch or commit (PR_REVIEW)')
    .option('--ref <ref>', 'ref to analyse (CODE_ANALYSIS)')
    .option('--focus <text>', 'what the analysis should focus on')
    .option('--path <path>', 'a path to focus on (repeatable)', collect)
    .option('--criteria <text>', 'an acceptance criterion (repeatable)', collect)
    .option('--depends-on <id>', 'a task that must succeed first (repeatable)', collect)
    .option('--dedupe', 'return a task of the same content submitted within DEDUP_WINDOW_SECONDS instead')
    .option('--batch', 'may share one agent session with similar read-only tasks (BATCH_SIZE)')
    .option(
      '--agent-cli <cli>',
      'prefer agents of this CLI: claude-code, codex or gemini (others take over when none can)',
    )
    .option('--idempotency-key <key>', 'repeat-safe key: resubmitting returns the same task')
    .option('-w, --wait', 'follow the task to its end; exit 1 if it fails')
    .option('--json', 'print the task as JSON')
    .action(async (flags: SubmitFlags & { idempotencyKey?: string; wait?: boolean; json?: boolean }) => {
      const submission = buildSubmission(flags, (path) => readText(path));
      const headers: Record<string, string> = flags.idempotencyKey
        ? { 'idempotency-key': flags.idempotencyKey }
        : {};
      const task = await client().request<TaskView>('POST', '/api/v1/tasks', { body: submission, headers });
      if (!flags.wait) {
        out(flags.json ? JSON.stringify(task, null, 2) : task.id);
        return;
      }
      await followToEnd(client(), task, out, flags.json === true);
    });

  program
    .command('reply')
    .description('Answer a task’s question, or follow up on its result: its agent session goes on')
    .argument('<id>', 'task id')
    .argument('<text...>', 'the message')
    .option('-w, --wait', 'follow the task to its end; exit 1 if it fails')
    .option('--json', 'print the task as JSON')
    .action(async (id: string, words: string[], flags: { wait?: boolean; json?: boolean }) => {
      const { task, message } = await client().request<{ task: TaskView; message: MessageView }>(
        'POST',
        `/api/v1/tasks/${encodeURIComponent(id)}/messages`,
        { body: { text: words.join(' ') } },
      );
      if (!flags.wait) {
        const waits =
          message.run_base !== null
            ? ''
            : task.status === 'running'
              ? ' (the message goes into the agent’s next turn)'
              : ' (the message waits for the run in progress to end)';
        out(flags.json ? JSON.stringify(task, null, 2) : `${task.id} ${task.status}${waits}`);
        return;
      }
      await followToEnd(client(), task, out, flags.json === true);
    });

  program
    .command('tasks')
    .description('List tasks, newest first')
    .option('-s, --status <statuses>', `comma-separated statuses (${TASK_STATUSES.join(', ')})`)
    .option('-t, --type <types>', `comma-separated task types (${TASK_TYPES.join(', ')})`)
    .option('-r, --repository <repo>', 'only this repository')
    .option('--submission <id>', 'only the tasks of this batch submission (its submission_id)')
    .option('-n, --limit <n>', 'how many (1-500)', wholeNumber(1, 500), 20)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--json', 'print the page as JSON')
    .action(
      async (flags: {
        status?: string;
        type?: string;
        repository?: string;
        submission?: string;
        limit: number;
        cursor?: string;
        json?: boolean;
      }) => {
        const query = new URLSearchParams({ limit: String(flags.limit) });
        if (flags.status) query.set('status', flags.status);
        if (flags.type) query.set('type', flags.type.toUpperCase());
        if (flags.repository) query.set('repository', flags.repository);
        if (flags.submission) query.set('submission', flags.submission);
        if (flags.cursor) query.set('cursor', flags.cursor);
        const page = await client().request<{ items: TaskView[]; next_cursor: string | null }>(
          'GET',
          `/api/v1/tasks?${query}`,
        );
        if (flags.json) {
          out(listJson(page.items, page.next_cursor));
          return;
        }
        out(taskTable(page.items));
        if (page.next_cursor) out(`\nmore: supervisor tasks --cursor ${page.next_cursor}`);
      },
    );

  program
    .command('inbox')
    .description(
      'What waits for a person: questions to answer, tool calls to approve, tasks no agent can run',
    )
    .option('-n, --limit <n>', 'how many (1-500)', wholeNumber(1, 500), 100)
    .option('--json', 'print it as JSON')
    .action(async (flags: { limit: number; json?: boolean }) => {
      const { items } = await client().request<{ items: InboxItemJson[] }>(
        'GET',
        `/api/v1/inbox?limit=${flags.limit}`,
      );
      if (flags.json) return out(listJson(items));
      if (items.length === 0) return out('nothing waits for a person');
      out(
        table(
          ['TASK', 'WAITING', 'SINCE', 'TYPE', 'WHAT'],
          items.map((item) => [
            item.task_id,
            INBOX_WAITS_FOR[item.kind],
            item.since.replace('T', ' ').slice(0, 19),
            item.type,
            inboxWhat(item).replaceAll('\n', ' ').slice(0, 80),
          ]),
        ),
      );
      out(
        '\nanswer: supervisor reply <task> <text…> · approve: supervisor approve|deny <task> · agents: supervisor agents',
      );
    });

  for (const decision of ['approve', 'deny'] as const) {
    program
      .command(decision)
      .description(
        decision === 'approve'
          ? 'Approve the tool call a task’s agent waits on: it runs'
          : 'Deny the tool call a task’s agent waits on: the agent is told, with your note',
      )
      .argument('<id>', 'task id')
      .option('--approval <id>', 'which approval, when the task has several (default: the one it waits on)')
      .option(
        '--note <text>',
        decision === 'deny' ? 'why; the agent reads it' : 'a note kept with the decision',
      )
      .option('--json', 'print the approval as JSON')
      .action(async (id: string, flags: { approval?: string; note?: string; json?: boolean }) => {
        const api = client();
        const task = encodeURIComponent(id);
        const approvalId =
          flags.approval ??
          (await api.request<TaskView>('GET', `/api/v1/tasks/${task}`)).awaiting_approval?.id;
        if (!approvalId) {
          throw new ExitError(
            EXIT.notFound,
            `task ${id} waits for no approval now (see supervisor show ${id}); nothing to ${decision}`,
          );
        }
        const approval = await api.request<ApprovalView>(
          'POST',
          `/api/v1/tasks/${task}/approvals/${encodeURIComponent(approvalId)}`,
          { body: { decision, ...(flags.note ? { note: flags.note } : {}) } },
        );
        out(
          flags.json
            ? JSON.stringify(approval, null, 2)
            : `${approval.id} ${approval.status}: ${approval.tool}`,
        );
      });
  }

  program
    .command('show')
    .description('Show one task with its attempts and result')
    .argument('<id>', 'task id')
    .option('--json', 'print as JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const task = await client().request<TaskView>('GET', `/api/v1/tasks/${encodeURIComponent(id)}`);
      const attempts = await client().request<{ items: AttemptView[] }>(
        'GET',
        `/api/v1/tasks/${encodeURIComponent(id)}/attempts`,
      );
      out(
        flags.json
          ? JSON.stringify({ ...task, attempt_history: attempts.items }, null, 2)
          : taskDetails(task, attempts.items),
      );
    });

  program
    .command('logs')
    .description('Print a task’s events; with -f, follow them live until the task ends')
    .argument('<id>', 'task id')
    .option('-f, --follow', 'keep streaming until the task reaches a final status')
    .option('--json', 'print every event as a JSON line (including stream deltas)')
    .action(async (id: string, flags: { follow?: boolean; json?: boolean }) => {
      const api = client();
      const path = `/api/v1/tasks/${encodeURIComponent(id)}`;
      let progress = noProgress(out);
      if (flags.follow && process.stderr.isTTY) {
        const task = await api.request<TaskView>('GET', path);
        progress = startProgress(
          { status: task.status, attempt: task.attempts.count, since: Date.parse(task.created_at) },
          out,
        );
      }
      let finalStatus: string | undefined;
      try {
        for await (const message of followEvents(api, id, { untilReplayed: !flags.follow })) {
          const event = JSON.parse(message.data) as StreamedEvent;
          if (event.type === 'status') {
            finalStatus = String(event.data.status);
            progress.update({ status: finalStatus });
            // Status events do not carry the attempt number: ask for it when an attempt may have begun.
            if (progress.active && finalStatus === 'running')
              api.request<TaskView>('GET', path).then(
                (task) => progress.update({ attempt: task.attempts.count }),
                () => {},
              );
          } else progress.update({ lastEvent: event.type });
          if (flags.json) progress.print(message.data);
          else {
            const line = formatEvent(event);
            if (line) progress.print(line);
          }
        }
      } finally {
        progress.stop();
      }
      if (flags.follow && !flags.json) out(`\n${taskSummary(await api.request<TaskView>('GET', path))}`);
      if (flags.follow && finalStatus && finalStatus !== 'succeeded') {
        throw new ExitError(EXIT.taskFailed, `task ${id} ${finalStatus}`);
      }
    });

  program
    .command('cancel')
    .description('Cancel a task (a running one is stopped by its worker)')
    .argument('<id>', 'task id')
    .option('--json', 'print the task as JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const task = await client().request<TaskView>('POST', `/api/v1/tasks/${encodeURIComponent(id)}/cancel`);
      out(
        flags.json
          ? JSON.stringify(task, null, 2)
          : `${task.id} ${task.status === 'running' ? 'cancelling' : task.status}`,
      );
    });

  program
    .command('retry')
    .description('Run a failed or cancelled task again')
    .argument('<id>', 'task id')
    .option('--json', 'print the task as JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const task = await client().request<TaskView>('POST', `/api/v1/tasks/${encodeURIComponent(id)}/retry`);
      out(flags.json ? JSON.stringify(task, null, 2) : `${task.id} ${task.status}`);
    });
}

/** `--wait`: follows a task to its end, prints its result, and exits 1 unless it succeeded. */
async function followToEnd(client: ApiClient, initial: TaskView, out: Output, json: boolean): Promise<void> {
  if (!json) out(`${initial.id} ${initial.status}`);
  const progress = startProgress(
    { status: initial.status, attempt: initial.attempts.count, since: Date.now() },
    out,
  );
  let task: TaskView;
  try {
    task = await waitForEnd(client, initial, json ? () => {} : progress.print, progress);
  } finally {
    progress.stop();
  }
  if (json) out(JSON.stringify(task, null, 2));
  else {
    if (task.result?.text) out(task.result.text);
    out(`\n${taskSummary(task)}`);
  }
  if (task.status !== 'succeeded')
    throw new ExitError(
      EXIT.taskFailed,
      `task ${task.id} ${task.status}${task.error ? `: ${task.error}` : ''}`,
    );
}

async function waitForEnd(
  client: ApiClient,
  initial: TaskView,
  out: Output,
  progress: Progress,
): Promise<TaskView> {
  let task = initial;
  let lastStatus = task.status;
  // On a terminal, also follow the event stream so the spinner can name the newest event.
  const events = new AbortController();
  if (progress.active && !isTerminal(task.status)) void watchEvents(client, task.id, progress, events.signal);
  try {
    while (!isTerminal(task.status)) {
      await sleep(WAIT_POLL_MS);
      task = await client.request<TaskView>('GET', `/api/v1/tasks/${task.id}`);
      progress.update({ status: task.status, attempt: task.attempts.count });
      if (task.status !== lastStatus) {
        out(
          `${task.id} ${task.status}${task.outcome && task.status !== 'running' ? ` (${task.outcome})` : ''}`,
        );
        lastStatus = task.status;
      }
    }
  } finally {
    events.abort();
  }
  return task;
}

/** Feeds event types to the spinner; best effort, since polling decides when the task is over. */
async function watchEvents(client: ApiClient, id: string, progress: Progress, signal: AbortSignal) {
  try {
    for await (const message of followEvents(client, id, { untilReplayed: false, signal })) {
      const event = JSON.parse(message.data) as StreamedEvent;
      if (event.type === 'status') progress.update({ status: String(event.data.status) });
      else progress.update({ lastEvent: event.type });
    }
  } catch {
    // the spinner just keeps its last event
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ExitError(
      EXIT.usage,
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}
