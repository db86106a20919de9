import { createHash } from 'node:crypto';
import type { GitHubApi } from './client.ts';

/**
 * The reconcile pass's look at one repository: what GitHub never delivered (it does not redeliver
 * a delivery we failed to take), as deliveries of our own. An open pull request updated in the
 * look-back window whose head commit no delivery named, and an @-comment of the window that no
 * delivery carried, each become a delivery shaped as GitHub would have sent it, with an id derived
 * from what it is about: found again, it is the same delivery.
 */

/** How far back the pass looks. */
export const RECONCILE_LOOKBACK_MS = 24 * 3600_000;
/** Repositories heard from within this long are looked at. */
export const WATCHED_FOR_MS = 7 * 86_400_000;

export interface FoundDelivery {
  id: string;
  event: 'pull_request' | 'issue_comment';
  action: string;
  payload: Record<string, unknown>;
}

export interface Known {
  head(number: number, sha: string): Promise<boolean>;
  comment(id: number): Promise<boolean>;
}

/** A UUID (version 5 layout) from `key`: the same thing found twice has one delivery id. */
export function reconciledId(key: string): string {
  const hex = createHash('sha1').update(`supervisor:reconcile:${key}`).digest('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export async function missedDeliveries(
  api: GitHubApi,
  watched: { repository: string; installationId: number | null },
  options: { since: Date; mention: string; known: Known },
): Promise<FoundDelivery[]> {
  const { repository, installationId } = watched;
  const [owner, repo] = repository.split('/') as [string, string];
  const common = {
    ...(installationId !== null ? { installation: { id: installationId } } : {}),
    repository: { full_name: repository },
  };
  const found: FoundDelivery[] = [];

  const { data: pulls } = await api.rest.pulls.list({
    owner,
    repo,
    state: 'open',
    sort: 'updated',
    direction: 'desc',
    per_page: 50,
  });
  for (const pr of pulls) {
    if (new Date(pr.updated_at) < options.since || pr.draft) continue;
    if (await options.known.head(pr.number, pr.head.sha)) continue;
    found.push({
      id: reconciledId(`pull:${repository}#${pr.number}@${pr.head.sha}`),
      event: 'pull_request',
      action: 'synchronize',
      payload: {
        action: 'synchronize',
        ...common,
        sender: { login: pr.user?.login ?? 'unknown', type: pr.user?.type ?? 'User' },
        pull_request: {
          number: pr.number,
          title: pr.title,
          body: pr.body,
          draft: pr.draft ?? false,
          html_url: pr.html_url,
          head: {
            sha: pr.head.sha,
            ref: pr.head.ref,
            repo: pr.head.repo && { full_name: pr.head.repo.full_name },
          },
          base: { sha: pr.base.sha, ref: pr.base.ref, repo: { full_name: pr.base.repo.full_name } },
        },
      },
    });
  }

  const { data: comments } = await api.rest.issues.listCommentsForRepo({
    owner,
    repo,
    since: options.since.toISOString(),
    sort: 'updated',
    direction: 'desc',
    per_page: 100,
  });
  const mention = `@${options.mention.toLowerCase()}`;
  for (const comment of comments) {
    if (new Date(comment.created_at) < options.since || comment.user?.type === 'Bot') continue;
    if (!comment.body?.toLowerCase().includes(mention)) continue;
    if (await options.known.comment(comment.id)) continue;
    const number = Number(/\/issues\/(\d+)$/.exec(comment.issue_url)?.[1]);
    if (!number) continue;
    const { data: issue } = await api.rest.issues.get({ owner, repo, issue_number: number });
    found.push({
      id: reconciledId(`comment:${repository}:${comment.id}`),
      event: 'issue_comment',
      action: 'created',
      payload: {
        action: 'created',
        ...common,
        issue: { number, ...(issue.pull_request ? { pull_request: { url: issue.pull_request.url } } : {}) },
        comment: { id: comment.id, body: comment.body },
        sender: { login: comment.user?.login ?? 'unknown', type: comment.user?.type ?? 'User' },
      },
    });
  }
  return found;
}
