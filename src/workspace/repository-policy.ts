/**
 * Which repositories tasks may name. Pure. `owner/repo` is always allowed: the operator decides
 * where it resolves (REPOS_ROOT, GIT_BASE_URL). A URL needs an allowed scheme and, when a host list
 * is set, an allowed host; a local path (absolute or file://) counts as the scheme `file`, which
 * would let a submitter point an agent at any repository on the supervisor's disk.
 */
export const REPOSITORY_SCHEMES = ['https', 'http', 'ssh', 'git', 'file'] as const;
export type RepositoryScheme = (typeof REPOSITORY_SCHEMES)[number];

export interface RepositoryPolicy {
  schemes: readonly RepositoryScheme[];
  /** Allowed hosts; `*.example.com` covers subdomains. Empty: any host. */
  hosts: readonly string[];
}

/** The reason a repository is refused, or undefined when the policy allows it. */
export function repositoryRefusal(repository: string, policy: RepositoryPolicy): string | undefined {
  const target = locate(repository);
  if (target.kind === 'owner/repo') return undefined;
  if (!(policy.schemes as readonly string[]).includes(target.scheme)) {
    const what =
      target.scheme === 'file' ? 'local repositories (paths and file:// URLs)' : `${target.scheme} URLs`;
    return `${what} are not allowed here (REPOSITORY_SCHEMES=${policy.schemes.join(',')})`;
  }
  if (
    target.host !== undefined &&
    policy.hosts.length > 0 &&
    !policy.hosts.some((h) => hostMatches(target.host!, h))
  ) {
    return `host ${target.host} is not allowed here (REPOSITORY_HOSTS=${policy.hosts.join(',')})`;
  }
  return undefined;
}

type Target = { kind: 'owner/repo' } | { kind: 'url'; scheme: string; host?: string };

function locate(repository: string): Target {
  const url = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)/i.exec(repository);
  if (url) {
    const scheme = url[1]!.toLowerCase();
    // userinfo@host:port → host
    const host = url[2]!.replace(/^.*@/, '').replace(/:\d*$/, '').toLowerCase();
    return scheme === 'file' ? { kind: 'url', scheme } : { kind: 'url', scheme, host };
  }
  if (repository.startsWith('/')) return { kind: 'url', scheme: 'file' };
  const scp = /^[^@/]+@([^:/]+):/.exec(repository);
  if (scp) return { kind: 'url', scheme: 'ssh', host: scp[1]!.toLowerCase() };
  return { kind: 'owner/repo' };
}

function hostMatches(host: string, pattern: string): boolean {
  const wanted = pattern.toLowerCase();
  return wanted.startsWith('*.') ? host.endsWith(wanted.slice(1)) : host === wanted;
}
