import { isAbsolute, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Which tool calls of mutating tasks wait for a person (APPROVAL_POLICY_FILE, docs/agents.md).
 * The agent CLI asks the supervisor about every call it would otherwise refuse: a Bash command
 * outside the allowlist, an edit under a gated path. The first rule whose `repositories` match the
 * task's repository decides: a call it names waits for a person; anything else is refused, as
 * without a policy. Pure.
 *
 *   rules:
 *     - repositories: [acme/payments]      # globs; no list: every repository
 *       ask:
 *         bash: ["npm publish", "curl"]    # command prefixes, or "*" for any command outside the allowlist
 *         writes: ["migrations/**"]         # paths in the repository whose edits wait for a person
 *       timeout_seconds: 600                # no answer by then is a denial (default APPROVAL_TIMEOUT_SECONDS)
 */

const glob = z
  .string()
  .min(1)
  .max(300)
  .refine((value) => !value.startsWith('/') && !value.startsWith('~') && !value.split('/').includes('..'), {
    error: 'expected a path inside the repository, such as migrations/** (no leading / or ~, no ..)',
  });

const ruleSchema = z.strictObject({
  repositories: z.array(z.string().min(1).max(300)).min(1).optional(),
  ask: z.strictObject({
    bash: z.array(z.string().trim().min(1).max(300)).default([]),
    writes: z.array(glob).default([]),
  }),
  timeout_seconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .optional(),
});

const policySchema = z.strictObject({ rules: z.array(ruleSchema).default([]) });

export type ApprovalRule = z.infer<typeof ruleSchema>;
export type ApprovalPolicy = z.infer<typeof policySchema>;

export class ApprovalPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApprovalPolicyError';
  }
}

/** Reads a policy file's text (YAML or JSON); an invalid one is an error naming the bad field. */
export function parseApprovalPolicy(text: string, where = 'approval policy file'): ApprovalPolicy {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    throw new ApprovalPolicyError(
      `${where}: not valid YAML or JSON (${(error as Error).message.split('\n')[0]})`,
    );
  }
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ApprovalPolicyError(`${where} is invalid:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** A glob as a regular expression: `**` crosses `/`, `*` and `?` do not. */
function globRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i]!;
    if (char === '*' && pattern[i + 1] === '*') {
      // `dir/**` also matches `dir` itself; `**/x` matches `x` at any depth.
      const slash = pattern[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** `owner/name` of a repository given as a URL or `owner/name`; a local path stays as it is. */
function repositoryNames(repository: string): string[] {
  const trimmed = repository.replace(/\/+$/, '').replace(/\.git$/, '');
  const url = /^[a-z]+:\/\/[^/]+\/(.+)$/i.exec(trimmed) ?? /^[^@/\s]+@[^:]+:(.+)$/.exec(trimmed);
  return url ? [repository, url[1]!] : [repository, trimmed];
}

/** The rule that applies to a task on `repository`, if any. */
export function ruleFor(policy: ApprovalPolicy, repository: string): ApprovalRule | undefined {
  const names = repositoryNames(repository);
  return policy.rules.find(
    (rule) =>
      !rule.repositories ||
      rule.repositories.some((pattern) => names.some((name) => globRegExp(pattern).test(name))),
  );
}

/** What the policy says about one tool call the CLI asked about. */
export type PolicyVerdict = { ask: true; reason: string } | { ask: false; message: string };

const EDIT_TOOLS = new Set(['Edit', 'Write', 'MultiEdit', 'NotebookEdit']);

const refused = (what: string): PolicyVerdict => ({
  ask: false,
  message: `${what} It was not run; carry on without it, or say in your answer that it is needed.`,
});

/** Whether a tool call waits for a person (`ask`), or is refused with a message for the agent. */
export function judgeToolCall(
  rule: ApprovalRule | undefined,
  call: { tool: string; input: unknown },
  workspaceDir: string,
): PolicyVerdict {
  const input = (call.input ?? {}) as Record<string, unknown>;
  if (call.tool === 'Bash') {
    const command = String(input.command ?? '').trim();
    const prefix = rule?.ask.bash.find(
      (entry) => entry === '*' || command === entry || command.startsWith(`${entry} `),
    );
    if (prefix) {
      return {
        ask: true,
        reason:
          prefix === '*'
            ? 'a Bash command outside the allowlist (policy: ask bash "*")'
            : `a Bash command starting with "${prefix}" (policy: ask bash)`,
      };
    }
    return refused('This command is outside the allowlist of this task, and no one approves it here.');
  }
  if (EDIT_TOOLS.has(call.tool)) {
    const target = String(input.file_path ?? input.notebook_path ?? '');
    const path = relative(workspaceDir, resolve(workspaceDir, target));
    if (!target || path.startsWith('..') || isAbsolute(path)) {
      return refused('Edits outside the task’s workspace are not allowed.');
    }
    const gated = rule?.ask.writes.find((pattern) => globRegExp(pattern).test(path));
    if (gated) return { ask: true, reason: `an edit of ${path}, under ${gated} (policy: ask writes)` };
    return refused(`Editing ${path} is not allowed for this task.`);
  }
  return refused(
    `This ${call.tool} call is not allowed for this task (it reaches outside the task’s workspace, or needs a permission no one gives here).`,
  );
}
