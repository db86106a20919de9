/**
 * The seed-style request the foundation must accept as is: a PR review with an inline diff, as
 * clients of the original design send it. Shared by the tests and the submit benchmark.
 */
export const SEED_PR_REVIEW = {
  type: 'PR_REVIEW',
  payload: {
    repository: 'owner/repo',
    pr_number: 123,
    title: 'Add token refresh',
    description: 'Refresh tokens before they expire',
    diff: '--- a/auth.py\n+++ b/auth.py\n@@ -1,2 +1,2 @@\n-token = old()\n+token = refresh()\n',
  },
  priority: 8,
};
