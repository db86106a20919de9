/**
 * Where a task's `repository` is fetched from. Pure.
 * - a git URL (`https://`, `ssh://`, `git://`, `file://`, `git@host:path`) is used as given;
 * - an absolute path is a local repository;
 * - `owner/repo` is looked up under REPOS_ROOT (a directory of `owner/repo` checkouts) or, failing
 *   that, GIT_BASE_URL (`https://github.com/` → `https://github.com/owner/repo.git`).
 */
export interface SourceSettings {
  reposRoot?: string;
  gitBaseUrl?: string;
}

export type RepositorySource = { ok: true; url: string } | { ok: false; reason: string };

export function resolveRepository(repository: string, settings: SourceSettings): RepositorySource {
  if (/^(https?|ssh|git|file):\/\//.test(repository) || /^[\w.-]+@[\w.-]+:/.test(repository)) {
    return { ok: true, url: repository };
  }
  if (repository.startsWith('/')) return { ok: true, url: repository };
  if (/^[\w.-]+\/[\w.-]+$/.test(repository)) {
    if (settings.reposRoot)
      return { ok: true, url: `${settings.reposRoot.replace(/\/+$/, '')}/${repository}` };
    if (settings.gitBaseUrl) {
      return {
        ok: true,
        url: `${settings.gitBaseUrl.replace(/\/+$/, '')}/${repository.replace(/\.git$/, '')}.git`,
      };
    }
    return {
      ok: false,
      reason: `"${repository}" names no location: set REPOS_ROOT or GIT_BASE_URL, or submit a git URL or path`,
    };
  }
  return { ok: false, reason: `"${repository}" is not a git URL, an absolute path or owner/repo` };
}
