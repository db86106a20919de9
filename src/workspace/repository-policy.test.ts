import { describe, expect, it } from 'vitest';
import { type RepositoryPolicy, repositoryRefusal } from './repository-policy.ts';

const strict: RepositoryPolicy = { schemes: ['https', 'ssh'], hosts: ['github.com', '*.corp.example'] };

describe('repository policy', () => {
  it('always allows owner/repo: the operator decides where it resolves', () => {
    expect(repositoryRefusal('acme/api', strict)).toBeUndefined();
  });

  it('allows URLs with an allowed scheme on an allowed host', () => {
    for (const repository of [
      'https://github.com/acme/api.git',
      'https://user@GitHub.com:443/acme/api',
      'ssh://git@git.corp.example/acme/api',
      'git@github.com:acme/api.git',
    ]) {
      expect(repositoryRefusal(repository, strict), repository).toBeUndefined();
    }
  });

  it('refuses other schemes, other hosts and local paths, saying which setting decides', () => {
    expect(repositoryRefusal('http://github.com/acme/api', strict)).toContain('http URLs are not allowed');
    expect(repositoryRefusal('git://github.com/acme/api', strict)).toContain('REPOSITORY_SCHEMES=https,ssh');
    expect(repositoryRefusal('https://evil.example/acme/api', strict)).toContain('host evil.example');
    expect(repositoryRefusal('https://github.com.evil.example/x', strict)).toContain('not allowed');
    expect(repositoryRefusal('https://corp.example.evil/x', strict)).toContain('not allowed');
    expect(repositoryRefusal('git@evil.example:acme/api', strict)).toContain('host evil.example');
    expect(repositoryRefusal('/var/lib/supervisor/data', strict)).toContain('local repositories');
    expect(repositoryRefusal('file:///etc', strict)).toContain('local repositories');
  });

  it('with no host list allows any host of an allowed scheme', () => {
    const open: RepositoryPolicy = { schemes: ['https', 'file'], hosts: [] };
    expect(repositoryRefusal('https://anywhere.example/x', open)).toBeUndefined();
    expect(repositoryRefusal('/srv/repos/x', open)).toBeUndefined();
  });
});
