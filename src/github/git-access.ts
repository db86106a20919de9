import type { GitCredentials } from '../workspace/workspace-manager.ts';
import type { GitHubClients } from './client.ts';

/** Where GitHub serves git: github.com beside the public API, an Enterprise Server's own host otherwise. */
export function gitHubGitOrigin(apiUrl: string): string {
  const url = new URL(apiUrl);
  return url.hostname === 'api.github.com' ? 'https://github.com' : url.origin;
}

/**
 * Credentials for git on GitHub's repositories (private ones need them to fetch, every one to push):
 * the repository's installation token as an HTTP header, scoped to GitHub's origin so git sends it
 * nowhere else. URLs elsewhere get none.
 */
export function gitHubGitCredentials(clients: GitHubClients, apiUrl: string): GitCredentials {
  const origin = gitHubGitOrigin(apiUrl);
  return async (url) => {
    if (!url.startsWith(`${origin}/`)) return undefined;
    const match = /^([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(url.slice(origin.length + 1));
    if (!match) return undefined;
    const token = await clients.gitToken(`${match[1]}/${match[2]}`);
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
    return {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: `http.${origin}/.extraheader`,
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    };
  };
}
