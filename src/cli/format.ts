import type { ApprovalView, AttemptView, TaskView } from '../api/schemas.ts';

/** Plain-text renderings of API objects for the terminal. `--json` bypasses all of this. */

/** Every list a command prints with `--json` has one shape: `{ items, next_cursor }`. */
export function listJson(items: unknown[], nextCursor: string | null = null): string {
  return JSON.stringify({ items, next_cursor: nextCursor }, null, 2);
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function taskTable(tasks: TaskView[]): string {
  if (tasks.length === 0) return 'no tasks';
  return table(
    ['ID', 'STATUS', 'TYPE', 'PRIO', 'REPOSITORY', 'OUTCOME', 'COST', 'CREATED'],
    tasks.map((task) => [
      task.id,
      task.status,
      task.type,
      String(task.priority),
      task.repository,
      task.outcome ?? '-',
      `$${task.cost.usd.toFixed(4)}`,
      task.created_at.replace('T', ' ').slice(0, 19),
    ]),
  );
}

/** Continuation lines line up under the value column of `taskDetails`. */
const indent = (text: string) => text.replaceAll('\n', '\n           ');

/** A tool call in one line or a few: the command, or the file it edits. */
export function toolCallSummary(approval: Pick<ApprovalView, 'tool' | 'input'>): string {
  const input = (approval.input ?? {}) as Record<string, unknown>;
  if (typeof input.command === 'string') return input.command;
  if (typeof input.file_path === 'string') return input.file_path;
  return JSON.stringify(input);
}

export function taskDetails(task: TaskView, attempts: AttemptView[]): string {
  const lines = [
    `task       ${task.id}`,
    `type       ${task.type}   priority ${task.priority}${task.agent_cli ? `   prefers ${task.agent_cli}` : ''}`,
    `repository ${task.repository}`,
    `status     ${task.status}${task.outcome ? ` (outcome: ${task.outcome})` : ''}`,
    `attempts   ${task.attempts.count} (budget ${task.attempts.max})`,
    `cost       $${task.cost.usd.toFixed(4)}   tokens in ${task.cost.input_tokens} / out ${task.cost.output_tokens}`,
    `created    ${task.created_at}${task.finished_at ? `   finished ${task.finished_at}` : ''}`,
  ];
  if (task.park_reason) {
    lines.push(
      `waiting    ${task.park_reason}${task.parked_until ? ` until ${task.parked_until}` : ''}` +
        `${task.park_detail ? `: ${indent(task.park_detail)}` : ''}`,
    );
  }
  if (task.github) {
    const { repository, number, url, pull_url, review_url } = task.github;
    lines.push(
      `github     ${repository}#${number}${url ? ` ${url}` : ''}` +
        `${pull_url ? `\n           pull request ${pull_url}` : ''}${review_url ? `\n           review ${review_url}` : ''}`,
    );
  }
  if (task.error) lines.push(`error      ${task.error}`);
  if (task.question) lines.push(`question   ${indent(task.question)}`);
  const approval = task.awaiting_approval;
  if (approval) {
    lines.push(
      `approval   ${approval.tool}: ${indent(toolCallSummary(approval))}`,
      `           why: ${approval.reason}; denied at ${approval.expires_at} if nobody answers`,
      `           supervisor approve ${task.id}  ·  supervisor deny ${task.id} --note <why>`,
    );
  }
  for (const attempt of attempts) {
    const evidence = attempt.evidence as { signal?: string; detail?: string } | null;
    lines.push(
      `  #${attempt.number} ${attempt.outcome ?? 'running'}  ${attempt.driver}` +
        `${attempt.agent_id ? `/${attempt.agent_id}` : ''}  $${attempt.cost_usd.toFixed(4)}` +
        `${evidence?.signal ? `  [${evidence.signal}${evidence.detail ? `: ${evidence.detail}` : ''}]` : ''}`,
    );
  }
  if (task.result?.text) lines.push('', task.result.text);
  return lines.join('\n');
}
