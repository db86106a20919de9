import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import type { Logger } from 'pino';

/** Octokit with GitHub's own answers to load: 5xx retried, primary and secondary rate limits waited out. */
const GitHubOctokit = Octokit.plugin(retry, throttling);
export type GitHubApi = InstanceType<typeof GitHubOctokit>;

/**
 * For requests that create something: GitHub may have done it before a 5xx or a timeout, and a
 * resend would post it twice. The job's own retry runs after what was created is recorded.
 */
export const NO_RETRY = { retries: 0 };

/** No GitHub request waits longer than this; the queue job retries later instead. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A rate limit asking for a longer wait than this fails the request; its job is retried later. */
const MAX_RATE_LIMIT_WAIT_SECONDS = 60;

export interface GitHubAuth {
  /** REST API base URL: https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server. */
  apiUrl: string;
  /** A GitHub App (the supported way: only an App can create check runs). */
  app?: { appId: number; privateKey: string };
  /** A personal access token, for trying it out without an App. */
  token?: string;
}

/**
 * REST clients per App installation (or the one personal-token client). Installation tokens are
 * minted by @octokit/auth-app and cached until shortly before they expire; they never reach a log.
 */
export class GitHubClients {
  readonly #auth: GitHubAuth;
  readonly #logger: Logger;
  readonly #clients = new Map<number | null, GitHubApi>();
  /** `owner/repo` (lower case) → the App installation that answers for it. */
  readonly #installations = new Map<string, number>();
  #appClient: GitHubApi | undefined;

  readonly #onResponse: (method: string, status: number) => void;

  /** `onResponse` hears of every answer (status 0: none came), for metrics. */
  constructor(
    auth: GitHubAuth,
    logger: Logger,
    onResponse: (method: string, status: number) => void = () => {},
  ) {
    this.#onResponse = onResponse;
    if (!auth.app && !auth.token)
      throw new Error('GitHub needs GITHUB_APP_ID and a private key, or GITHUB_TOKEN');
    this.#auth = auth;
    this.#logger = logger.child({ component: 'github' });
  }

  /** How it acts on GitHub, for the operator (no secret). */
  describe(): { mode: 'app' | 'token'; appId: number | null; apiUrl: string } {
    const { app, apiUrl } = this.#auth;
    return { mode: app ? 'app' : 'token', appId: app?.appId ?? null, apiUrl };
  }

  /** Check runs need an App: GitHub refuses them to personal tokens. */
  get canCreateCheckRuns(): boolean {
    return this.#auth.app !== undefined;
  }

  /** The client for a repository's installation (`null`: the personal-token client). */
  for(installationId: number | null): GitHubApi {
    const key = this.#auth.app ? installationId : null;
    let client = this.#clients.get(key);
    if (!client) {
      client = this.#create(key);
      this.#clients.set(key, client);
    }
    return client;
  }

  /**
   * A token git fetches and pushes `owner/repo` with: its installation's (looked up once, minted
   * and cached by auth-app like the REST clients'), or the personal token.
   */
  async gitToken(repository: string): Promise<string> {
    const { app, token } = this.#auth;
    if (!app) return token!;
    const key = repository.toLowerCase();
    let installationId = this.#installations.get(key);
    if (installationId === undefined) {
      const [owner, repo] = repository.split('/') as [string, string];
      this.#appClient ??= this.#create('app');
      const { data } = await this.#appClient.rest.apps.getRepoInstallation({ owner, repo });
      installationId = data.id;
      this.#installations.set(key, installationId);
    }
    // An App installed again gets a new installation: a refusal makes the next call look it up afresh.
    const auth = (await this.for(installationId)
      .auth({ type: 'installation' })
      .catch((error: unknown) => {
        this.#installations.delete(key);
        throw error;
      })) as { token: string };
    return auth.token;
  }

  /** `'app'`: the App itself (JWT), which only finds installations. */
  #create(installationId: number | null | 'app'): GitHubApi {
    const { app, token, apiUrl } = this.#auth;
    if (app && installationId === null) {
      throw new Error('a GitHub App acts per installation, and this event names none');
    }
    const waitOrGiveUp =
      (kind: string) =>
      (retryAfter: number, options: { method: string; url: string }, _: unknown, retryCount: number) => {
        this.#logger.warn(
          { retryAfter, method: options.method, url: options.url, retryCount },
          `GitHub ${kind} rate limit`,
        );
        return retryCount < 3 && retryAfter <= MAX_RATE_LIMIT_WAIT_SECONDS;
      };
    const client = new GitHubOctokit({
      baseUrl: apiUrl.replace(/\/+$/, ''),
      userAgent: 'supervisor',
      ...(app
        ? {
            authStrategy: createAppAuth,
            auth: {
              appId: app.appId,
              privateKey: app.privateKey,
              ...(installationId === 'app' ? {} : { installationId }),
            },
          }
        : { auth: token }),
      request: {
        fetch: (url: string, init: RequestInit) =>
          fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
      },
      throttle: { onRateLimit: waitOrGiveUp('primary'), onSecondaryRateLimit: waitOrGiveUp('secondary') },
      // Octokit's own log would print every retried request; ours says what matters.
      log: {
        debug: () => {},
        info: () => {},
        warn: (message: string) => this.#logger.warn(message),
        error: (message: string) => this.#logger.error(message),
      },
    });
    // Outside the retry and throttling plugins: one count per request, with its final answer.
    client.hook.wrap('request', async (request, options) => {
      try {
        const response = await request(options);
        this.#onResponse(options.method, response.status);
        return response;
      } catch (error) {
        this.#onResponse(options.method, (error as { status?: number }).status ?? 0);
        throw error;
      }
    });
    return client;
  }
}
