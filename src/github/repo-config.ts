import { parse } from 'yaml';
import { z } from 'zod';
import { AGENT_CLIS } from '../core/agent-types.ts';

/**
 * A repository's own settings for the supervisor: `.github/supervisor.yml` on its default branch,
 * read as the repository's owners wrote it (a pull request cannot change it). Pure. A missing file
 * means the defaults; a file that cannot be read means nothing is done until it is fixed, since
 * it may be there to turn something off.
 */

export const REPO_CONFIG_PATH = '.github/supervisor.yml';

export const repoConfigSchema = z.strictObject({
  /** Review pull requests when opened, pushed to, reopened or marked ready. */
  reviews: z.boolean().default(true),
  /** Review drafts too (otherwise when marked ready). */
  review_drafts: z.boolean().default(false),
  /** Summarize every issue when it is opened. */
  summarize_new_issues: z.boolean().default(false),
  /** Take `@supervisor` commands, command labels and follow-ups. */
  commands: z.boolean().default(true),
  /** Prefer agents of this CLI for the repository's tasks (others take over when none can). */
  agent_cli: z.enum(AGENT_CLIS).optional(),
});
export type RepoConfig = z.infer<typeof repoConfigSchema>;

export const DEFAULT_REPO_CONFIG: RepoConfig = repoConfigSchema.parse({});

export type ParsedRepoConfig = { ok: true; config: RepoConfig } | { ok: false; error: string };

export function parseRepoConfig(text: string): ParsedRepoConfig {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    return {
      ok: false,
      error: `${REPO_CONFIG_PATH} is not YAML: ${(error as Error).message.split('\n')[0]}`,
    };
  }
  const parsed = repoConfigSchema.safeParse(document ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      error: `${REPO_CONFIG_PATH}: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`,
    };
  }
  return { ok: true, config: parsed.data };
}
