/**
 * The repository facts the OCI labels and `type=edge` need, from a GitHub repository object
 * (the REST API's `GET /repos/{owner}/{repo}` or an event payload's `repository`, which share
 * these fields).
 */
import { payloadString, payloadValue, type GitHubContext } from './github-context.js';

export interface RepoInfo {
  /** org.opencontainers.image.title */
  name: string;
  /** org.opencontainers.image.description; '' when the repository has none. */
  description: string;
  /** org.opencontainers.image.licenses: GitHub's SPDX id ('MIT', or 'NOASSERTION'); undefined when GitHub found none. */
  license: string | undefined;
  /** org.opencontainers.image.url and .source */
  htmlUrl: string;
  /** What `type=edge` tags when it names no branch; '' when unknown. */
  defaultBranch: string;
}

/** From a GitHub repository object (REST API or webhook payload). Missing fields become ''/undefined. */
export function repoInfoFromGitHubRepository(repository: unknown): RepoInfo {
  return {
    name: payloadString(repository, 'name') ?? '',
    description: payloadString(repository, 'description') ?? '',
    license: payloadString(repository, 'license', 'spdx_id'),
    htmlUrl: payloadString(repository, 'html_url') ?? '',
    defaultBranch: payloadString(repository, 'default_branch') ?? '',
  };
}

/**
 * What the Action knows without calling the GitHub API: the event payload's `repository`, with the
 * name and URL falling back to GITHUB_SERVER_URL and GITHUB_REPOSITORY for events whose payload
 * has none (a schedule's payload, for one, holds only the cron line).
 */
export function repoInfoFromPayload(ctx: GitHubContext, env: NodeJS.ProcessEnv): RepoInfo {
  const repository = payloadValue(ctx.payload, 'repository');
  const info = repoInfoFromGitHubRepository(repository);
  const serverUrl = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '');
  return {
    ...info,
    name: info.name || ctx.repo.repo,
    htmlUrl: info.htmlUrl || `${serverUrl}/${ctx.repo.owner}/${ctx.repo.repo}`,
  };
}
