import { ATTEMPT_MARKER } from './attempt-processes.ts';

/**
 * What every agent CLI's environment holds besides its own settings: commits the agent makes are
 * attributed to the supervisor, git never prompts, every process carries the attempt's marker
 * (attempt-processes.ts), and a worktree owned by another user than the agent's is trusted.
 */
export function commonAgentEnv(input: {
  gitIdentity: { name: string; email: string };
  attemptId: string;
  /** A worktree the agent's git should trust although another user owns its git directory (AGENT_USER). */
  gitSafeDirectory?: string;
}): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: input.gitIdentity.name,
    GIT_AUTHOR_EMAIL: input.gitIdentity.email,
    GIT_COMMITTER_NAME: input.gitIdentity.name,
    GIT_COMMITTER_EMAIL: input.gitIdentity.email,
    GIT_TERMINAL_PROMPT: '0',
    [ATTEMPT_MARKER]: input.attemptId,
    ...(input.gitSafeDirectory
      ? {
          GIT_CONFIG_COUNT: '1',
          GIT_CONFIG_KEY_0: 'safe.directory',
          GIT_CONFIG_VALUE_0: input.gitSafeDirectory,
        }
      : {}),
  };
}
