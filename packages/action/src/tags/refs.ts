// Git refs as GitHub reports them: refs/heads/<branch>, refs/tags/<tag>, refs/pull/<n>/merge.

export function branchOf(ref: string): string | undefined {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
}

export function tagOf(ref: string): string | undefined {
  return ref.startsWith('refs/tags/') ? ref.slice('refs/tags/'.length) : undefined;
}

/** The pull request number ('15' for refs/pull/15/merge). */
export function pullRequestOf(ref: string): string | undefined {
  return ref.startsWith('refs/pull/') ? ref.slice('refs/pull/'.length).replace(/\/merge$/, '') : undefined;
}
