import { describe, expect, it } from 'vitest';
import { judgeToolCall, parseApprovalPolicy, ruleFor } from './approval-policy.ts';

const policy = parseApprovalPolicy(`
rules:
  - repositories: [acme/payments, "https://git.example.com/ops/*"]
    ask:
      bash: [npm publish, curl]
      writes: [migrations/**, .github/workflows/*.yml]
    timeout_seconds: 60
  - ask:
      bash: ["*"]
`);

describe('approval policy', () => {
  it('picks the first rule whose repositories match, by owner/name or URL', () => {
    expect(ruleFor(policy, 'acme/payments')?.timeout_seconds).toBe(60);
    expect(ruleFor(policy, 'https://github.com/acme/payments.git')?.timeout_seconds).toBe(60);
    expect(ruleFor(policy, 'https://git.example.com/ops/deploy')?.timeout_seconds).toBe(60);
    expect(ruleFor(policy, 'acme/web')?.ask.bash).toEqual(['*']);
    expect(ruleFor(parseApprovalPolicy('rules: []'), 'acme/web')).toBeUndefined();
  });

  it('asks about the Bash commands a rule names and refuses the rest', () => {
    const rule = ruleFor(policy, 'acme/payments');
    expect(judgeToolCall(rule, { tool: 'Bash', input: { command: 'npm publish --dry-run' } }, '/w')).toEqual({
      ask: true,
      reason: 'a Bash command starting with "npm publish" (policy: ask bash)',
    });
    // A prefix is a whole word: `curly` is not `curl`.
    const other = judgeToolCall(rule, { tool: 'Bash', input: { command: 'curly x' } }, '/w');
    expect(other).toMatchObject({ ask: false, message: expect.stringContaining('outside the allowlist') });
    expect(judgeToolCall(undefined, { tool: 'Bash', input: { command: 'ls' } }, '/w').ask).toBe(false);
    expect(judgeToolCall(ruleFor(policy, 'x/y'), { tool: 'Bash', input: { command: 'ls' } }, '/w')).toEqual({
      ask: true,
      reason: 'a Bash command outside the allowlist (policy: ask bash "*")',
    });
  });

  it('asks about edits under gated paths inside the workspace only', () => {
    const rule = ruleFor(policy, 'acme/payments');
    const edit = (file_path: string) => judgeToolCall(rule, { tool: 'Write', input: { file_path } }, '/w');
    expect(edit('/w/migrations/001.sql')).toEqual({
      ask: true,
      reason: 'an edit of migrations/001.sql, under migrations/** (policy: ask writes)',
    });
    expect(edit('migrations/a/b.sql').ask).toBe(true);
    expect(edit('/w/.github/workflows/ci.yml').ask).toBe(true);
    expect(edit('/w/.github/workflows/sub/ci.yml').ask).toBe(false);
    expect(edit('/w/../etc/passwd')).toMatchObject({
      ask: false,
      message: expect.stringContaining('outside'),
    });
    expect(edit('/etc/passwd').ask).toBe(false);
    expect(judgeToolCall(rule, { tool: 'WebFetch', input: {} }, '/w')).toMatchObject({ ask: false });
  });

  it('names the bad field of an invalid file', () => {
    expect(() => parseApprovalPolicy('rules:\n  - ask: { writes: [/etc/**] }')).toThrow(
      /rules\.0\.ask\.writes\.0: expected a path inside the repository/,
    );
    expect(() => parseApprovalPolicy('rules:\n  - ask: {}\n    timeout: 5')).toThrow(/rules\.0/);
    expect(() => parseApprovalPolicy('rules: [')).toThrow(/not valid YAML or JSON/);
    expect(parseApprovalPolicy('').rules).toEqual([]);
  });
});
