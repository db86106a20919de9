import { TASK_TYPES, type TaskSubmission, taskSubmissionSchema } from '../core/task-types.ts';
import { EXIT, ExitError } from './exit.ts';

/** `submit` flags, as commander parses them. */
export interface SubmitFlags {
  file?: string;
  type?: string;
  priority?: string;
  runAfter?: string;
  maxAttempts?: string;
  payload?: string;
  repository?: string;
  title?: string;
  description?: string;
  body?: string;
  diff?: string;
  prNumber?: string;
  issueNumber?: string;
  baseRef?: string;
  headRef?: string;
  ref?: string;
  focus?: string;
  path?: string[];
  criteria?: string[];
  dependsOn?: string[];
  dedupe?: boolean;
  batch?: boolean;
  agentCli?: string;
}

/**
 * Builds a submission from a JSON file (`--file`) and/or flags, flags winning, and validates it
 * with the server's own schema so mistakes are named here, field by field, before any request.
 */
export function buildSubmission(flags: SubmitFlags, readFile: (path: string) => string): TaskSubmission {
  const base = flags.file ? parseJson(readFile(flags.file), `--file ${flags.file}`) : {};
  const payload: Record<string, unknown> = {
    ...((base.payload as Record<string, unknown> | undefined) ?? {}),
    ...(flags.payload ? parseJson(flags.payload, '--payload') : {}),
  };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) payload[key] = value;
  };
  set('repository', flags.repository);
  set('title', flags.title);
  set('description', flags.description);
  set('body', flags.body);
  set('diff', flags.diff !== undefined ? readFile(flags.diff) : undefined);
  set('pr_number', integer(flags.prNumber, '--pr-number'));
  set('issue_number', integer(flags.issueNumber, '--issue-number'));
  set('base_ref', flags.baseRef);
  set('head_ref', flags.headRef);
  set('ref', flags.ref);
  set('focus', flags.focus);
  set('paths', flags.path?.length ? flags.path : undefined);
  set('acceptance_criteria', flags.criteria?.length ? flags.criteria : undefined);

  const candidate: Record<string, unknown> = { ...base, payload };
  if (flags.type !== undefined) candidate.type = flags.type.toUpperCase();
  if (flags.priority !== undefined) candidate.priority = integer(flags.priority, '--priority');
  if (flags.maxAttempts !== undefined) candidate.max_attempts = integer(flags.maxAttempts, '--max-attempts');
  if (flags.runAfter !== undefined) candidate.run_after = flags.runAfter;
  if (flags.dependsOn?.length) candidate.depends_on = flags.dependsOn;
  if (flags.dedupe) candidate.dedupe = true;
  if (flags.batch) candidate.batch = true;
  if (flags.agentCli !== undefined) candidate.agent_cli = flags.agentCli;
  if (candidate.type === undefined) {
    throw new ExitError(EXIT.usage, `missing --type (one of ${TASK_TYPES.join(', ')})`);
  }
  const parsed = taskSubmissionSchema.safeParse(candidate);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || 'task'}: ${issue.message}`);
    throw new ExitError(EXIT.usage, `invalid task:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

function parseJson(text: string, where: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch {
    // reported below
  }
  throw new ExitError(EXIT.usage, `${where}: expected a JSON object`);
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new ExitError(EXIT.usage, `${flag}: expected an integer, got "${value}"`);
  return Number(value);
}
