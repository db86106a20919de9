import { z } from 'zod';
import { AGENT_CLIS } from './agent-types.ts';
import { isoDateTime } from './timestamps.ts';

/** The kinds of work an agent can be asked to do. Spelled as they appear in the API and the DB. */
export const TASK_TYPES = [
  'PR_REVIEW',
  'ISSUE_SUMMARY',
  'CODE_ANALYSIS',
  'REFACTOR',
  'BUG_FIX',
  'FEATURE',
] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** Types whose agent only reads: they get read-only tools and may run with high concurrency. */
export const READ_ONLY_TASK_TYPES: ReadonlySet<TaskType> = new Set([
  'PR_REVIEW',
  'ISSUE_SUMMARY',
  'CODE_ANALYSIS',
]);

export const isMutatingTaskType = (type: TaskType): boolean => !READ_ONLY_TASK_TYPES.has(type);

/** Size limits on untrusted text; they keep one task from filling the database or a prompt. */
export const LIMITS = {
  shortTextChars: 500,
  longTextChars: 100_000,
  diffChars: 500_000,
  listItems: 200,
  pathChars: 1000,
} as const;

/**
 * A repository reference: `owner/repo`, a git URL (https, ssh, file) or an absolute local path.
 * Anything with `..` segments is refused so a task can never point outside where it claims.
 */
export const repositorySchema = z
  .string()
  .min(1)
  .max(LIMITS.pathChars)
  .refine((value) => !value.split(/[\\/]/).includes('..'), { error: 'must not contain ".." path segments' })
  .refine(
    (value) =>
      /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(value) ||
      /^(https?|ssh|git|file):\/\/\S+$/.test(value) ||
      /^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:\S+$/.test(value) ||
      value.startsWith('/'),
    {
      error: 'expected owner/repo, a git URL (https://, ssh://, git@host:path, file://) or an absolute path',
    },
  );

const shortText = z.string().min(1).max(LIMITS.shortTextChars);
const longText = z.string().max(LIMITS.longTextChars);
/** A path inside a repository: relative, with no `..` segment. */
export const relativePath = z
  .string()
  .min(1)
  .max(LIMITS.pathChars)
  .refine((value) => !value.startsWith('/') && !value.split(/[\\/]/).includes('..'), {
    error: 'expected a path relative to the repository root, without ".." segments',
  });
const pathList = z.array(relativePath).max(LIMITS.listItems);
const gitRef = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._/@^~-]+$/, { error: 'expected a git ref (branch, tag or commit)' })
  .refine((value) => !value.startsWith('-'), { error: 'must not start with "-"' });

export const prReviewPayload = z
  .strictObject({
    repository: repositorySchema,
    pr_number: z.number().int().positive().optional(),
    title: shortText,
    description: longText.optional(),
    diff: z.string().min(1).max(LIMITS.diffChars).optional(),
    base_ref: gitRef.optional(),
    head_ref: gitRef.optional(),
  })
  .refine((p) => p.diff !== undefined || p.head_ref !== undefined, {
    error: 'give either diff or head_ref (with an optional base_ref) so there is something to review',
    path: ['diff'],
  })
  // The same rule in the OpenAPI document, where JSON Schema can say it.
  .meta({ anyOf: [{ required: ['diff'] }, { required: ['head_ref'] }] });

export const issueSummaryPayload = z.strictObject({
  repository: repositorySchema,
  issue_number: z.number().int().positive().optional(),
  title: shortText,
  body: longText,
  comments: z.array(longText).max(LIMITS.listItems).optional(),
});

export const codeAnalysisPayload = z.strictObject({
  repository: repositorySchema,
  ref: gitRef.optional(),
  paths: pathList.optional(),
  focus: shortText.optional(),
});

/** A branch name git accepts (git check-ref-format --branch), without the rarer forms. */
const branchName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._/-]*$/, {
    error: 'expected a branch name: letters, digits, ".", "_", "-" and "/", starting with a letter or digit',
  })
  .refine((value) => !/\.\.|\/\/|\/\.|[./]$|\.lock$/.test(value), {
    error: 'not a branch name git accepts (no "..", "//", "/." or a trailing "/", "." or ".lock")',
  });

/** REFACTOR, BUG_FIX and FEATURE share a shape: what to change, where, and how to tell it is done. */
export const changePayload = z.strictObject({
  repository: repositorySchema,
  base_ref: gitRef.optional(),
  description: z.string().min(1).max(LIMITS.longTextChars),
  paths: pathList.optional(),
  acceptance_criteria: z
    .array(
      z
        .string()
        .min(1)
        .max(LIMITS.shortTextChars * 4),
    )
    .max(LIMITS.listItems)
    .optional(),
  push_branch: branchName
    .optional()
    .describe(
      'After a successful run, push the change to the repository as this branch (a fast-forward only: ' +
        'a branch someone else moved is never overwritten). The task fails, its work kept, if the push does',
    ),
});

export const PAYLOAD_SCHEMAS = {
  PR_REVIEW: prReviewPayload,
  ISSUE_SUMMARY: issueSummaryPayload,
  CODE_ANALYSIS: codeAnalysisPayload,
  REFACTOR: changePayload,
  BUG_FIX: changePayload,
  FEATURE: changePayload,
} as const satisfies Record<TaskType, z.ZodType>;

export type PrReviewPayload = z.infer<typeof prReviewPayload>;
export type IssueSummaryPayload = z.infer<typeof issueSummaryPayload>;
export type CodeAnalysisPayload = z.infer<typeof codeAnalysisPayload>;
export type ChangePayload = z.infer<typeof changePayload>;
export type TaskPayload = PrReviewPayload | IssueSummaryPayload | CodeAnalysisPayload | ChangePayload;

export const PRIORITY = { min: 1, max: 10, default: 5 } as const;

const submissionOptions = {
  priority: z
    .number()
    .int()
    .min(PRIORITY.min)
    .max(PRIORITY.max)
    .default(PRIORITY.default)
    .describe('1 (least urgent) to 10 (most urgent)'),
  run_after: isoDateTime.optional().describe('Do not start before this time (ISO 8601)'),
  max_attempts: z.number().int().min(1).max(20).optional().describe('Attempts for the task’s own failures'),
  max_cost_usd: z
    .number()
    .positive()
    .max(10_000)
    .optional()
    .describe('Spend limit of the whole task, across attempts'),
  max_duration_seconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .optional()
    .describe(
      'Wall-clock limit of a run of the task, from its first start (a retry or a message starts a new run)',
    ),
  agent_cli: z
    .enum(AGENT_CLIS, { error: `expected one of ${AGENT_CLIS.join(', ')}` })
    .optional()
    .describe(
      'Prefer agents of this CLI. When none of them can take the task now (out of quota, busy, disabled) it ' +
        'runs on an agent of another CLI, told what was done so far. A task under an approval rule runs on ' +
        'claude-code whatever this says',
    ),
  // Optional rather than defaulting to false: a default would enter the idempotency request hash
  // and turn replays of requests stored before this option existed into 409s.
  dedupe: z
    .boolean()
    .optional()
    .describe(
      'Return the existing task (200, `Deduplicated: true`) instead of running again when a task with the ' +
        'same type and payload (repository and refs as given, not resolved commits) was submitted within ' +
        'DEDUP_WINDOW_SECONDS and did not fail or get cancelled',
    ),
  // Optional for the same reason as `dedupe`.
  batch: z
    .boolean()
    .optional()
    .describe(
      'Read-only types only: let this task run as one item of an agent session shared with other `batch` ' +
        'tasks of the same type and repository (and refs), up to BATCH_SIZE per session; it waits up to ' +
        'BATCH_INTERVAL_SECONDS for companions. It still gets its own result, outcome and cost share ' +
        '(see docs/batching.md). Not with max_cost_usd or max_duration_seconds',
    ),
};

/** At most this many dependencies per task, and this many tasks per batch. */
export const DEPENDENCY_LIMITS = { dependsOn: 20, batchTasks: 50 } as const;

/** The same submission for every task type, with `extra` fields; the type selects the payload schema. */
const submissionUnion = <Extra extends z.ZodRawShape>(extra: Extra) =>
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('PR_REVIEW'), payload: prReviewPayload, ...extra }),
    z.strictObject({ type: z.literal('ISSUE_SUMMARY'), payload: issueSummaryPayload, ...extra }),
    z.strictObject({ type: z.literal('CODE_ANALYSIS'), payload: codeAnalysisPayload, ...extra }),
    z.strictObject({ type: z.literal('REFACTOR'), payload: changePayload, ...extra }),
    z.strictObject({ type: z.literal('BUG_FIX'), payload: changePayload, ...extra }),
    z.strictObject({ type: z.literal('FEATURE'), payload: changePayload, ...extra }),
  ]);

/** A task submission: the type selects which payload schema applies. */
export const taskSubmissionSchema = submissionUnion({
  ...submissionOptions,
  // Optional for the same reason as `dedupe`: the idempotency request hash stays as it was.
  depends_on: z
    .array(z.uuid({ error: 'expected a task id (UUID)' }))
    .max(DEPENDENCY_LIMITS.dependsOn)
    .optional()
    .describe(
      'Ids of tasks that must succeed before this one starts; it waits (status `waiting`) until then, ' +
        'and fails with outcome `dependency_failed` if one of them fails or is cancelled',
    ),
});

export type TaskSubmission = z.output<typeof taskSubmissionSchema>;

/**
 * A key naming a task within a batch. UUIDs are refused so a `depends_on` entry is never ambiguous
 * between a batch key and an existing task's id.
 */
const batchKey = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected 1 to 64 letters, digits, "_", "." or "-"' })
  .refine((key) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key), {
    error: 'must not be a UUID (depends_on entries in that form name existing tasks)',
  });

// `dedupe` is left out: returning an existing task in place of one the graph's edges point to
// would silently rewire the graph.
const { dedupe: _notInBatches, ...batchOptions } = submissionOptions;

/** A task of a batch: a submission with a key, depending on keys of the batch or existing task ids. */
export const batchTaskSchema = submissionUnion({
  ...batchOptions,
  key: batchKey.describe('Names this task within the batch, for `depends_on` of the others'),
  depends_on: z
    .array(z.string().min(1).max(64))
    .max(DEPENDENCY_LIMITS.dependsOn)
    .optional()
    .describe('Keys of tasks in this batch, or ids of existing tasks, that must succeed first'),
});

export const batchSubmissionSchema = z.strictObject({
  tasks: z.array(batchTaskSchema).min(1).max(DEPENDENCY_LIMITS.batchTasks),
});

export type BatchTaskSubmission = z.output<typeof batchTaskSchema>;
export type BatchSubmission = z.output<typeof batchSubmissionSchema>;
