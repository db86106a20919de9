import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScriptedModelServer, startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { processesUnder } from './support/agent-processes.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { scriptedClaudeEnv, startTestSupervisor, type TestSupervisor } from './support/harness.ts';

/**
 * The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core) against
 * a real supervisor: the BUG_FIX task runs the real Claude Code CLI with scripted model answers.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../test-artifacts/dashboard/', import.meta.url).pathname;
const haveChromium = existsSync(CHROMIUM);
// In CI the browser test must run: a missing Chromium fails it there instead of skipping.
const skip = !haveChromium && !process.env.CI;
if (skip) console.warn(`dashboard browser tests skipped: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

const shot = (page: Page, name: string) =>
  page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });

/** Form controls on the page that have no label (label element, aria-label or aria-labelledby). */
// Browser-side code is passed as text: this project's TypeScript has no DOM types.
const unlabelledControls = (page: Page) =>
  page.evaluate(`[...document.querySelectorAll('input, select, textarea')]
    .filter((control) => control.type !== 'hidden')
    .filter((control) => !(control.labels?.length || control.getAttribute('aria-label') || control.getAttribute('aria-labelledby')))
    .map((control) => control.outerHTML)`) as Promise<string[]>;

/**
 * Resolves once the page has had no request in flight for half a second, the event streams aside
 * (they stay open, so Playwright's `networkidle` never comes on pages that show live data).
 */
function whenQuiet(page: Page): () => Promise<void> {
  const inFlight = new Set<unknown>();
  const isStream = (url: string) => /\/api\/v1\/tasks\/(changes|[0-9a-f-]{36}\/events)(\?|$)/.test(url);
  page.on('request', (request) => {
    if (!isStream(request.url())) inFlight.add(request);
  });
  page.on('requestfinished', (request) => inFlight.delete(request));
  page.on('requestfailed', (request) => inFlight.delete(request));
  return async () => {
    await page.waitForLoadState('load');
    let quietSince = Date.now();
    await expect
      .poll(
        () => {
          if (inFlight.size) quietSince = Date.now();
          return Date.now() - quietSince >= 500;
        },
        { timeout: 30_000, interval: 100 },
      )
      .toBe(true);
  };
}

describe.skipIf(skip)('the dashboard in a browser', () => {
  let browser: Browser;
  let model: ScriptedModelServer;
  let dev: TestSupervisor | undefined;
  let tokens: TestSupervisor | undefined;
  const source = createSourceRepo({
    'calc.js': 'export function add(a, b) {\n  return a - b;\n}\n',
    'README.md': '# calc\n',
  });

  const key = `sk-dashboard-${Date.now()}`;
  // `node` in this repository waits for a person.
  const approvalPolicy = join(mkdtempSync(join(tmpdir(), 'approvals-')), 'approvals.yml');
  writeFileSync(approvalPolicy, `rules:\n  - repositories: ["${source.path}"]\n    ask: { bash: [node] }\n`);
  const post = async (path: string, body?: unknown) =>
    fetch(`${dev!.url}/api/v1${path}`, {
      method: 'POST',
      ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    model = await startScriptedModelServer();
    model.script(key, [
      steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }]),
      steps.toolUse([
        {
          name: 'Edit',
          input: { file_path: '{{cwd}}/calc.js', old_string: 'return a - b;', new_string: 'return a + b;' },
        },
      ]),
      steps.text('Fixed add(): it subtracted instead of adding.'),
    ]);
    [browser, dev] = await Promise.all([
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      }),
      // One process on loopback: development mode, no token needed, local repository paths allowed.
      startTestSupervisor('pglite', {
        listen: true,
        env: {
          ...scriptedClaudeEnv(model.url, key),
          CLAUDE_API_TIMEOUT_MS: '2000',
          AGENT_IDLE_TIMEOUT_SECONDS: '5',
          TASK_MAX_ATTEMPTS: '1',
          WORKSPACE_RETENTION_HOURS: '1',
          APPROVAL_POLICY_FILE: approvalPolicy,
        },
      }),
    ]);
  });
  afterAll(async () => {
    const leftovers = dev ? processesUnder(dev.dataDir) : [];
    await Promise.all([browser?.close(), dev?.stop(), tokens?.stop()]);
    await model?.close();
    expect(leftovers, 'agent processes left behind').toEqual([]);
  });

  it('submits a BUG_FIX through the form, watches it go live to succeeded, opens its diff and the agents page', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));

    // The static files come with their security headers.
    const home = await page.goto(`${dev!.url}/#/submit`);
    expect(home!.headers()['content-security-policy']).toContain("default-src 'self'");
    expect(home!.headers()['x-content-type-options']).toBe('nosniff');
    expect((await fetch(`${dev!.url}/ui/app.js`)).headers.get('content-type')).toContain('text/javascript');
    expect((await fetch(`${dev!.url}/ui/nope.js`)).status).toBe(404);

    await page.getByRole('heading', { name: 'Submit a task' }).waitFor();
    await expect.poll(() => page.locator('#session').textContent()).toBe('Development mode (no token)');
    await page.getByLabel('Type').selectOption('BUG_FIX');
    await page.getByLabel('Repository', { exact: true }).fill(source.path);
    await page
      .getByLabel('Description', { exact: true })
      .fill('add() returns the difference instead of the sum');
    await page.getByLabel('Acceptance criteria').fill('add(2, 3) is 5');
    await shot(page, '01-submit');
    await page.getByRole('button', { name: 'Submit task' }).click();

    await page.waitForURL(/#\/tasks\/[0-9a-f-]{36}$/);
    const id = new URL(page.url()).hash.slice('#/tasks/'.length);
    // A marker on the window: it survives only if the page is never reloaded.
    await page.evaluate('window.__noReload = true');
    // Before it has an outcome the header shows the status alone (it once read "running null").
    await page.locator('#task-status .badge').waitFor();
    expect(await page.locator('.task-header').textContent()).not.toContain('null');

    const events = page.locator('ol.events > li');
    await events.first().waitFor();
    await page.locator('#task-status').getByText('succeeded').waitFor({ timeout: 50_000 });
    expect(await page.evaluate('window.__noReload')).toBe(true);
    // The stream carried the run: the status changes, the agent's turns and its result.
    await expect.poll(() => events.count()).toBeGreaterThan(4);
    const eventTypes = await page.locator('ol.events .event-type').allTextContents();
    expect(eventTypes).toContain('status');
    expect(eventTypes, eventTypes.join(' ')).toContain('result/success');
    expect(eventTypes).toContain('assistant');
    await expect.poll(() => page.locator('ol.events').textContent()).toContain('→ succeeded');
    await page.getByText('Fixed add(): it subtracted instead of adding.', { exact: true }).first().waitFor();
    expect(await page.locator('section', { hasText: 'Attempts' }).locator('tbody tr').count()).toBe(1);

    await page.getByRole('button', { name: 'Show diff' }).click();
    const diff = page.locator('pre.diff');
    await diff.getByText('+  return a + b;').waitFor();
    expect(await diff.textContent()).toContain('-  return a - b;');
    expect(await page.locator('#diff-title + p').textContent()).toContain(`supervisor/${id}`);
    await shot(page, '02-task-succeeded-with-diff');

    // The tasks list shows it, live.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tasks' }).click();
    const row = page.locator('tbody tr', { hasText: id.slice(0, 8) });
    await row.getByText('succeeded').first().waitFor();
    expect(await row.textContent()).toContain('BUG_FIX');
    await shot(page, '03-tasks');

    await page.getByRole('link', { name: 'Agents' }).click();
    const agent = page.locator('article.agent', { has: page.getByRole('heading', { name: 'claude-1' }) });
    await agent.waitFor();
    expect(await agent.locator('.badge').first().textContent()).toBe('active');
    expect(await agent.locator('meter').count()).toBeGreaterThan(0);
    await expect
      .poll(() => agent.locator('.gauge .countdown').first().textContent())
      .toMatch(/^resets in \d/);
    expect(await agent.getByRole('button', { name: 'Pause claude-1' }).isEnabled()).toBe(true);
    await shot(page, '04-agents');

    await page.getByRole('link', { name: 'Charts' }).click();
    await page.getByRole('img', { name: /Throughput/ }).waitFor();
    expect(await page.locator('.chart svg rect').count()).toBeGreaterThan(0);
    await shot(page, '05-charts');

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.locator('tbody tr', { hasText: 'task.submitted' }).first().waitFor();
    expect(await page.locator('main').textContent()).not.toMatch(/\bnull\b/);
    await shot(page, '06-audit');

    // The finished BUG_FIX left what it did in its repository's memory.
    await page.getByRole('link', { name: 'Memory' }).click();
    const entry = page.locator('tbody tr', { hasText: 'BUG_FIX:' }).first();
    await entry.waitFor();
    expect(await entry.locator('code').first().textContent()).toBe('change');
    expect(await entry.locator('.badge').textContent()).toBe('current');
    await page.getByLabel('Words').fill('nothing-matches-this');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No memory entries match.').waitFor();
    // A page with nothing more to load shows no stray "null" where its button would be.
    expect(await page.locator('main').textContent()).not.toMatch(/\bnull\b/);
    await shot(page, '07-memory');

    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows the question of a task that needs input, takes the answer, and shows why a waiting task waits', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });

    model.script(key, [
      steps.text('I read calc.js.\n\nShould add() also accept strings?'),
      // The answered run, in the same session.
      steps.toolUse([
        { name: 'Write', input: { file_path: '{{cwd}}/NUMBERS.md', content: 'add() takes numbers only.\n' } },
      ]),
      steps.text('Noted: add() takes numbers only.'),
    ]);
    const asked = (await (
      await post('/tasks', {
        type: 'REFACTOR',
        payload: { repository: source.path, description: 'tidy add()' },
      })
    ).json()) as { id: string };
    await dev!.waitForStatus(asked.id, ['failed', 'succeeded'], 60_000);
    await page.goto(`${dev!.url}/#/tasks/${asked.id}`);
    await page.locator('blockquote.question').getByText('Should add() also accept strings?').waitFor();
    expect(await page.locator('.task-header').textContent()).toContain('needs_input');
    await shot(page, '08-task-needs-input');

    // The inbox lists the question and leads to the task.
    await page.goto(`${dev!.url}/#/inbox`);
    await page.locator('.inbox').getByText('Should add() also accept strings?').waitFor();
    await page.locator('.inbox a', { hasText: asked.id.slice(0, 8) }).click();
    await page.locator('blockquote.question').waitFor();

    // Answered from the page: the task runs again in the same session, and the answer stays on it.
    await page
      .getByLabel('Answer the agent’s question')
      .fill('No: numbers only. Write that down in NUMBERS.md.');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('#task-status').getByText('succeeded').waitFor({ timeout: 90_000 });
    await page.locator('.messages').getByText('No: numbers only. Write that down in NUMBERS.md.').waitFor();
    await page.locator('pre.result').getByText('Noted: add() takes numbers only.').waitFor();
    await page.getByLabel('Follow up (for example “also add a test”)').waitFor();
    await shot(page, '08b-task-answered');

    // A tool call the approval policy holds: shown in the inbox, approved there, it runs.
    model.script(key, [
      steps.toolUse([
        {
          name: 'Bash',
          input: { command: `node -e "require('fs').writeFileSync('APPROVED.md', 'yes\\n')"` },
        },
      ]),
      steps.text('Wrote APPROVED.md with node.'),
    ]);
    const gated = (await (
      await post('/tasks', { type: 'REFACTOR', payload: { repository: source.path, description: 'note it' } })
    ).json()) as { id: string };
    await page.goto(`${dev!.url}/#/inbox`);
    const card = page.locator('.inbox li', { hasText: gated.id.slice(0, 8) });
    await card.locator('.approval').getByText('APPROVED.md').waitFor({ timeout: 60_000 });
    expect(await unlabelledControls(page)).toEqual([]);
    await shot(page, '08c-inbox-approval');
    await card.getByRole('button', { name: 'Approve' }).click();
    await page.goto(`${dev!.url}/#/tasks/${gated.id}`);
    await page.locator('#task-status').getByText('succeeded').waitFor({ timeout: 90_000 });
    await page.locator('pre.result').getByText('Wrote APPROVED.md with node.').waitFor();
    const decided = (await (await fetch(`${dev!.url}/api/v1/tasks/${gated.id}/approvals`)).json()) as {
      items: Array<{ status: string; decided_by: string }>;
    };
    expect(decided.items).toEqual([expect.objectContaining({ status: 'approved', decided_by: 'local' })]);

    await page.goto(`${dev!.url}/#/inbox`);
    await page.getByText('Nothing waits for a person.').waitFor();

    // With the only agent paused, a new task parks for want of an agent, and says so.
    expect((await post('/agents/claude-1/pause')).status).toBe(200);
    const waiting = (await (
      await post('/tasks', { type: 'CODE_ANALYSIS', payload: { repository: source.path } })
    ).json()) as { id: string };
    await dev!.waitForStatus(waiting.id, ['parked'], 30_000);
    await page.goto(`${dev!.url}/#/inbox`);
    await page
      .locator('.inbox li', { hasText: waiting.id.slice(0, 8) })
      .getByText('no_agent')
      .waitFor();
    const inbox = (await (await fetch(`${dev!.url}/api/v1/inbox`)).json()) as {
      items: Array<{ kind: string }>;
    };
    expect(inbox.items.map((item) => item.kind)).toEqual(['no_agent']);
    const metrics = await (await fetch(`${dev!.url}/api/v1/metrics`)).text();
    expect(metrics).toContain('supervisor_inbox_items{kind="no_agent"} 1');
    expect(metrics).toContain('supervisor_inbox_items{kind="question"} 0');
    expect(metrics).toMatch(/supervisor_inbox_oldest_wait_seconds\{kind="no_agent"\} \d/);
    await page.goto(`${dev!.url}/#/tasks/${waiting.id}`);
    await page.getByText('parked: no enabled agent can run it — add, fix or resume one').waitFor();
    await page.goto(`${dev!.url}/#/tasks`);
    await page
      .locator('tbody tr', { hasText: waiting.id.slice(0, 8) })
      .getByText('no_agent')
      .waitFor();
    await shot(page, '09-task-waiting');
    // A task that has not started is cancelled at once.
    expect((await post(`/tasks/${waiting.id}/cancel`)).status).toBe(200);
    expect((await post('/agents/claude-1/resume')).status).toBe(200);
    await page.close();
  });

  it('keeps the task list current from the status stream, loading the list once', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const listLoads: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      // The sign-in probe asks for one task; the view's list loads ask for a page.
      if (url.pathname === '/api/v1/tasks' && url.searchParams.get('limit') !== '1')
        listLoads.push(url.search);
    });
    // Tasks that wait for a far-off run_after: they change status only when cancelled.
    const later = async () =>
      (await (
        await post('/tasks', {
          type: 'CODE_ANALYSIS',
          payload: { repository: source.path },
          run_after: '2099-01-01T00:00:00Z',
        })
      ).json()) as { id: string };

    await page.goto(`${dev!.url}/#/tasks`);
    await page.getByText('Live: updated as tasks change.').waitFor();
    await expect.poll(() => listLoads.length).toBe(1);
    const added = await later();
    const row = page.locator('tbody tr', { hasText: added.id.slice(0, 8) });
    await row.locator('.badge', { hasText: 'queued' }).waitFor();
    expect(await page.locator('tbody tr').first().textContent()).toContain(added.id.slice(0, 8));
    expect((await post(`/tasks/${added.id}/cancel`)).status).toBe(200);
    await row.locator('.badge', { hasText: 'cancelled' }).first().waitFor();
    await expect.poll(() => page.locator('.stats').textContent()).toContain('Tasks');
    expect(listLoads).toHaveLength(1);

    // A filtered list takes in a task that matches and lets it go once it no longer does.
    await page.goto(`${dev!.url}/#/tasks?status=queued`);
    await expect.poll(() => listLoads.length).toBe(2);
    const queued = await later();
    const queuedRow = page.locator('tbody tr', { hasText: queued.id.slice(0, 8) });
    await queuedRow.waitFor();
    expect((await post(`/tasks/${queued.id}/cancel`)).status).toBe(200);
    await queuedRow.waitFor({ state: 'detached' });
    expect(listLoads).toHaveLength(2);
    await page.close();
  });

  it('fits a phone and a desktop on every page, with no serious accessibility violation (axe-core)', async () => {
    const axe = readFileSync(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
    const tasks = (await (await fetch(`${dev!.url}/api/v1/tasks?limit=1`)).json()) as {
      items: Array<{ id: string }>;
    };
    const views = [
      '#/tasks',
      `#/tasks/${tasks.items[0]!.id}`,
      '#/submit',
      '#/agents',
      '#/inbox',
      '#/charts',
      '#/audit',
      '#/memory',
    ];
    for (const width of [390, 1360]) {
      for (const colorScheme of ['light', 'dark'] as const) {
        const page = await browser.newPage({ viewport: { width, height: 844 }, colorScheme });
        const quiet = whenQuiet(page);
        for (const view of views) {
          await page.goto(`${dev!.url}/${view}`);
          await page.locator('main h1').waitFor();
          await quiet();
          const where = `${view} at ${width} px, ${colorScheme}`;
          expect(await page.evaluate('document.documentElement.scrollWidth'), where).toBeLessThanOrEqual(
            width,
          );
          // No "null" where a value should be (raw event data and payloads may hold JSON nulls).
          const shown = await page.evaluate(
            `(() => { const main = document.querySelector('main').cloneNode(true); main.querySelectorAll('ol.events, pre, details').forEach((e) => e.remove()); return main.textContent; })()`,
          );
          expect(shown, where).not.toMatch(/\bnull\b/);
          await page.evaluate(axe);
          const { violations } = (await page.evaluate(
            'axe.run(document, { resultTypes: ["violations"] })',
          )) as {
            violations: Array<{ id: string; impact: string; nodes: Array<{ target: unknown }> }>;
          };
          const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
          expect(
            serious.map((v) => `${v.id}: ${JSON.stringify(v.nodes.map((node) => node.target))}`),
            where,
          ).toEqual([]);
        }
        if (width === 390 && colorScheme === 'light') await shot(page, '10-tasks-phone');
        await page.close();
      }
    }
  });

  it('names a missing or refused field at the field, and sends nothing while one is missing', async () => {
    const page = await browser.newPage();
    const before = (await (await fetch(`${dev!.url}/api/v1/tasks/stats/summary`)).json()) as {
      total: number;
    };
    await page.goto(`${dev!.url}/#/submit`);
    await page.getByRole('heading', { name: 'Submit a task' }).waitFor();
    await page.getByRole('button', { name: 'Submit task' }).click();
    await expect.poll(() => page.locator('#field-repository-error').textContent()).toBe('Required.');
    expect(await page.locator('#field-repository').getAttribute('aria-invalid')).not.toBeNull();
    const after = (await (await fetch(`${dev!.url}/api/v1/tasks/stats/summary`)).json()) as { total: number };
    expect(after.total).toBe(before.total);

    // A value only the server refuses comes back at its field too.
    await page.getByLabel('Repository', { exact: true }).fill(source.path);
    await page.getByLabel('Description', { exact: true }).fill('a change');
    await page.getByLabel('Max attempts').fill('99');
    await page.getByRole('button', { name: 'Submit task' }).click();
    await expect.poll(() => page.locator('#field-max_attempts-error').textContent()).toMatch(/20/);
    expect(await page.locator('#field-repository-error').isHidden()).toBe(true);
    await shot(page, '11-submit-field-errors');
    await page.close();
  });

  it('labels every form control and can be driven from the keyboard', async () => {
    const page = await browser.newPage();
    const quiet = whenQuiet(page);
    for (const view of ['#/submit', '#/tasks', '#/audit', '#/agents', '#/memory']) {
      await page.goto(`${dev!.url}/${view}`);
      await page.locator('main h1').waitFor();
      await quiet();
      expect(await unlabelledControls(page), view).toEqual([]);
    }
    // Every per-type set of fields, too.
    await page.goto(`${dev!.url}/#/submit`);
    for (const type of ['PR_REVIEW', 'ISSUE_SUMMARY', 'CODE_ANALYSIS', 'FEATURE']) {
      await page.getByLabel('Type').selectOption(type);
      expect(await unlabelledControls(page), type).toEqual([]);
    }

    // Tab from the top of the page to the main navigation, Enter follows the link.
    await page.goto(`${dev!.url}/#/tasks`);
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    const focused = () => page.evaluate("document.activeElement?.textContent?.trim() ?? ''");
    let presses = 0;
    while ((await focused()) !== 'Agents' && presses < 40) {
      await page.keyboard.press('Tab');
      presses += 1;
    }
    expect(await focused()).toBe('Agents');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/agents');
    expect(await page.getByRole('link', { name: 'Agents' }).getAttribute('aria-current')).toBe('page');
    await page.close();
  });

  it('asks for a token with AUTH_MODE=tokens: a wrong one is refused, the admin token signs in', async () => {
    tokens = await startTestSupervisor('pglite', { listen: true, env: { AUTH_MODE: 'tokens' } });
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    await page.goto(`${tokens.url}/`);
    const input = page.getByLabel('API token', { exact: true });
    await input.waitFor();
    expect(await unlabelledControls(page)).toEqual([]);
    await shot(page, '07-login');

    await input.fill('sv_not_a_real_token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .getByRole('alert')
      .getByText(/not accepted/)
      .waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('supervisor.token'))).toBeNull();
    await shot(page, '08-login-refused');

    await input.fill(tokens.adminToken!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor();
    expect(await page.locator('#session').textContent()).toBe('Signed in with a token');
    expect(await page.evaluate(() => sessionStorage.getItem('supervisor.token'))).toBe(tokens.adminToken);
    // The token goes with every request: the admin-only audit log loads.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.locator('tbody tr', { hasText: 'auth.failed' }).first().waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await input.waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('supervisor.token'))).toBeNull();
    await page.close();
  });
});
