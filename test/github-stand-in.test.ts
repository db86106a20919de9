import { randomUUID } from 'node:crypto';
import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { type ThrottlingOptions, throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type GitHubStandIn, signWebhook, startGitHubStandIn } from './support/github-stand-in.ts';

/**
 * The GitHub stand-in, driven by the real octokit clients with the plugins production uses, so
 * the stand-in is known to speak the protocol they speak and to refuse what GitHub refuses.
 */

const GitHubOctokit = Octokit.plugin(retry, throttling);
const where = { owner: 'acme', repo: 'widgets' };
const HEAD_SHA = 'a'.repeat(40);
// New-side lines 1–4 and old-side lines 1–3 are in the diff; nothing else is.
const DIFF = [
  'diff --git a/src/greet.ts b/src/greet.ts',
  'index 1111111..2222222 100644',
  '--- a/src/greet.ts',
  '+++ b/src/greet.ts',
  '@@ -1,3 +1,4 @@',
  ' export function greet(name: string) {',
  "-  return 'Hello ' + name;",
  "+  const greeting = 'Hello, ' + name;",
  '+  return greeting;',
  ' }',
  '',
].join('\n');

/**
 * The throttling plugin spaces every write 1 s apart and notification-triggering writes (reviews,
 * comments) 3 s apart, to stay clear of secondary limits. That pacing is the plugin's, not the
 * stand-in's business; these groups start every job at once so the tests stay fast. They
 * implement the one Bottleneck.Group call the plugin makes, `key(id).schedule(options, job)`.
 */
const noPacing = {
  key: () => ({ schedule: (_options: unknown, job: () => Promise<unknown>) => job() }),
} as unknown as ThrottlingOptions['write'];
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe('GitHub stand-in', () => {
  let standIn: GitHubStandIn;
  const secondaryLimits: number[] = [];

  beforeEach(async () => {
    standIn = await startGitHubStandIn();
    standIn.addPullRequest({
      ...where,
      number: 7,
      title: 'Greet with a template',
      body: null,
      head: { ref: 'feature', sha: HEAD_SHA },
      base: { ref: 'main', sha: 'b'.repeat(40) },
      diff: DIFF,
    });
    secondaryLimits.length = 0;
  });
  afterEach(() => standIn.close());

  const clientOptions = (auth: object) => ({
    baseUrl: standIn.url,
    ...auth,
    log: quiet,
    throttle: {
      id: randomUUID(),
      write: noPacing,
      notifications: noPacing,
      onRateLimit: () => false,
      onSecondaryRateLimit: (
        retryAfter: number,
        _options: unknown,
        _octokit: unknown,
        retryCount: number,
      ) => {
        secondaryLimits.push(retryAfter);
        return retryCount < 2;
      },
    },
    // plugin-retry waits (retryCount + 1)² × this many ms before retrying a 5xx.
    retry: { retryAfterBaseValue: 1 },
  });
  const appClient = () =>
    new GitHubOctokit(
      clientOptions({
        authStrategy: createAppAuth,
        auth: {
          appId: standIn.appId,
          privateKey: standIn.privateKey,
          installationId: standIn.installationId,
        },
      }),
    );
  const tokenClient = (token: string) => new GitHubOctokit(clientOptions({ auth: token }));

  const annotations = (count: number) =>
    Array.from({ length: count }, (_, i) => ({
      path: 'src/greet.ts',
      start_line: i + 1,
      end_line: i + 1,
      annotation_level: 'warning' as const,
      message: `finding ${i + 1}`,
    }));

  it('exchanges the App JWT for an installation token once and reuses it', async () => {
    const api = appClient();
    standIn.setPermission(where.owner, where.repo, 'alice', 'maintain');
    standIn.setFile(where.owner, where.repo, 'main', '.supervisor/config.yml', 'review: true\n'.repeat(10));

    const { data: pull } = await api.rest.pulls.get({ ...where, pull_number: 7 });
    const { data: diff } = await api.rest.pulls.get({
      ...where,
      pull_number: 7,
      mediaType: { format: 'diff' },
    });
    const { data: permission } = await api.rest.repos.getCollaboratorPermissionLevel({
      ...where,
      username: 'alice',
    });
    const { data: file } = await api.rest.repos.getContent({
      ...where,
      path: '.supervisor/config.yml',
      ref: 'main',
    });

    expect(pull).toMatchObject({
      number: 7,
      state: 'open',
      head: { sha: HEAD_SHA, repo: { full_name: 'acme/widgets' } },
    });
    expect(diff).toBe(DIFF);
    // The legacy field maps maintain to write; only role_name tells them apart.
    expect(permission).toMatchObject({ permission: 'write', role_name: 'maintain' });
    expect('content' in file && Buffer.from(file.content, 'base64').toString()).toBe(
      'review: true\n'.repeat(10),
    );
    const exchanges = standIn.callsTo('POST', /^\/app\/installations\/\d+\/access_tokens$/);
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({
      status: 201,
      auth: 'app-jwt',
      path: '/app/installations/4242/access_tokens',
    });
    expect(standIn.callsTo('GET', /^\/repos\//).map((call) => [call.status, call.auth])).toEqual(
      Array(4).fill([200, 'installation']),
    );
  });

  it('stores a review whose inline comment is on a diff line and refuses one outside the diff', async () => {
    const api = appClient();
    const comment = { path: 'src/greet.ts', side: 'RIGHT' as const, body: 'Name the template.' };

    const { data: review } = await api.rest.pulls.createReview({
      ...where,
      pull_number: 7,
      commit_id: HEAD_SHA,
      event: 'COMMENT',
      body: 'One note.',
      comments: [{ ...comment, line: 2 }],
    });
    const outside = api.rest.pulls.createReview({
      ...where,
      pull_number: 7,
      event: 'COMMENT',
      body: 'One note.',
      comments: [{ ...comment, line: 10 }],
    });

    expect(review).toMatchObject({
      state: 'COMMENTED',
      user: { login: 'supervisor[bot]' },
      commit_id: HEAD_SHA,
    });
    await expect(outside).rejects.toMatchObject({
      name: 'HttpError',
      status: 422,
      response: { data: { errors: ['Line could not be resolved'] } },
    });
    expect(standIn.reviews(where.owner, where.repo, 7)).toEqual([
      {
        id: review.id,
        commit_id: HEAD_SHA,
        event: 'COMMENT',
        body: 'One note.',
        comments: [{ ...comment, line: 2 }],
      },
    ]);
  });

  it('takes at most 50 annotations per check-run request and appends those of updates', async () => {
    const api = appClient();
    const run = { ...where, name: 'supervisor/review', head_sha: HEAD_SHA };
    const output = (count: number) => ({
      title: 'Review',
      summary: `${count} findings`,
      annotations: annotations(count),
    });

    await expect(
      api.rest.checks.create({ ...run, status: 'in_progress', output: output(51) }),
    ).rejects.toMatchObject({
      status: 422,
    });
    const { data: created } = await api.rest.checks.create({
      ...run,
      status: 'in_progress',
      output: output(50),
    });
    await api.rest.checks.update({
      ...where,
      check_run_id: created.id,
      conclusion: 'neutral',
      output: output(50),
    });

    expect(created).toMatchObject({ name: 'supervisor/review', status: 'in_progress', conclusion: null });
    const [stored, ...others] = standIn.checkRuns(where.owner, where.repo);
    expect(others).toEqual([]);
    expect(stored).toMatchObject({ id: created.id, status: 'completed', conclusion: 'neutral' });
    expect(stored?.output.annotations).toHaveLength(100);
  });

  it('refuses a check run from a personal token, as only a GitHub App may create one', async () => {
    const api = tokenClient(standIn.personalToken);

    const attempt = api.rest.checks.create({ ...where, name: 'supervisor/review', head_sha: HEAD_SHA });

    await expect(attempt).rejects.toMatchObject({
      status: 403,
      response: { data: { message: 'You must authenticate via a GitHub App.' } },
    });
    expect(standIn.checkRuns(where.owner, where.repo)).toEqual([]);
    expect(standIn.callsTo('POST', /check-runs$/)[0]?.auth).toBe('token');
  });

  it('lets plugin-retry retry a 502 and stores the review once', async () => {
    const api = appClient();
    standIn.failNext('POST', /\/pulls\/7\/reviews$/, { status: 502 });

    await api.rest.pulls.createReview({ ...where, pull_number: 7, event: 'COMMENT', body: 'Looks fine.' });

    expect(standIn.callsTo('POST', /\/reviews$/).map((call) => call.status)).toEqual([502, 200]);
    expect(standIn.reviews(where.owner, where.repo, 7)).toHaveLength(1);
  });

  it('lets the throttling plugin wait out a secondary rate limit and stores the comment once', async () => {
    const api = appClient();
    standIn.failNext('POST', /\/issues\/7\/comments$/, { secondaryRateLimit: { retryAfterSeconds: 1 } });

    const startedMs = Date.now();
    await api.rest.issues.createComment({ ...where, issue_number: 7, body: 'Review queued.' });
    const elapsedMs = Date.now() - startedMs;

    expect(secondaryLimits).toEqual([1]);
    expect(elapsedMs).toBeGreaterThanOrEqual(900); // retry-after was honoured
    expect(standIn.callsTo('POST', /\/comments$/).map((call) => call.status)).toEqual([403, 201]);
    expect(standIn.issueComments(where.owner, where.repo, 7)).toHaveLength(1);
  });

  it('answers 401 to credentials it did not issue', async () => {
    const stranger = tokenClient('ghp_notatokenthisstandinissued000000000');
    const otherApp = await startGitHubStandIn({ appId: standIn.appId });
    try {
      // A JWT signed with another key pair for the same app id.
      const wrongKey = new GitHubOctokit(
        clientOptions({
          authStrategy: createAppAuth,
          auth: {
            appId: standIn.appId,
            privateKey: otherApp.privateKey,
            installationId: standIn.installationId,
          },
        }),
      );

      await expect(stranger.rest.pulls.get({ ...where, pull_number: 7 })).rejects.toMatchObject({
        status: 401,
        response: { data: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' } },
      });
      await expect(wrongKey.rest.pulls.get({ ...where, pull_number: 7 })).rejects.toMatchObject({
        status: 401,
      });
    } finally {
      await otherApp.close();
    }
    expect(standIn.calls.map((call) => [call.status, call.auth])).toEqual([
      [401, 'none'],
      [401, 'none'],
    ]);
    expect(standIn.callsTo('GET', /pulls/)).toHaveLength(1); // the wrong key never got a token
  });

  it('creates and edits an issue comment, and 404s an edit of an unknown one', async () => {
    const api = appClient();

    const { data: created } = await api.rest.issues.createComment({
      ...where,
      issue_number: 7,
      body: 'Queued.',
    });
    await api.rest.issues.updateComment({ ...where, comment_id: created.id, body: 'Running.' });
    await api.rest.issues.updateComment({ ...where, comment_id: created.id, body: 'Done.' });
    const unknown = api.rest.issues.updateComment({ ...where, comment_id: created.id + 1, body: 'Lost.' });
    await expect(unknown).rejects.toMatchObject({ status: 404 });
    const blank = api.rest.issues.createComment({ ...where, issue_number: 7, body: ' ' });
    await expect(blank).rejects.toMatchObject({ status: 422 });

    expect(created).toMatchObject({ body: 'Queued.', user: { login: 'supervisor[bot]' } });
    expect(standIn.issueComments(where.owner, where.repo, 7)).toEqual([
      { id: created.id, body: 'Done.', user: 'supervisor[bot]', edits: 2 },
    ]);
  });
});

describe('signWebhook', () => {
  it('signs as GitHub does (the test vector from GitHub docs, "Validating webhook deliveries")', () => {
    expect(signWebhook("It's a Secret to Everybody", 'Hello, World!')).toBe(
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    );
  });
});
