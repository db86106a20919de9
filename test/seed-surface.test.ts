import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { channelsFromConfig, routesFromConfig } from '../src/notify/setup.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';

/**
 * People who come from the seed project (the Python "Supervisor Coding Agent") bring its README's
 * curl lines and its `.env`. Both are copied here verbatim from the seed's README.
 */

/** The seed README's "Configuration" block, then its "Production-specific variables". */
const SEED_ENV = `# Database
DATABASE_URL=postgresql://user:password@localhost:5432/supervisor_agent

# Redis
REDIS_URL=redis://localhost:6379/0

# Claude Configuration
CLAUDE_API_KEYS=key1,key2,key3
CLAUDE_QUOTA_LIMIT_PER_AGENT=1000
CLAUDE_QUOTA_RESET_HOURS=24

# Notifications
SLACK_BOT_TOKEN=xoxb-your-token
SLACK_CHANNEL=#alerts
EMAIL_SMTP_HOST=smtp.gmail.com
EMAIL_USERNAME=your-email@gmail.com
EMAIL_PASSWORD=your-app-password
APP_DEBUG=false
LOG_LEVEL=INFO
WORKER_CONCURRENCY=4
BATCH_SIZE=10
BATCH_INTERVAL_SECONDS=60
`;

/** The seed README's curl lines, as they appear there. */
const SEED_CURLS = `curl http://localhost:8000/api/v1/healthz
curl http://localhost:8000/api/v1/health/detailed
curl -X POST "http://localhost:8000/api/v1/tasks" \\
  -H "Content-Type: application/json" \\
  -d '{
    "type": "PR_REVIEW",
    "payload": {
      "repository": "owner/repo",
      "pr_number": 123,
      "title": "Fix user authentication",
      "description": "Updates login flow",
      "diff": "--- a/auth.py\\n+++ b/auth.py\\n@@ -1,3 +1,3 @@\\n-old\\n+new"
    },
    "priority": 8
  }'
curl "http://localhost:8000/api/v1/tasks/1"
curl "http://localhost:8000/api/v1/healthz"
curl "http://localhost:8000/api/v1/agents/quota/status"
curl http://localhost:8000/api/v1/agents/quota/status
`;

/** One curl command line (continuations joined), run by the shell with the test server's address. */
async function runCurl(command: string, baseUrl: string): Promise<{ status: number; body: string }> {
  const line = command.replaceAll('http://localhost:8000', baseUrl);
  // Asynchronously: the server answering it runs in this process.
  const { stdout } = await promisify(execFile)('sh', [
    '-c',
    `${line} --silent --show-error --max-time 30 --write-out '\\n%{http_code}'`,
  ]);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

describe("the seed project's surface", () => {
  it("takes the seed's .env as it is, with the seed's meaning", () => {
    const dir = mkdtempSync(join(tmpdir(), 'seed-env-'));
    const envFile = join(dir, '.env');
    writeFileSync(envFile, SEED_ENV);
    const config = loadConfig({ env: {}, envFile });
    expect(config.SLACK_CHANNEL).toBe('#alerts');
    expect(config).toMatchObject({
      LOG_LEVEL: 'info',
      APP_DEBUG: false,
      CLAUDE_API_KEYS: ['key1', 'key2', 'key3'],
      CLAUDE_QUOTA_LIMIT_PER_AGENT: 1000,
      CLAUDE_QUOTA_RESET_HOURS: 24,
      WORKER_CONCURRENCY: 4,
      BATCH_SIZE: 10,
      BATCH_INTERVAL_SECONDS: 60,
    });
    // Slack is on; email has no recipient in the seed's block, so it is off, and says so.
    const { channels, warnings } = channelsFromConfig(config, routesFromConfig(config));
    expect([...channels.keys()]).toEqual(['slack']);
    expect(warnings).toEqual([
      'email notifications are off: EMAIL_SMTP_HOST is set but no recipient (set EMAIL_TO)',
    ]);
    // With a recipient, the sender is the seed's EMAIL_USERNAME.
    const withTo = loadConfig({ env: { EMAIL_TO: 'team@example.com' }, envFile });
    expect([...channelsFromConfig(withTo, routesFromConfig(withTo)).channels.keys()]).toEqual([
      'slack',
      'email',
    ]);
    // Python's level names, in any case, and APP_DEBUG=true for debug output.
    expect(loadConfig({ env: { LOG_LEVEL: 'WARNING' } }).LOG_LEVEL).toBe('warn');
    expect(loadConfig({ env: { APP_DEBUG: 'True' } }).LOG_LEVEL).toBe('debug');
    expect(loadConfig({ env: { APP_DEBUG: 'true', LOG_LEVEL: 'error' } }).LOG_LEVEL).toBe('error');
  });

  describe("the seed README's curl lines against a running supervisor", () => {
    let test: TestSupervisor;
    const answers = new Map<string, { status: number; body: string }>();
    beforeAll(async () => {
      test = await startTestSupervisor('pglite', { listen: true });
      // A command starts on a line beginning with `curl`; a quoted body may span lines.
      const commands = SEED_CURLS.replaceAll('\\\n', ' ')
        .split(/\n(?=curl )/)
        .map((command) => command.trim());
      for (const command of commands) answers.set(command, await runCurl(command, test.url));
    });
    afterAll(() => test?.stop());
    const answer = (start: string) =>
      [...answers.entries()].find(([command]) => command.startsWith(start))![1];

    it('answers the probes at the seed paths as at ours', () => {
      expect(answer('curl http://localhost:8000/api/v1/healthz')).toEqual({
        status: 200,
        body: '{"status":"ok"}',
      });
      expect(answer('curl http://localhost:8000/api/v1/health/detailed').status).toBe(200);
      expect(JSON.parse(answer('curl http://localhost:8000/api/v1/health/detailed').body)).toMatchObject({
        status: 'ok',
        components: { database: { status: 'ok' }, agents: { status: 'ok' } },
      });
    });

    it('accepts the seed task submission and shows the quota status', () => {
      const submitted = answer('curl -X POST');
      expect(submitted.status).toBe(201);
      expect(JSON.parse(submitted.body)).toMatchObject({
        type: 'PR_REVIEW',
        priority: 8,
        repository: 'owner/repo',
      });
      expect(answer('curl "http://localhost:8000/api/v1/agents/quota/status"').status).toBe(200);
    });

    it('says what is wrong with a seed-style numeric task id', () => {
      const byNumber = answer('curl "http://localhost:8000/api/v1/tasks/1"');
      expect(byNumber.status).toBe(400);
      expect(JSON.parse(byNumber.body).error.message).toMatch(/uuid|UUID/);
    });
  });
});
