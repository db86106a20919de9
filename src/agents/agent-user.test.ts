import { describe, expect, it } from 'vitest';
import { resolveAgentUser } from './agent-user.ts';

describe.skipIf(process.getuid?.() !== 0)('AGENT_USER (needs root, as CI runs)', () => {
  it('resolves an unprivileged user to its uid and gid', () => {
    expect(resolveAgentUser('nobody')).toMatchObject({ name: 'nobody', uid: 65534 });
  });

  it('refuses root and unknown users, naming the problem', () => {
    expect(() => resolveAgentUser('root')).toThrow('AGENT_USER=root is root');
    expect(() => resolveAgentUser('no-such-user-here')).toThrow('no such user on this host');
  });
});
