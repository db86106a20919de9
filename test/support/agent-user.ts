import { execFileSync } from 'node:child_process';

/** Why agents cannot run as another user here (AGENT_USER=nobody), or undefined when they can. */
export const noAgentUser = ((): string | undefined => {
  if (process.getuid?.() !== 0) return 'the supervisor must run as root to start agents as another user';
  try {
    execFileSync('id', ['-u', 'nobody'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'there is no user nobody on this host';
  }
})();
