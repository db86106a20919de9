import { describe, expect, it } from 'vitest';
import { type AgentSnapshot, admit, cooldownCovers, type TaskDemand } from './admission.ts';
import { agentSignal } from './agent-signals.ts';
import { estimateUsage } from './cost-estimate.ts';
import { windowResetsAt, windowStart } from './quota.ts';

/** A fake clock: every test states its own "now". */
const NOW = new Date('2026-11-24T10:00:00Z');
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

const agent = (id: string, overrides: Partial<AgentSnapshot> = {}): AgentSnapshot => ({
  id,
  cli: 'claude-code',
  credentialClass: 'api_key',
  models: ['claude-sonnet-4-5'],
  maxConcurrent: 2,
  state: 'active',
  running: 0,
  cooldowns: [],
  windows: [{ name: 'requests/5h', metric: 'requests', limit: 100, used: 0, resetsAt: at(300) }],
  ...overrides,
});
const task = (overrides: Partial<TaskDemand> = {}): TaskDemand => ({
  cli: 'claude-code',
  submittedBy: 'alice',
  estimate: { requests: 10, tokens: 50_000, usd: 0.5 },
  ...overrides,
});
const used = (n: number, resetsAt = at(300)) => [
  { name: 'requests/5h', metric: 'requests' as const, limit: 100, used: n, resetsAt },
];

describe('admission', () => {
  it('breaks ties by name so the same pool always gives the same answer', () => {
    const decision = admit(task(), [agent('b'), agent('a'), agent('c')], NOW);
    expect(decision).toMatchObject({ kind: 'admit', agentId: 'a', model: 'claude-sonnet-4-5' });
  });

  it('prefers the most headroom, then the soonest reset, then the fewest runs', () => {
    expect(
      admit(task(), [agent('a', { windows: used(50) }), agent('b', { windows: used(20) })], NOW),
    ).toMatchObject({
      agentId: 'b',
      reason: 'most headroom (70% left) of 2 eligible agents',
    });
    expect(
      admit(
        task(),
        [agent('a', { windows: used(20, at(200)) }), agent('b', { windows: used(20, at(100)) })],
        NOW,
      ),
    ).toMatchObject({ agentId: 'b' });
    expect(admit(task(), [agent('a', { running: 1 }), agent('b', { running: 0 })], NOW)).toMatchObject({
      agentId: 'b',
    });
  });

  it('takes the cheaper model when quota does not decide, whatever its CLI', () => {
    const opus = agent('a-opus', { models: ['claude-opus-4-8'] });
    const codex = agent('b-codex', { cli: 'codex', models: ['gpt-5.5-codex'] });
    const sonnet = agent('c-sonnet');
    expect(admit(task({ cli: undefined }), [opus, codex, sonnet], NOW)).toMatchObject({ agentId: 'b-codex' });
    expect(admit(task({ cli: undefined }), [opus, sonnet], NOW)).toMatchObject({ agentId: 'c-sonnet' });
    // Headroom still comes first.
    expect(admit(task({ cli: undefined }), [opus, { ...codex, windows: used(60) }], NOW)).toMatchObject({
      agentId: 'a-opus',
    });
  });

  it('keeps a retried task on the agent it ran on (session affinity), unless that agent cannot', () => {
    const pool = [agent('a'), agent('b', { windows: used(80) })];
    expect(admit(task({ previousAgentId: 'b' }), pool, NOW)).toMatchObject({
      agentId: 'b',
      reason: 'session affinity: the agent of the previous attempt',
    });
    const cooling = [
      agent('a'),
      agent('b', { cooldowns: [{ model: '*', until: at(5), reason: 'rate_limited' }] }),
    ];
    expect(admit(task({ previousAgentId: 'b' }), cooling, NOW)).toMatchObject({ agentId: 'a' });
  });

  it('uses a personal subscription seat only for its owner', () => {
    const seat = agent('seat', { credentialClass: 'subscription', owner: 'alice' });
    expect(admit(task({ submittedBy: 'alice' }), [seat], NOW)).toMatchObject({
      kind: 'admit',
      agentId: 'seat',
    });
    const refused = admit(task({ submittedBy: 'bob' }), [seat], NOW);
    expect(refused).toMatchObject({
      kind: 'park',
      because: 'no_agent',
      reason: expect.stringMatching(/^no agent runs claude-code for bob: add one to AGENTS_FILE/),
    });
    expect(refused).not.toHaveProperty('until');
    expect(refused.verdicts[0]!.blockers).toEqual([
      'personal subscription seat of alice; not pooled for bob',
    ]);
    expect(admit(task({ submittedBy: 'bob' }), [seat, agent('pooled')], NOW)).toMatchObject({
      agentId: 'pooled',
    });
  });

  it('matches the CLI and the requested model', () => {
    expect(
      admit(
        task({ model: 'claude-opus-4-8' }),
        [agent('a'), agent('b', { models: ['claude-opus-4-8'] })],
        NOW,
      ),
    ).toMatchObject({
      agentId: 'b',
      model: 'claude-opus-4-8',
    });
    expect(admit(task({ cli: 'codex' }), [agent('a')], NOW)).toMatchObject({
      kind: 'park',
      because: 'no_agent',
    });
  });

  it('takes any CLI unless one is required, prefers the submission’s CLI, and fails over when it cannot', () => {
    const claude = agent('a-claude', { windows: used(0) });
    const codex = agent('b-codex', { cli: 'codex', models: ['gpt-5.5-codex'], windows: used(50) });
    expect(admit(task({ cli: undefined }), [claude, codex], NOW)).toMatchObject({ agentId: 'a-claude' });
    // Preferred: ahead of more headroom.
    expect(admit(task({ cli: undefined, preferredCli: 'codex' }), [claude, codex], NOW)).toMatchObject({
      agentId: 'b-codex',
      model: 'gpt-5.5-codex',
      reason: 'most headroom (40% left) of 2 eligible agents',
    });
    // Its agents out of quota: another CLI's, and the decision says so.
    const exhausted = { ...codex, cooldowns: [{ model: '*', until: at(60), reason: 'quota_exhausted' }] };
    expect(admit(task({ cli: undefined, preferredCli: 'codex' }), [claude, exhausted], NOW)).toMatchObject({
      agentId: 'a-claude',
      reason: 'no codex agent can take it now, so claude-code: the only eligible agent',
    });
    // A required CLI is not a preference: nothing else will do.
    expect(admit(task({ cli: 'claude-code', preferredCli: 'codex' }), [codex], NOW)).toMatchObject({
      kind: 'park',
      because: 'no_agent',
    });
  });

  it('parks until the earliest reset when every agent is exhausted', () => {
    const pool = [agent('a', { windows: used(95, at(120)) }), agent('b', { windows: used(100, at(30)) })];
    const decision = admit(task(), pool, NOW);
    expect(decision).toMatchObject({ kind: 'park', because: 'quota', until: at(30) });
    expect(decision.verdicts.map((v) => v.blockers[0])).toEqual([
      'requests/5h: 95 of 100 requests used, needs 10 more',
      'requests/5h: 100 of 100 requests used, needs 10 more',
    ]);
  });

  it('lets a cooldown expire with the clock, and scopes it to its model', () => {
    const pool = [agent('a', { cooldowns: [{ model: '*', until: at(10), reason: 'quota_exhausted' }] })];
    expect(admit(task(), pool, NOW)).toMatchObject({ kind: 'park', until: at(10) });
    expect(admit(task(), pool, at(10))).toMatchObject({ kind: 'admit', agentId: 'a' });

    const opusOnly = [
      agent('a', {
        models: ['claude-opus-4-8', 'claude-sonnet-4-5'],
        cooldowns: [{ model: 'opus', until: at(60), reason: 'quota_exhausted' }],
      }),
    ];
    expect(admit(task({ model: 'claude-opus-4-8' }), opusOnly, NOW).kind).toBe('park');
    expect(admit(task({ model: 'claude-sonnet-4-5' }), opusOnly, NOW).kind).toBe('admit');
    expect(cooldownCovers('*', 'x')).toBe(true);
  });

  it('keeps a task queued while agents are only busy, rather than parking it', () => {
    expect(admit(task(), [agent('a', { running: 2 })], NOW)).toEqual(
      expect.objectContaining({ kind: 'wait', reason: expect.stringContaining('busy') }),
    );
    // One agent busy and one cooling down: the busy one frees first, so the task waits in the queue.
    const cooling = agent('b', { cooldowns: [{ model: '*', until: at(30), reason: 'rate_limited' }] });
    expect(admit(task(), [agent('a', { running: 2 }), cooling], NOW).kind).toBe('wait');
    // A paused agent does not count; the other's window resets at a known time.
    expect(
      admit(task(), [agent('a', { state: 'paused' }), agent('b', { windows: used(100, at(30)) })], NOW),
    ).toMatchObject({ kind: 'park', because: 'quota', until: at(30) });
  });

  it('parks for want of an agent, never refuses: none configured, all disabled or paused', () => {
    expect(admit(task(), [], NOW)).toMatchObject({
      kind: 'park',
      because: 'no_agent',
      reason: 'no agents are configured: set CLAUDE_API_KEYS or AGENTS_FILE and restart the supervisor',
    });
    const disabled = admit(task(), [agent('a', { state: 'disabled', stateReason: 'bad key' })], NOW);
    expect(disabled).toMatchObject({ kind: 'park', because: 'no_agent' });
    expect(disabled).not.toHaveProperty('until');
    expect(disabled.reason).toMatch(/^no enabled agent can run it \(a: disabled\).*supervisor agents resume/);
    expect(disabled.verdicts[0]!.blockers).toEqual(['disabled: bad key']);
    // Disabled and cooling down: no time helps until someone fixes the key.
    const both = agent('a', {
      state: 'disabled',
      cooldowns: [{ model: '*', until: at(5), reason: 'rate_limited' }],
    });
    expect(admit(task(), [both], NOW)).toMatchObject({ kind: 'park', because: 'no_agent' });
    expect(admit(task(), [agent('a', { state: 'paused' })], NOW)).toMatchObject({ because: 'no_agent' });
  });

  it('parks for budget when only dollar windows are full', () => {
    const dollars = [
      { name: 'daily budget', metric: 'usd' as const, limit: 1, used: 0.9, resetsAt: at(600) },
    ];
    expect(admit(task(), [agent('a', { windows: dollars })], NOW)).toMatchObject({
      kind: 'park',
      because: 'budget',
      until: at(600),
    });
  });

  it('lets one task into an unused window smaller than its estimate, not none', () => {
    const tiny = [{ name: 'requests/5h', metric: 'requests' as const, limit: 5, used: 0, resetsAt: at(300) }];
    expect(admit(task(), [agent('a', { windows: tiny })], NOW)).toMatchObject({ kind: 'admit' });
    const spent = [{ ...tiny[0]!, used: 5 }];
    expect(admit(task(), [agent('a', { windows: spent })], NOW)).toMatchObject({
      kind: 'park',
      because: 'quota',
      until: at(300),
    });
  });

  it('steers new work away from an agent with a quota warning', () => {
    const pool = [agent('a', { warningUntil: at(60) }), agent('b', { windows: used(40) })];
    expect(admit(task(), pool, NOW)).toMatchObject({ agentId: 'b' });
    expect(admit(task(), pool, at(61))).toMatchObject({ agentId: 'a' });
  });
});

describe('agent signals', () => {
  it('cools a rate-limited agent down for that model for the retry delay', () => {
    expect(
      agentSignal({ outcome: 'rate_limited', model: 'claude-sonnet-4-5', retryAfterMs: 90_000 }, NOW),
    ).toEqual({
      kind: 'cooldown',
      model: 'claude-sonnet-4-5',
      until: new Date(NOW.getTime() + 90_000),
      reason: 'rate_limited',
    });
  });

  it('exhausts a subscription until its window resets, per model family for weekly model windows', () => {
    expect(
      agentSignal({ outcome: 'quota_exhausted', resetsAt: at(45), rateLimitType: 'five_hour' }, NOW),
    ).toMatchObject({
      model: '*',
      until: at(45),
    });
    expect(
      agentSignal({ outcome: 'quota_exhausted', resetsAt: at(45), rateLimitType: 'seven_day_opus' }, NOW),
    ).toMatchObject({
      model: 'opus',
    });
  });

  it('disables an agent whose credential fails, and ignores what is not the account’s fault', () => {
    expect(agentSignal({ outcome: 'auth_failed', error: 'Invalid API key' }, NOW)).toEqual({
      kind: 'disable',
      reason: 'Invalid API key',
    });
    for (const outcome of ['infra_error', 'failed', 'succeeded', 'stalled'] as const) {
      expect(agentSignal({ outcome }, NOW)).toEqual({ kind: 'none' });
    }
  });
});

describe('quota windows and estimates', () => {
  const window = { name: 'w', metric: 'requests' as const, limit: 10, hours: 5, mode: 'fixed' as const };

  it('aligns fixed windows to their anchor and rolls rolling ones', () => {
    const anchor = new Date('2026-11-24T00:00:00Z');
    expect(windowStart(window, new Date('2026-11-24T07:30:00Z'), anchor)).toEqual(
      new Date('2026-11-24T05:00:00Z'),
    );
    expect(windowResetsAt(window, new Date('2026-11-24T07:30:00Z'), anchor, undefined)).toEqual(
      new Date('2026-11-24T10:00:00Z'),
    );
    const rolling = { ...window, mode: 'rolling' as const };
    expect(windowStart(rolling, NOW, new Date(0))).toEqual(new Date('2026-11-24T05:00:00Z'));
    expect(windowResetsAt(rolling, NOW, new Date(0), new Date('2026-11-24T06:00:00Z'))).toEqual(
      new Date('2026-11-24T11:00:00Z'),
    );
  });

  it('estimates from the repository first, then the type, then the default', () => {
    const usage = (usd: number) => ({ requests: 1, tokens: 1, usd });
    const fallback = usage(9);
    expect(
      estimateUsage(
        { sameRepository: { samples: 5, usage: usage(1) }, sameType: { samples: 50, usage: usage(2) } },
        fallback,
      ),
    ).toEqual({
      usage: usage(1),
      basis: 'repository',
    });
    expect(
      estimateUsage(
        { sameRepository: { samples: 2, usage: usage(1) }, sameType: { samples: 50, usage: usage(2) } },
        fallback,
      ).basis,
    ).toBe('type');
    expect(estimateUsage({}, fallback)).toEqual({ usage: fallback, basis: 'default' });
  });
});
