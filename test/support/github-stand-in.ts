import { execFileSync } from 'node:child_process';
import {
  createHash,
  createHmac,
  generateKeyPair,
  type KeyObject,
  randomBytes,
  randomInt,
  verify,
} from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GIT_PATH, serveGit } from './git-http-backend.ts';

/**
 * A loopback stand-in for the GitHub REST API, for tests of the GitHub App integration. It speaks
 * the wire protocol octokit sends (App JWT → installation token exchange, `token`/`bearer`
 * schemes, media types, rate-limit headers) and refuses what GitHub refuses: a review comment on
 * a line outside the diff, more than 50 annotations in one request, a check run from a personal
 * token. A test against it fails where production would. Every request is recorded in `calls`.
 *
 * Error bodies copy GitHub's where we know them verbatim ("Bad credentials", "Line could not be
 * resolved", the JWT claim messages @octokit/auth-app matches on, the secondary rate limit text
 * @octokit/plugin-throttling matches on); the other 422 texts only say what was wrong.
 *
 * With `gitRoot`, it also serves the bare repositories there over git's smart HTTP protocol at
 * `/<owner>/<repo>.git`, as GitHub (and an Enterprise Server, whose API is on the same host) does,
 * to clients that authenticate with an installation token or the personal token; a pull request
 * can then only be opened from a branch that was pushed there.
 */

export type GitHubAuthKind = 'app-jwt' | 'installation' | 'token' | 'none';

export interface GitHubCall {
  method: string;
  /** The path without the query, percent-decoded. */
  path: string;
  query: Record<string, string>;
  /** Request headers; `authorization` is cut to its scheme and first characters. */
  headers: Record<string, string | undefined>;
  /** The parsed JSON body (`undefined` when empty; the raw text when it was not JSON). */
  body: unknown;
  status: number;
  auth: GitHubAuthKind;
}

export interface StandInPullRequest {
  owner: string;
  repo: string;
  number: number;
  title: string;
  body: string | null;
  draft?: boolean;
  head: { ref: string; sha: string };
  base: { ref: string; sha: string };
  /** A unified diff (`git diff` output): the lines review comments may be placed on. */
  diff: string;
  /** The author's login. @defaultValue `'octocat'` */
  user?: string;
  /** When it was last updated (ISO). @defaultValue the time it is listed */
  updatedAt?: string;
}

export type RepoPermission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

export type Failure = { status: 500 | 502 | 503 } | { secondaryRateLimit: { retryAfterSeconds: number } };

export interface StoredReview {
  id: number;
  commit_id: string;
  event: string;
  body: string;
  comments: Array<{ path: string; line: number; side: string; body: string; start_line?: number }>;
}

export interface StoredCheckRun {
  id: number;
  name: string;
  external_id?: string;
  head_sha: string;
  status: string;
  conclusion: string | null;
  output: { title: string; summary: string; text?: string; annotations: unknown[] };
}

export interface StoredIssueComment {
  id: number;
  body: string;
  user: string;
  /** How many times the comment was edited (PATCH). */
  edits: number;
}

export interface StandInIssue {
  owner: string;
  repo: string;
  number: number;
  title: string;
  body: string | null;
  user?: string;
}

export interface GitHubStandIn {
  /** `http://127.0.0.1:<port>`: octokit's `baseUrl`. */
  url: string;
  appId: number;
  /** PKCS#1 PEM, as GitHub hands App keys out; the stand-in verifies JWTs with its public half. */
  privateKey: string;
  installationId: number;
  /** A personal access token the stand-in accepts (`ghp_…`). */
  personalToken: string;
  /** Every request, in order, failed ones included. */
  calls: GitHubCall[];
  callsTo(method: string, pathPattern: RegExp): GitHubCall[];
  /** Pull requests of a repository, those opened through the API included. */
  pulls(owner: string, repo: string): StandInPullRequest[];
  /** Adds a pull request, or replaces the one with the same owner/repo/number. */
  addPullRequest(pr: StandInPullRequest): void;
  /** An issue (numbers are shared with pull requests, as on GitHub). */
  addIssue(issue: StandInIssue): void;
  setPermission(owner: string, repo: string, user: string, permission: RepoPermission): void;
  /** A file for `GET /repos/{o}/{r}/contents/{path}?ref=` (without `ref`: the ref `main`). */
  setFile(owner: string, repo: string, ref: string, path: string, content: string): void;
  /** The next `times` (default 1) requests matching method and path fail that way, storing nothing. */
  failNext(method: string, pathPattern: RegExp, failure: Failure, times?: number): void;
  reviews(owner: string, repo: string, number: number): StoredReview[];
  /** A review someone submitted (its inline comments are listed per review, as on GitHub). */
  addReview(owner: string, repo: string, number: number, review: Omit<StoredReview, 'id'>): number;
  /** A check run another App (CI) made; its annotations are listed per run, as on GitHub. */
  addCheckRun(owner: string, repo: string, run: Omit<StoredCheckRun, 'id'>): number;
  /** Check runs of a repository; annotations accumulate across POST and PATCH, as on GitHub. */
  checkRuns(owner: string, repo: string): StoredCheckRun[];
  issueComments(owner: string, repo: string, number: number): StoredIssueComment[];
  /** A person's comment, as if GitHub had taken it but its webhook never arrived. */
  addIssueComment(
    owner: string,
    repo: string,
    number: number,
    comment: { user: string; body: string },
  ): number;
  /** Deletes a comment, as a person can on GitHub; later edits of it answer 404. */
  deleteIssueComment(owner: string, repo: string, id: number): void;
  close(): Promise<void>;
}

export interface GitHubStandInOptions {
  /** @defaultValue 1234 */
  appId?: number;
  /** @defaultValue 4242 */
  installationId?: number;
  /** The login reviews and comments made with an installation token carry. @defaultValue `'supervisor[bot]'` */
  botLogin?: string;
  /** The login behind the personal token. @defaultValue `'supervisor-user'` */
  userLogin?: string;
  /** A directory of bare repositories, `<owner>/<repo>.git`, served over git's HTTP protocol. */
  gitRoot?: string;
}

/** Signs a webhook body the way GitHub does: `sha256=` + hex HMAC-SHA256 of the raw body with the secret. */
export function signWebhook(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// Diffs: which lines a review comment may name.

interface DiffFile {
  /** Old-side line numbers (removed and context lines) → index of their hunk. */
  left: Map<number, number>;
  /** New-side line numbers (added and context lines) → index of their hunk. */
  right: Map<number, number>;
  /**
   * The deprecated `position`: the n-th line below the file's first `@@` (later `@@` lines count
   * but name no line) → the line it names. Context lines are named on the new side.
   */
  positions: Map<number, { line: number; side: 'LEFT' | 'RIGHT' }>;
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** Parses a unified diff. Hunk bodies are read by their counts, so a removed `-- x` line is no header. */
function parseDiff(diff: string): Map<string, DiffFile> {
  const files = new Map<string, DiffFile>();
  let file: DiffFile | undefined;
  let oldPath = '';
  let oldLine = 0;
  let newLine = 0;
  let oldLeft = 0;
  let newLeft = 0;
  let hunk = -1;
  let position = 0;
  const stripPrefix = (raw: string) => raw.replace(/\t.*$/, '').replace(/^[ab]\//, '');
  for (const text of diff.split('\n')) {
    if (file && (oldLeft > 0 || newLeft > 0)) {
      position += 1;
      const marker = text[0];
      if (marker === '\\') continue; // "\ No newline at end of file"
      if (marker === '+') {
        file.positions.set(position, { line: newLine, side: 'RIGHT' });
        file.right.set(newLine++, hunk);
        newLeft -= 1;
      } else if (marker === '-') {
        file.positions.set(position, { line: oldLine, side: 'LEFT' });
        file.left.set(oldLine++, hunk);
        oldLeft -= 1;
      } else {
        file.positions.set(position, { line: newLine, side: 'RIGHT' });
        // Context (some tools strip the leading space of an empty context line).
        file.left.set(oldLine++, hunk);
        file.right.set(newLine++, hunk);
        oldLeft -= 1;
        newLeft -= 1;
      }
      continue;
    }
    const header = HUNK_HEADER.exec(text);
    if (text.startsWith('diff --git ')) {
      file = undefined;
    } else if (text.startsWith('--- ')) {
      oldPath = stripPrefix(text.slice(4));
    } else if (text.startsWith('+++ ')) {
      const newPath = stripPrefix(text.slice(4));
      file = { left: new Map(), right: new Map(), positions: new Map() };
      files.set(newPath === '/dev/null' ? oldPath : newPath, file);
      hunk = -1;
      position = 0;
    } else if (header && file) {
      if (hunk >= 0) position += 1;
      hunk += 1;
      oldLine = Number(header[1]);
      oldLeft = header[2] === undefined ? 1 : Number(header[2]);
      newLine = Number(header[3]);
      newLeft = header[4] === undefined ? 1 : Number(header[4]);
    }
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Auth.

const JWT_SKEW_SECONDS = 60;
const JWT_MAX_LIFETIME_SECONDS = 600;
const INSTALLATION_TOKEN_LIFETIME_MS = 60 * 60 * 1000;
const DOCS = 'https://docs.github.com/rest';

// GitHub's own texts: @octokit/auth-app matches the two claim messages to correct clock skew.
const JWT_UNDECODABLE = 'A JSON web token could not be decoded';
const JWT_IAT =
  "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
const JWT_EXP_PAST =
  "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
const JWT_EXP_FAR = "'Expiration time' claim ('exp') is too far in the future";

/** `undefined` when the JWT is good, else GitHub's message for what is wrong with it. */
function jwtProblem(jwt: string, publicKey: KeyObject, appId: number): string | undefined {
  const [header, payload, signature, extra] = jwt.split('.');
  if (header === undefined || payload === undefined || signature === undefined || extra !== undefined) {
    return JWT_UNDECODABLE;
  }
  let claims: { iss?: unknown; iat?: unknown; exp?: unknown };
  try {
    const alg = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg;
    if (alg !== 'RS256') return JWT_UNDECODABLE;
    const signed = Buffer.from(`${header}.${payload}`);
    if (!verify('RSA-SHA256', signed, publicKey, Buffer.from(signature, 'base64url'))) return JWT_UNDECODABLE;
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return JWT_UNDECODABLE;
  }
  // GitHub takes the app id as a number or a string (the client ID is also allowed there).
  if (String(claims.iss) !== String(appId)) return JWT_UNDECODABLE;
  const now = Math.floor(Date.now() / 1000);
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || !Number.isInteger(iat) || iat > now + JWT_SKEW_SECONDS) return JWT_IAT;
  if (typeof exp !== 'number' || !Number.isInteger(exp) || exp <= now) return JWT_EXP_PAST;
  if (exp - now > JWT_MAX_LIFETIME_SECONDS + JWT_SKEW_SECONDS) return JWT_EXP_FAR;
  if (exp - iat > JWT_MAX_LIFETIME_SECONDS + JWT_SKEW_SECONDS) return JWT_EXP_FAR;
  return undefined;
}

/** Random `[A-Za-z0-9]` characters, as GitHub token bodies are. */
function randomToken(prefix: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return prefix + Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join('');
}

// ---------------------------------------------------------------------------------------------
// The server.

interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

interface Request {
  params: string[];
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  auth: GitHubAuthKind;
  /** Whose name a write carries: the bot for an installation token, the user for the personal token. */
  actor: string;
}

interface Route {
  method: string;
  pattern: RegExp;
  /** `app`: an App JWT only; `user`: an installation token or the personal token. */
  auth: 'app' | 'user';
  handle(request: Request): Reply;
}

interface RepoState {
  pulls: Map<number, StandInPullRequest>;
  reviews: Map<number, StoredReview[]>;
  checkRuns: StoredCheckRun[];
  comments: Array<StoredIssueComment & { number: number; userType: 'User' | 'Bot'; createdAt: string }>;
  permissions: Map<string, RepoPermission>;
  files: Map<string, string>;
  issues: Map<number, StandInIssue>;
  /** Every head and base commit its pull requests have had: the commits it "has". */
  commits: Set<string>;
}

const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({
  status,
  json: body,
  ...(headers ? { headers } : {}),
});
const notFound = (): Reply => json(404, { message: 'Not Found', documentation_url: DOCS });
/** A 422 with GitHub's `errors` list (the shape of the review endpoint's refusals). */
const unprocessable = (...errors: string[]): Reply =>
  json(422, { message: 'Unprocessable Entity', errors, documentation_url: DOCS, status: '422' });
/** A 422 in the shape of GitHub's schema validation ("Invalid request.\n\n…"). */
const invalid = (detail: string): Reply =>
  json(422, { message: `Invalid request.\n\n${detail}`, documentation_url: DOCS, status: '422' });

/** Percent-decodes, leaving a malformed escape as it came rather than failing the request. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isInteger = (value: unknown): value is number => Number.isInteger(value);

/** GitHub's length limit on bodies of comments, reviews and check-run texts. */
const MAX_BODY_CHARS = 65_535;
const MAX_ANNOTATIONS_PER_REQUEST = 50;
const CHECK_STATUSES = ['queued', 'in_progress', 'completed'];
const CHECK_CONCLUSIONS = [
  'action_required',
  'cancelled',
  'failure',
  'neutral',
  'success',
  'skipped',
  'stale',
  'timed_out',
];
const ANNOTATION_LEVELS = ['notice', 'warning', 'failure'];
const REVIEW_STATES: Record<string, string> = {
  APPROVE: 'APPROVED',
  REQUEST_CHANGES: 'CHANGES_REQUESTED',
  COMMENT: 'COMMENTED',
};
/** The legacy `permission` field knows only admin/write/read/none; `role_name` has the real role. */
const LEGACY_PERMISSION: Record<RepoPermission, string> = {
  admin: 'admin',
  maintain: 'write',
  write: 'write',
  triage: 'read',
  read: 'read',
  none: 'none',
};

export async function startGitHubStandIn(options: GitHubStandInOptions = {}): Promise<GitHubStandIn> {
  const appId = options.appId ?? 1234;
  const installationId = options.installationId ?? 4242;
  const botLogin = options.botLogin ?? 'supervisor[bot]';
  const userLogin = options.userLogin ?? 'supervisor-user';
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const personalToken = randomToken('ghp_', 36);
  const installationTokens = new Map<string, number>(); // token → expiry (epoch ms)
  const calls: GitHubCall[] = [];
  const faults: Array<{ method: string; pattern: RegExp; failure: Failure; left: number }> = [];
  const repos = new Map<string, RepoState>();
  let nextId = 1000;

  /** Repository names are case-insensitive on GitHub. */
  const repoState = (owner: string, repo: string): RepoState => {
    const key = `${owner}/${repo}`.toLowerCase();
    let state = repos.get(key);
    if (!state) {
      state = {
        pulls: new Map(),
        reviews: new Map(),
        checkRuns: [],
        comments: [],
        permissions: new Map(),
        files: new Map(),
        commits: new Set(),
        issues: new Map(),
      };
      repos.set(key, state);
    }
    return state;
  };
  const fileKey = (ref: string, path: string) => `${ref}\0${path}`;
  const gitRepository = (owner: string, repo: string): string | undefined => {
    const dir = options.gitRoot && join(options.gitRoot, owner, `${repo}.git`);
    return dir && existsSync(dir) ? dir : undefined;
  };
  const branchTip = (gitDir: string, branch: string): string | undefined => {
    try {
      return execFileSync('git', [
        '--git-dir',
        gitDir,
        'rev-parse',
        '--verify',
        '--quiet',
        `refs/heads/${branch}`,
      ])
        .toString()
        .trim();
    } catch {
      return undefined;
    }
  };
  /** Git over HTTP takes Basic auth: any user name with an installation token or the personal token. */
  const gitAuth = (header: string | undefined): GitHubAuthKind => {
    const match = /^basic +(\S+)$/i.exec(header ?? '');
    if (!match) return 'none';
    const password = Buffer.from(match[1]!, 'base64')
      .toString('utf8')
      .replace(/^[^:]*:/, '');
    if ((installationTokens.get(password) ?? 0) > Date.now()) return 'installation';
    return password === personalToken ? 'token' : 'none';
  };

  const authenticate = (header: string | undefined): { kind: GitHubAuthKind; jwtProblem?: string } => {
    const match = /^(bearer|token) +(\S+)$/i.exec(header ?? '');
    if (!match) return { kind: 'none' };
    const [, scheme, credential] = match as unknown as [string, string, string];
    const expiresAt = installationTokens.get(credential);
    if (expiresAt !== undefined && expiresAt > Date.now()) return { kind: 'installation' };
    if (credential === personalToken) return { kind: 'token' };
    if (scheme.toLowerCase() === 'bearer' && credential.split('.').length === 3) {
      const problem = jwtProblem(credential, publicKey, appId);
      return problem ? { kind: 'none', jwtProblem: problem } : { kind: 'app-jwt' };
    }
    return { kind: 'none' };
  };

  // --- Handlers -------------------------------------------------------------------------------

  const createAccessToken = ({ params, body }: Request): Reply => {
    if (Number(params[0]) !== installationId) return notFound();
    // Real tokens have no fixed length; a client that assumes one should fail here, not in production.
    const token = randomToken('ghs_', randomInt(36, 61));
    const expiresAt = Date.now() + INSTALLATION_TOKEN_LIFETIME_MS;
    installationTokens.set(token, expiresAt);
    const permissions = (body.permissions as Record<string, string> | undefined) ?? {
      checks: 'write',
      contents: 'read',
      issues: 'write',
      metadata: 'read',
      pull_requests: 'write',
    };
    return json(201, {
      token,
      expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      permissions,
      repository_selection: 'all',
    });
  };

  const pullJson = (pr: StandInPullRequest) => {
    const fullName = `${pr.owner}/${pr.repo}`;
    return {
      number: pr.number,
      title: pr.title,
      body: pr.body,
      state: 'open',
      draft: pr.draft ?? false,
      html_url: `https://github.com/${fullName}/pull/${pr.number}`,
      user: { login: pr.user ?? 'octocat', type: 'User' },
      updated_at: pr.updatedAt ?? new Date().toISOString(),
      head: { ref: pr.head.ref, sha: pr.head.sha, repo: { full_name: fullName } },
      base: { ref: pr.base.ref, sha: pr.base.sha, repo: { full_name: fullName } },
    };
  };

  const getPull = ({ params, headers }: Request): Reply => {
    const [owner = '', repo = '', number] = params;
    const pr = repoState(owner, repo).pulls.get(Number(number));
    if (!pr) return notFound();
    // octokit's `mediaType: { format: 'diff' }` sends `application/vnd.github.v3.diff`.
    if (/application\/vnd\.github(\.v3)?\.diff/.test(headers.accept ?? '')) {
      return { status: 200, text: pr.diff, contentType: 'application/vnd.github.diff; charset=utf-8' };
    }
    return json(200, pullJson(pr));
  };

  const listReviewComments = ({ params }: Request): Reply => {
    const [owner = '', repo = '', number, reviewId] = params;
    const review = (repoState(owner, repo).reviews.get(Number(number)) ?? []).find(
      (r) => r.id === Number(reviewId),
    );
    if (!review) return notFound();
    return json(
      200,
      review.comments.map((comment, i) => ({
        id: review.id * 100 + i,
        pull_request_review_id: review.id,
        path: comment.path,
        line: comment.line,
        side: comment.side,
        body: comment.body,
        user: { login: 'octocat', type: 'User' },
      })),
    );
  };

  const getRepository = ({ params }: Request): Reply => {
    const [owner = '', repo = ''] = params;
    return json(200, {
      name: repo,
      full_name: `${owner}/${repo}`,
      owner: { login: owner },
      private: true,
      default_branch: 'main',
      html_url: `https://github.com/${owner}/${repo}`,
    });
  };

  /** `?head=owner:branch` and `?state=open|closed|all` filter, as on GitHub (all opened here stay open). */
  const listPulls = ({ params, query }: Request): Reply => {
    const [owner = '', repo = ''] = params;
    const head = query.head?.replace(/^[^:]+:/, '');
    const pulls = [...repoState(owner, repo).pulls.values()].filter(
      (pr) => (head === undefined || pr.head.ref === head) && query.state !== 'closed',
    );
    return json(200, pulls.map(pullJson));
  };

  const createPull = ({ params, body, actor }: Request): Reply => {
    const [owner = '', repo = ''] = params;
    for (const field of ['title', 'head', 'base'] as const) {
      if (!isString(body[field]) || body[field] === '') return invalid(`"${field}" wasn't supplied.`);
    }
    const state = repoState(owner, repo);
    const head = (body.head as string).replace(/^[^:]+:/, ''); // "owner:branch" names a fork's branch
    const base = body.base as string;
    for (const pr of state.pulls.values()) {
      if (pr.head.ref === head && pr.base.ref === base) {
        return unprocessable(`A pull request already exists for ${owner}:${head}.`);
      }
    }
    // A served repository must have both branches, as on GitHub.
    const served = gitRepository(owner, repo);
    const headSha = served ? branchTip(served, head) : randomBytes(20).toString('hex');
    const baseSha = served ? branchTip(served, base) : randomBytes(20).toString('hex');
    for (const [field, sha] of [
      ['head', headSha],
      ['base', baseSha],
    ] as const) {
      if (!sha) {
        return json(422, {
          message: 'Validation Failed',
          errors: [{ resource: 'PullRequest', field, code: 'invalid' }],
          documentation_url: DOCS,
          status: '422',
        });
      }
    }
    const number = Math.max(0, ...state.pulls.keys(), ...state.comments.map((c) => c.number)) + 1;
    const pr: StandInPullRequest = {
      owner,
      repo,
      number,
      title: body.title as string,
      body: isString(body.body) ? body.body : null,
      draft: body.draft === true,
      head: { ref: head, sha: headSha! },
      base: { ref: base, sha: baseSha! },
      diff: served
        ? execFileSync('git', ['--git-dir', served, 'diff', `${baseSha}...${headSha}`]).toString()
        : '',
      user: actor,
    };
    state.pulls.set(number, pr);
    state.commits.add(pr.head.sha).add(pr.base.sha);
    return json(201, pullJson(pr));
  };

  const createReview = ({ params, body, actor }: Request): Reply => {
    const [owner = '', repo = '', number] = params;
    const state = repoState(owner, repo);
    const pr = state.pulls.get(Number(number));
    if (!pr) return notFound();
    const event = body.event;
    if (event !== undefined && (!isString(event) || !Object.hasOwn(REVIEW_STATES, event))) {
      return unprocessable(`Unknown event: ${String(event)}. Use APPROVE, REQUEST_CHANGES or COMMENT.`);
    }
    const text = isString(body.body) ? body.body : '';
    if (text.length > MAX_BODY_CHARS)
      return unprocessable(`Body is too long (maximum is ${MAX_BODY_CHARS} characters)`);
    const rawComments = body.comments ?? [];
    if (!Array.isArray(rawComments)) return invalid('"comments" is not an array.');
    if (
      (event === 'REQUEST_CHANGES' || event === 'COMMENT') &&
      text.trim() === '' &&
      rawComments.length === 0
    ) {
      return unprocessable(`A review with event ${event} needs a body or comments.`);
    }
    if ((event === 'APPROVE' || event === 'REQUEST_CHANGES') && (pr.user ?? 'octocat') === actor) {
      const verb = event === 'APPROVE' ? 'approve' : 'request changes on';
      return unprocessable(`Can not ${verb} your own pull request`);
    }
    const files = parseDiff(pr.diff);
    const comments: StoredReview['comments'] = [];
    for (const raw of rawComments as Array<Record<string, unknown>>) {
      if (typeof raw !== 'object' || raw === null) return invalid('each of "comments" must be an object.');
      if (!isString(raw.path) || !isString(raw.body) || raw.body === '') {
        return invalid('each of "comments" needs "path" and "body".');
      }
      if (raw.position !== undefined && (raw.line !== undefined || raw.start_line !== undefined)) {
        return unprocessable('Use either "position" or "line" (with "side"), not both.');
      }
      const file = files.get(raw.path);
      if (!file) return unprocessable('Path could not be resolved');
      if (raw.position !== undefined) {
        // Deprecated, but GitHub still takes it; stored as the line and side it names.
        const named = isInteger(raw.position) ? file.positions.get(raw.position) : undefined;
        if (!named) return unprocessable('Position could not be resolved');
        comments.push({ path: raw.path, ...named, body: raw.body });
        continue;
      }
      const side = raw.side ?? 'RIGHT';
      if (side !== 'RIGHT' && side !== 'LEFT') return invalid('"side" must be RIGHT or LEFT.');
      const lines = side === 'LEFT' ? file.left : file.right;
      const hunk = isInteger(raw.line) ? lines.get(raw.line) : undefined;
      if (hunk === undefined) return unprocessable('Line could not be resolved');
      const comment: StoredReview['comments'][number] = {
        path: raw.path,
        line: raw.line as number,
        side,
        body: raw.body,
      };
      if (raw.start_line !== undefined) {
        const startSide = raw.start_side ?? side;
        const startLines = startSide === 'LEFT' ? file.left : file.right;
        const startHunk = isInteger(raw.start_line) ? startLines.get(raw.start_line) : undefined;
        if (startHunk === undefined) return unprocessable('Start line could not be resolved');
        if (startHunk !== hunk) return unprocessable('start_line must be part of the same hunk as the line.');
        if (startSide === side && (raw.start_line as number) >= (raw.line as number)) {
          return unprocessable('start_line must precede the end line.');
        }
        comment.start_line = raw.start_line as number;
      }
      comments.push(comment);
    }
    // No event: GitHub keeps the review PENDING until it is submitted.
    const stateName = isString(event) ? (REVIEW_STATES[event] as string) : 'PENDING';
    const review: StoredReview = {
      id: nextId++,
      commit_id: isString(body.commit_id) ? body.commit_id : pr.head.sha,
      event: isString(event) ? event : 'PENDING',
      body: text,
      comments,
    };
    const list = state.reviews.get(pr.number) ?? [];
    list.push(review);
    state.reviews.set(pr.number, list);
    return json(200, reviewJson(owner, repo, pr.number, review, actor, stateName));
  };

  const reviewJson = (
    owner: string,
    repo: string,
    number: number,
    review: StoredReview,
    actor: string,
    state: string,
  ) => ({
    id: review.id,
    user: { login: actor },
    body: review.body,
    state,
    commit_id: review.commit_id,
    html_url: `https://github.com/${owner}/${repo}/pull/${number}#pullrequestreview-${review.id}`,
  });

  const listReviews = ({ params }: Request): Reply => {
    const [owner = '', repo = '', number] = params;
    const reviews = repoState(owner, repo).reviews.get(Number(number)) ?? [];
    return json(
      200,
      reviews.map((r) =>
        reviewJson(owner, repo, Number(number), r, botLogin, REVIEW_STATES[r.event] ?? 'PENDING'),
      ),
    );
  };

  /** `?check_name=` filters, as on GitHub. */
  const listCheckRunsForRef = ({ params, query }: Request): Reply => {
    const [owner = '', repo = '', ref] = params;
    const runs = repoState(owner, repo).checkRuns.filter(
      (run) => run.head_sha === ref && (query.check_name === undefined || run.name === query.check_name),
    );
    return json(200, {
      total_count: runs.length,
      check_runs: runs.map((run) => checkRunJson(owner, repo, run)),
    });
  };

  /** Checks a check run's fields as GitHub does; `undefined` when fine. */
  const checkRunProblem = (body: Record<string, unknown>, status: unknown, conclusion: unknown) => {
    if (status !== undefined && !CHECK_STATUSES.includes(status as string)) {
      return invalid(`"status" must be one of ${CHECK_STATUSES.join(', ')}.`);
    }
    if (
      conclusion !== undefined &&
      conclusion !== null &&
      !CHECK_CONCLUSIONS.includes(conclusion as string)
    ) {
      return invalid(`"conclusion" must be one of ${CHECK_CONCLUSIONS.join(', ')}.`);
    }
    if (status === 'completed' && (conclusion === undefined || conclusion === null)) {
      return invalid('"conclusion" wasn\'t supplied (required when status is completed).');
    }
    const output = body.output as Record<string, unknown> | undefined;
    if (output === undefined) return undefined;
    if (typeof output !== 'object' || output === null) return invalid('"output" is not an object.');
    if (!isString(output.title) || !isString(output.summary))
      return invalid('"output" needs "title" and "summary".');
    for (const field of ['summary', 'text'] as const) {
      const value = output[field];
      if (isString(value) && value.length > MAX_BODY_CHARS) {
        return invalid(`"output.${field}" is too long (maximum is ${MAX_BODY_CHARS} characters).`);
      }
    }
    const annotations = output.annotations ?? [];
    if (!Array.isArray(annotations)) return invalid('"output.annotations" is not an array.');
    if (annotations.length > MAX_ANNOTATIONS_PER_REQUEST) {
      return invalid(
        `Only ${MAX_ANNOTATIONS_PER_REQUEST} annotations are allowed per request; add the rest with updates.`,
      );
    }
    for (const annotation of annotations as Array<Record<string, unknown>>) {
      const ok =
        typeof annotation === 'object' &&
        annotation !== null &&
        isString(annotation.path) &&
        isInteger(annotation.start_line) &&
        isInteger(annotation.end_line) &&
        annotation.end_line >= annotation.start_line &&
        ANNOTATION_LEVELS.includes(annotation.annotation_level as string) &&
        isString(annotation.message);
      if (!ok) {
        return invalid(
          'each annotation needs "path", "start_line" ≤ "end_line", "annotation_level" (notice, warning or failure) and "message".',
        );
      }
      // GitHub only takes columns on a one-line annotation.
      const columns = annotation.start_column !== undefined || annotation.end_column !== undefined;
      if (columns && annotation.start_line !== annotation.end_line) {
        return invalid(
          '"start_column" and "end_column" are only allowed when "start_line" equals "end_line".',
        );
      }
    }
    return undefined;
  };

  const checkRunJson = (owner: string, repo: string, run: StoredCheckRun) => ({
    id: run.id,
    name: run.name,
    external_id: run.external_id ?? '',
    head_sha: run.head_sha,
    status: run.status,
    conclusion: run.conclusion,
    html_url: `https://github.com/${owner}/${repo}/runs/${run.id}`,
  });

  /** Only a GitHub App may write check runs: a personal token gets GitHub's 403. */
  const onlyApps = (auth: GitHubAuthKind): Reply | undefined =>
    auth === 'installation'
      ? undefined
      : json(403, { message: 'You must authenticate via a GitHub App.', documentation_url: DOCS });

  const createCheckRun = ({ params, body, auth }: Request): Reply => {
    const refused = onlyApps(auth);
    if (refused) return refused;
    const [owner = '', repo = ''] = params;
    if (!isString(body.name) || body.name === '') return invalid('"name" wasn\'t supplied.');
    if (!isString(body.head_sha) || body.head_sha === '') return invalid('"head_sha" wasn\'t supplied.');
    // A conclusion completes the run, whatever the status said.
    const status = body.conclusion !== undefined ? 'completed' : (body.status ?? 'queued');
    const problem = checkRunProblem(body, body.status ?? status, body.conclusion);
    if (problem) return problem;
    const state = repoState(owner, repo);
    // GitHub refuses a run for a commit it does not have; the stand-in knows the heads and bases
    // its pull requests have had (a push leaves the earlier head in the repository).
    const known = state.commits.has(String(body.head_sha));
    if (!known) return unprocessable(`No commit found for SHA: ${body.head_sha}`);
    const output = (body.output as Record<string, unknown> | undefined) ?? {};
    const run: StoredCheckRun = {
      id: nextId++,
      name: body.name,
      ...(isString(body.external_id) ? { external_id: body.external_id } : {}),
      head_sha: body.head_sha,
      status: status as string,
      conclusion: (body.conclusion as string | undefined) ?? null,
      output: {
        title: (output.title as string | undefined) ?? '',
        summary: (output.summary as string | undefined) ?? '',
        ...(isString(output.text) ? { text: output.text } : {}),
        annotations: [...((output.annotations as unknown[] | undefined) ?? [])],
      },
    };
    state.checkRuns.push(run);
    return json(201, checkRunJson(owner, repo, run));
  };

  const listAnnotations = ({ params }: Request): Reply => {
    const [owner = '', repo = '', id] = params;
    const run = repoState(owner, repo).checkRuns.find((candidate) => candidate.id === Number(id));
    return run ? json(200, run.output.annotations) : notFound();
  };

  const updateCheckRun = ({ params, body, auth }: Request): Reply => {
    const refused = onlyApps(auth);
    if (refused) return refused;
    const [owner = '', repo = '', id] = params;
    const run = repoState(owner, repo).checkRuns.find((candidate) => candidate.id === Number(id));
    if (!run) return notFound();
    const status = body.conclusion !== undefined ? 'completed' : (body.status ?? run.status);
    const problem = checkRunProblem(body, status, body.conclusion ?? run.conclusion ?? undefined);
    if (problem) return problem;
    if (isString(body.name)) run.name = body.name;
    run.status = status as string;
    if (body.conclusion !== undefined) run.conclusion = body.conclusion as string | null;
    const output = body.output as Record<string, unknown> | undefined;
    if (output) {
      run.output.title = output.title as string;
      run.output.summary = output.summary as string;
      if (isString(output.text)) run.output.text = output.text;
      // Annotations are appended: that is how more than 50 reach one run.
      run.output.annotations.push(...((output.annotations as unknown[] | undefined) ?? []));
    }
    return json(200, checkRunJson(owner, repo, run));
  };

  const commentBodyProblem = (body: unknown): Reply | undefined => {
    if (!isString(body) || body.trim() === '') return unprocessable('Body cannot be blank');
    if (body.length > MAX_BODY_CHARS)
      return unprocessable(`Body is too long (maximum is ${MAX_BODY_CHARS} characters)`);
    return undefined;
  };

  const commentJson = (owner: string, repo: string, comment: RepoState['comments'][number]) => ({
    id: comment.id,
    body: comment.body,
    user: { login: comment.user, type: comment.userType },
    html_url: `https://github.com/${owner}/${repo}/pull/${comment.number}#issuecomment-${comment.id}`,
    issue_url: `https://api.github.com/repos/${owner}/${repo}/issues/${comment.number}`,
    created_at: comment.createdAt,
    updated_at: comment.createdAt,
  });

  /** `?since=` (ISO time) keeps the comments updated since then, as on GitHub. */
  const listRepoComments = ({ params, query }: Request): Reply => {
    const [owner = '', repo = ''] = params;
    const since = query.since ? Date.parse(query.since) : 0;
    const comments = repoState(owner, repo).comments.filter((c) => Date.parse(c.createdAt) >= since);
    return json(
      200,
      comments.map((c) => commentJson(owner, repo, c)),
    );
  };

  const createComment = ({ params, body, actor }: Request): Reply => {
    const [owner = '', repo = '', number] = params;
    const state = repoState(owner, repo);
    if (!state.pulls.has(Number(number)) && !state.issues.has(Number(number))) return notFound();
    const problem = commentBodyProblem(body.body);
    if (problem) return problem;
    const comment = {
      id: nextId++,
      number: Number(number),
      body: body.body as string,
      user: actor,
      userType: actor === botLogin ? ('Bot' as const) : ('User' as const),
      createdAt: new Date().toISOString(),
      edits: 0,
    };
    state.comments.push(comment);
    return json(201, commentJson(owner, repo, comment));
  };

  const getIssue = ({ params }: Request): Reply => {
    const [owner = '', repo = '', number] = params;
    const state = repoState(owner, repo);
    const issue = state.issues.get(Number(number)) ?? state.pulls.get(Number(number));
    if (!issue) return notFound();
    return json(200, {
      number: issue.number,
      title: issue.title,
      body: issue.body,
      state: 'open',
      user: { login: issue.user ?? 'octocat', type: 'User' },
      html_url: `https://github.com/${owner}/${repo}/issues/${issue.number}`,
      ...(state.pulls.has(issue.number)
        ? { pull_request: { url: `https://api.github.com/repos/${owner}/${repo}/pulls/${issue.number}` } }
        : {}),
    });
  };

  const listComments = ({ params }: Request): Reply => {
    const [owner = '', repo = '', number] = params;
    const state = repoState(owner, repo);
    if (!state.pulls.has(Number(number)) && !state.issues.has(Number(number))) return notFound();
    return json(
      200,
      state.comments
        .filter((comment) => comment.number === Number(number))
        .map((comment) => ({
          ...commentJson(owner, repo, comment),
          user: { login: comment.user, type: comment.user.endsWith('[bot]') ? 'Bot' : 'User' },
        })),
    );
  };

  const updateComment = ({ params, body }: Request): Reply => {
    const [owner = '', repo = '', id] = params;
    const comment = repoState(owner, repo).comments.find((candidate) => candidate.id === Number(id));
    if (!comment) return notFound();
    const problem = commentBodyProblem(body.body);
    if (problem) return problem;
    comment.body = body.body as string;
    comment.edits += 1;
    return json(200, commentJson(owner, repo, comment));
  };

  const getPermission = ({ params }: Request): Reply => {
    const [owner = '', repo = '', username = ''] = params;
    // GitHub answers 404 for a non-collaborator on a private repository; the stand-in keeps it
    // simple and answers `none` for any user it was not told about.
    const role = repoState(owner, repo).permissions.get(username.toLowerCase()) ?? 'none';
    return json(200, { permission: LEGACY_PERMISSION[role], role_name: role, user: { login: username } });
  };

  const getContent = ({ params, query }: Request): Reply => {
    const [owner = '', repo = '', path = ''] = params;
    const content = repoState(owner, repo).files.get(fileKey(query.ref ?? 'main', path));
    if (content === undefined) return notFound();
    const bytes = Buffer.from(content, 'utf8');
    // GitHub wraps the base64 at 60 characters, each line ending in "\n".
    const base64 = bytes.toString('base64').replace(/.{1,60}/g, '$&\n');
    const sha = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
    const name = path.split('/').at(-1);
    return json(200, {
      type: 'file',
      encoding: 'base64',
      size: bytes.length,
      name,
      path,
      sha,
      content: base64,
    });
  };

  const SEGMENT = '([^/]+)';
  const REPO = `/repos/${SEGMENT}/${SEGMENT}`;
  const route = (method: string, path: string, auth: Route['auth'], handle: Route['handle']): Route => ({
    method,
    pattern: new RegExp(`^${path}$`),
    auth,
    handle,
  });
  const routes: Route[] = [
    route('POST', `/app/installations/${SEGMENT}/access_tokens`, 'app', createAccessToken),
    route('GET', '/app', 'app', () => json(200, { id: appId, slug: 'supervisor', name: 'Supervisor' })),
    route('GET', `${REPO}/installation`, 'app', () => json(200, { id: installationId, app_id: appId })),
    route('GET', REPO, 'user', getRepository),
    route('GET', `${REPO}/pulls`, 'user', listPulls),
    route('GET', `${REPO}/pulls/(\\d+)`, 'user', getPull),
    route('GET', `${REPO}/pulls/(\\d+)/reviews/(\\d+)/comments`, 'user', listReviewComments),
    route('POST', `${REPO}/pulls`, 'user', createPull),
    route('POST', `${REPO}/pulls/(\\d+)/reviews`, 'user', createReview),
    route('GET', `${REPO}/pulls/(\\d+)/reviews`, 'user', listReviews),
    route('GET', `${REPO}/commits/${SEGMENT}/check-runs`, 'user', listCheckRunsForRef),
    route('POST', `${REPO}/check-runs`, 'user', createCheckRun),
    route('PATCH', `${REPO}/check-runs/(\\d+)`, 'user', updateCheckRun),
    route('GET', `${REPO}/check-runs/(\\d+)/annotations`, 'user', listAnnotations),
    route('GET', `${REPO}/issues/comments`, 'user', listRepoComments),
    route('GET', `${REPO}/issues/(\\d+)`, 'user', getIssue),
    route('GET', `${REPO}/issues/(\\d+)/comments`, 'user', listComments),
    route('POST', `${REPO}/issues/(\\d+)/comments`, 'user', createComment),
    route('PATCH', `${REPO}/issues/comments/(\\d+)`, 'user', updateComment),
    route('GET', `${REPO}/collaborators/${SEGMENT}/permission`, 'user', getPermission),
    // The file path may arrive with its slashes as is or as %2F.
    route('GET', `${REPO}/contents/(.+)`, 'user', getContent),
  ];

  // --- Dispatch -------------------------------------------------------------------------------

  const answer = async (request: IncomingMessage): Promise<{ reply: Reply; call: GitHubCall }> => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = request.method ?? 'GET';
    const parts: Buffer[] = [];
    for await (const part of request) parts.push(part as Buffer);
    const raw = Buffer.concat(parts).toString('utf8');
    let body: unknown;
    let malformed = false;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
        malformed = typeof body !== 'object' || body === null || Array.isArray(body);
      } catch {
        body = raw;
        malformed = true;
      }
    }
    const { kind, jwtProblem: jwtMessage } = authenticate(request.headers.authorization);
    const headers: GitHubCall['headers'] = {};
    for (const [name, value] of Object.entries(request.headers)) {
      const text = Array.isArray(value) ? value.join(', ') : value;
      headers[name] = name === 'authorization' && text ? `${text.slice(0, 12)}…` : text;
    }
    const call: GitHubCall = {
      method,
      path: decode(url.pathname),
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
      status: 0,
      auth: kind,
    };
    const reply = ((): Reply => {
      const fault = faults.find((f) => f.left > 0 && f.method === method && f.pattern.test(call.path));
      if (fault) {
        fault.left -= 1;
        if ('status' in fault.failure) return json(fault.failure.status, { message: 'Server Error' });
        // @octokit/plugin-throttling recognises a secondary limit by /\bsecondary rate\b/i in the message.
        return json(
          403,
          {
            message:
              'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
            documentation_url:
              'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
          },
          { 'retry-after': String(fault.failure.secondaryRateLimit.retryAfterSeconds) },
        );
      }
      if (!request.headers['user-agent']) {
        return json(403, {
          message:
            'Request forbidden by administrative rules. Please make sure your request has a User-Agent header',
          documentation_url: DOCS,
        });
      }
      for (const candidate of routes) {
        if (candidate.method !== method) continue;
        const match = candidate.pattern.exec(url.pathname);
        if (!match) continue;
        if (candidate.auth === 'app' && kind !== 'app-jwt') {
          return json(401, { message: jwtMessage ?? JWT_UNDECODABLE, documentation_url: DOCS });
        }
        if (candidate.auth === 'user' && kind !== 'installation' && kind !== 'token') {
          return json(401, { message: jwtMessage ?? 'Bad credentials', documentation_url: DOCS });
        }
        if (malformed) return json(400, { message: 'Problems parsing JSON', documentation_url: DOCS });
        return candidate.handle({
          params: match.slice(1).map(decode),
          query: call.query,
          headers: request.headers,
          body: (body as Record<string, unknown> | undefined) ?? {},
          auth: kind,
          actor: kind === 'installation' ? botLogin : userLogin,
        });
      }
      return notFound();
    })();
    call.status = reply.status;
    return { reply, call };
  };

  const send = (response: ServerResponse, reply: Reply) => {
    const nowSeconds = Math.floor(Date.now() / 1000);
    response.writeHead(reply.status, {
      'content-type': reply.contentType ?? 'application/json; charset=utf-8',
      'x-github-request-id': [2, 3, 4].map((n) => randomBytes(n).toString('hex').toUpperCase()).join(':'),
      // @octokit/plugin-throttling reads these; a limit is only "primary" when remaining is 0.
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-used': '1',
      'x-ratelimit-reset': String(nowSeconds + 3600),
      'x-ratelimit-resource': 'core',
      ...reply.headers,
    });
    response.end(reply.text ?? JSON.stringify(reply.json));
  };

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    if (options.gitRoot && GIT_PATH.test(path)) {
      const auth = gitAuth(request.headers.authorization);
      const call: GitHubCall = {
        method: request.method ?? 'GET',
        path,
        query: {},
        headers: {},
        body: undefined,
        status: 200,
        auth,
      };
      calls.push(call);
      if (auth === 'none') {
        call.status = 401;
        response.writeHead(401, { 'www-authenticate': 'Basic realm="GitHub"', 'content-type': 'text/plain' });
        response.end(
          'Invalid username or token. Password authentication is not supported for Git operations.\n',
        );
        return;
      }
      serveGit(options.gitRoot, request, response, auth === 'installation' ? botLogin : userLogin);
      return;
    }
    answer(request).then(
      ({ reply, call }) => {
        calls.push(call);
        send(response, reply);
      },
      () => send(response, json(500, { message: 'Server Error' })),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    appId,
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    installationId,
    personalToken,
    calls,
    callsTo: (method, pathPattern) =>
      calls.filter((call) => call.method === method.toUpperCase() && pathPattern.test(call.path)),
    pulls: (owner, repo) => [...repoState(owner, repo).pulls.values()],
    addIssue: (issue) => {
      repoState(issue.owner, issue.repo).issues.set(issue.number, issue);
    },
    addPullRequest: (pr) => {
      const state = repoState(pr.owner, pr.repo);
      state.pulls.set(pr.number, pr);
      state.commits.add(pr.head.sha).add(pr.base.sha);
    },
    setPermission: (owner, repo, user, permission) => {
      repoState(owner, repo).permissions.set(user.toLowerCase(), permission);
    },
    setFile: (owner, repo, ref, path, content) => {
      repoState(owner, repo).files.set(fileKey(ref, path), content);
    },
    failNext: (method, pathPattern, failure, times = 1) => {
      faults.push({ method: method.toUpperCase(), pattern: pathPattern, failure, left: times });
    },
    reviews: (owner, repo, number) => repoState(owner, repo).reviews.get(number) ?? [],
    addReview: (owner, repo, number, review) => {
      const state = repoState(owner, repo);
      const stored = { id: nextId++, ...review };
      state.reviews.set(number, [...(state.reviews.get(number) ?? []), stored]);
      return stored.id;
    },
    checkRuns: (owner, repo) => repoState(owner, repo).checkRuns,
    addCheckRun: (owner, repo, run) => {
      const id = nextId++;
      repoState(owner, repo).checkRuns.push({ id, ...run });
      return id;
    },
    issueComments: (owner, repo, number) =>
      repoState(owner, repo)
        .comments.filter((comment) => comment.number === number)
        .map(({ id, body, user, edits }) => ({ id, body, user, edits })),
    addIssueComment: (owner, repo, number, { user, body }) => {
      const id = nextId++;
      repoState(owner, repo).comments.push({
        id,
        number,
        body,
        user,
        userType: 'User',
        createdAt: new Date().toISOString(),
        edits: 0,
      });
      return id;
    },
    deleteIssueComment: (owner, repo, id) => {
      const state = repoState(owner, repo);
      state.comments = state.comments.filter((comment) => comment.id !== id);
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
