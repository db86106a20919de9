import { appendAudit } from '../audit/audit-log.ts';
import type { AgentCli } from '../core/agent-types.ts';
import { AppError } from '../core/errors.ts';
import { LIMITS, type TaskSubmission } from '../core/task-types.ts';
import type { GitHubTaskRow } from '../store/schema.ts';
import { NO_RETRY } from './client.ts';
import { GITHUB_ACTOR, queueGitHubUpdate } from './github-queue.ts';
import type { GitHubServiceDeps } from './github-service.ts';
import * as store from './github-store.ts';
import { pushedChangeOf } from './pull-request.ts';
import {
  CHANGE_COMMANDS,
  type CheckFailedTrigger,
  COMMANDS,
  type CommandTrigger,
  type MessageTrigger,
  type NewIssueTrigger,
  type ReviewTrigger,
  reviewTrigger,
} from './triggers.ts';

const DAY_MS = 86_400_000;
/** GitHub's permission levels that may push (`maintain` reads as `write` in this field). */
const WRITERS = new Set(['admin', 'write']);

/**
 * What a delivery asks for, once the repository's settings allow it: the task it starts (a review,
 * a summary, an analysis, a fix), or the message it sends to the task that opened a pull request,
 * with the checks that come first (who may ask, what was reviewed already, the daily limit). Each
 * marks its delivery handled, saying what came of it.
 */
export class GitHubRequests {
  readonly #deps: GitHubServiceDeps;
  /** The agent CLI a repository's .github/supervisor.yml prefers, as last read. */
  readonly #agentCliFor: (repository: string) => AgentCli | undefined;

  constructor(deps: GitHubServiceDeps, agentCliFor: (repository: string) => AgentCli | undefined) {
    this.#deps = deps;
    this.#agentCliFor = agentCliFor;
  }

  /** An issue just opened, in a repository that asks for new issues to be summarized. */
  async newIssue(id: string, issue: NewIssueTrigger): Promise<void> {
    await this.#startSummary(id, {
      ...issue,
      kind: 'command',
      command: 'summarize',
      commentId: null,
      request: '',
    });
  }

  /**
   * Whether `actor` may push to the repository, which asking for work needs. Otherwise the delivery
   * is marked refused, and with `reply` they are told so where they asked.
   */
  async #mayWrite(
    id: string,
    asked: { repository: string; installationId: number | null; number: number; actor: string },
    what: string,
    reply: boolean,
  ): Promise<boolean> {
    const api = this.#deps.clients.for(asked.installationId);
    const [owner, repo] = asked.repository.split('/') as [string, string];
    const { data: access } = await api.rest.repos.getCollaboratorPermissionLevel({
      owner,
      repo,
      username: asked.actor,
    });
    if (WRITERS.has(access.permission)) return true;
    if (reply) {
      await this.#reply(
        asked,
        `@${asked.actor} only people with write access to ${asked.repository} can ask me to ${what}.`,
      );
    }
    await store.markDeliveryHandled(this.#deps.db, id, {
      at: this.#deps.now(),
      outcome: `refused: ${asked.actor} has ${access.permission} access, and ${what} needs write`,
    });
    return false;
  }

  /** A comment on the issue or pull request where something was asked (audited, like every write). */
  async #reply(
    asked: { repository: string; installationId: number | null; number: number },
    body: string,
  ): Promise<void> {
    const [owner, repo] = asked.repository.split('/') as [string, string];
    const { data } = await this.#deps.clients.for(asked.installationId).rest.issues.createComment({
      owner,
      repo,
      issue_number: asked.number,
      body,
      request: NO_RETRY,
    });
    await this.#deps.db.transaction((tx) =>
      appendAudit(tx, {
        at: this.#deps.now(),
        actor: GITHUB_ACTOR,
        action: 'github.comment_posted',
        details: { repository: asked.repository, number: asked.number, comment_id: data.id, reply: true },
      }),
    );
  }

  /**
   * A command (a comment's, or a label's): only from someone who may push to the repository (a
   * reader is told so, and nothing runs). `review` reviews the head commit as if it was just pushed.
   */
  async command(id: string, command: CommandTrigger): Promise<void> {
    if (!(await this.#mayWrite(id, command, command.command, true))) return;
    const api = this.#deps.clients.for(command.installationId);
    const [owner, repo] = command.repository.split('/') as [string, string];
    if (command.command === 'summarize') return this.#startSummary(id, command);
    if (command.command === 'analyze') return this.#startAnalysis(id, command);
    if (CHANGE_COMMANDS.has(command.command)) return this.#startChange(id, command);
    const { data: pull } = await api.rest.pulls.get({ owner, repo, pull_number: command.number });
    await this.review(id, reviewTrigger(command.repository, command.installationId, pull));
  }

  /**
   * Words on a pull request the supervisor opened (a review, or `@supervisor <request>`) from
   * someone with write access: a message to the task that opened it, whose session resumes on its
   * branch and pushes again. Elsewhere, or while that task still runs, they start nothing.
   */
  async message(id: string, message: MessageTrigger): Promise<void> {
    const { db, now } = this.#deps;
    const handled = (outcome: string, taskId?: string) =>
      store.markDeliveryHandled(db, id, { at: now(), outcome, ...(taskId ? { taskId } : {}) });
    const fromComment = message.reviewId === null;
    const link = await store.taskOfPull(db, message.repository, message.number);
    if (!link) {
      if (fromComment) {
        await this.#reply(
          message,
          `@${message.actor} I take requests on pull requests I opened. Here I can: ${COMMANDS.filter((c) => !CHANGE_COMMANDS.has(c)).join(', ')}.`,
        );
      }
      return handled('not a pull request the supervisor opened');
    }
    if (!(await this.#mayWrite(id, message, 'follow up', fromComment))) return;
    const text = await this.#messageText(message);
    if (!text) return handled('the review says nothing to act on');
    const sent = await this.#deps.tasks
      .sendMessage(link.taskId, text, { name: `github:${message.actor}` }, { source: message.source })
      .catch(async (error: unknown) => {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        await this.#reply(message, `@${message.actor} ${error.message}`);
        await handled(`refused: ${error.message}`, link.taskId);
        return undefined;
      });
    if (sent) {
      const waits = sent.message.runBase === null;
      await handled(
        waits ? 'follow-up queued: it runs when the run in progress ends' : 'follow-up sent',
        link.taskId,
      );
    }
  }

  /**
   * A check that failed on the head of a pull request the supervisor opened (not one of its own
   * checks): a message to the task that opened it, with what the check said and its annotations,
   * so the agent fixes it in the same session and pushes again. A failure on an older commit, or on
   * anyone else's pull request, starts nothing; TASK_MESSAGES_MAX bounds the cycles.
   */
  async checkFailed(id: string, check: CheckFailedTrigger): Promise<void> {
    const { db, now } = this.#deps;
    const handled = (outcome: string, taskId?: string) =>
      store.markDeliveryHandled(db, id, { at: now(), outcome, ...(taskId ? { taskId } : {}) });
    if (check.appId !== null && check.appId === this.#deps.clients.describe().appId) {
      return handled('the supervisor’s own check asks for no fix');
    }
    for (const number of check.numbers) {
      const link = await store.taskOfPull(db, check.repository, number);
      if (!link) continue;
      const { task } = await this.#deps.tasks.get(link.taskId);
      if (pushedChangeOf(task.result)?.pushed.commit !== check.headSha) {
        return handled(
          `the check ran on ${check.headSha.slice(0, 12)}, not on the last commit pushed`,
          link.taskId,
        );
      }
      const [owner, repo] = check.repository.split('/') as [string, string];
      const { data: annotations } = await this.#deps.clients
        .for(check.installationId)
        .rest.checks.listAnnotations({ owner, repo, check_run_id: check.checkRunId, per_page: 50 });
      const text = [
        check.text,
        ...annotations.map(
          (a) =>
            `${a.path}:${a.start_line}: ${a.annotation_level ?? 'note'}: ${a.title ? `${a.title}: ` : ''}${a.message ?? ''}`,
        ),
      ]
        .join('\n')
        .slice(0, LIMITS.longTextChars);
      const sent = await this.#deps.tasks
        .sendMessage(
          link.taskId,
          text,
          { name: 'github-check' },
          { source: `github:check_run:${check.checkRunId}` },
        )
        .catch(async (error: unknown) => {
          if (!(error instanceof AppError) || error.status >= 500) throw error;
          await handled(`no fix asked: ${error.message}`, link.taskId);
          return undefined;
        });
      if (sent) await handled('fix asked', link.taskId);
      return;
    }
    return handled('not a pull request the supervisor opened');
  }

  /** A comment's request as it is; a review's body followed by its inline comments, each with its place. */
  async #messageText(message: MessageTrigger): Promise<string> {
    if (message.reviewId === null) return message.text;
    const [owner, repo] = message.repository.split('/') as [string, string];
    const { data: comments } = await this.#deps.clients
      .for(message.installationId)
      .rest.pulls.listCommentsForReview({
        owner,
        repo,
        pull_number: message.number,
        review_id: message.reviewId,
        per_page: 100,
      });
    const inline = comments.map((c) => `On ${c.path}${c.line ? ` line ${c.line}` : ''}: ${c.body}`);
    if (!message.text && inline.length === 0) return '';
    return [`Review by @${message.actor}:`, message.text, ...inline]
      .filter(Boolean)
      .join('\n\n')
      .slice(0, LIMITS.longTextChars);
  }

  /** An ISSUE_SUMMARY of the issue (or pull request) as it reads now: title, body, people's comments. */
  async #startSummary(id: string, command: CommandTrigger): Promise<void> {
    const api = this.#deps.clients.for(command.installationId);
    const [owner, repo] = command.repository.split('/') as [string, string];
    const { data: issue } = await api.rest.issues.get({ owner, repo, issue_number: command.number });
    const { data: comments } = await api.rest.issues.listComments({
      owner,
      repo,
      issue_number: command.number,
      per_page: 50,
    });
    const payload = {
      repository: command.repository,
      issue_number: command.number,
      title: issue.title.slice(0, LIMITS.shortTextChars) || '(untitled)',
      body: (issue.body ?? '').slice(0, LIMITS.longTextChars) || '(empty)',
      comments: comments
        .filter((c) => c.user?.type !== 'Bot' && c.body)
        .map((c) => `${c.user?.login ?? 'someone'}: ${c.body}`.slice(0, LIMITS.longTextChars)),
    };
    await this.#launch(id, {
      submission: { type: 'ISSUE_SUMMARY', payload, priority: 5 },
      // One summary per comment, or one for the issue's opening.
      key: `github:summary:${command.repository}#${command.commentId ?? `${command.number}:opened`}`,
      link: { ...command, headSha: null, url: issue.html_url },
      queued: 'summary queued',
    });
  }

  /**
   * `@supervisor analyze [focus]`: a CODE_ANALYSIS of a pull request's head commit, or of the
   * default branch for an issue, its findings in the tracking comment. The focus is what the
   * comment says after the command, else the issue's title.
   */
  async #startAnalysis(id: string, command: CommandTrigger): Promise<void> {
    const api = this.#deps.clients.for(command.installationId);
    const [owner, repo] = command.repository.split('/') as [string, string];
    const { data: issue } = await api.rest.issues.get({ owner, repo, issue_number: command.number });
    const ref = issue.pull_request
      ? (await api.rest.pulls.get({ owner, repo, pull_number: command.number })).data.head.sha
      : undefined;
    const focus = (command.request || issue.title).slice(0, LIMITS.shortTextChars);
    await this.#launch(id, {
      submission: {
        type: 'CODE_ANALYSIS',
        payload: { repository: command.repository, ...(ref ? { ref } : {}), ...(focus ? { focus } : {}) },
        priority: 5,
      },
      key: `github:analyze:${command.repository}#${command.commentId}`,
      link: { ...command, headSha: null, url: issue.html_url },
      queued: 'analysis queued',
    });
  }

  /**
   * `@supervisor fix` or `implement` on an issue, or their labels: a BUG_FIX or FEATURE task on the
   * default branch, its change pushed as a branch of its own; its update then opens the pull request.
   */
  async #startChange(id: string, command: CommandTrigger): Promise<void> {
    const api = this.#deps.clients.for(command.installationId);
    const [owner, repo] = command.repository.split('/') as [string, string];
    const { data: repository } = await api.rest.repos.get({ owner, repo });
    const { data: issue } = await api.rest.issues.get({ owner, repo, issue_number: command.number });
    const title = issue.title.slice(0, LIMITS.shortTextChars) || '(untitled)';
    // One comment, or one label delivery, asks for one change.
    const source = command.commentId === null ? `label-${id.slice(0, 8)}` : `comment-${command.commentId}`;
    const description = [
      `GitHub issue #${command.number} in ${command.repository}: ${title}`,
      issue.body ?? '',
      command.request ? `@${command.actor} adds: ${command.request}` : '',
    ]
      .filter(Boolean)
      .join('\n\n')
      .slice(0, LIMITS.longTextChars);
    await this.#launch(id, {
      submission: {
        type: command.command === 'fix' ? 'BUG_FIX' : 'FEATURE',
        payload: {
          repository: command.repository,
          base_ref: repository.default_branch,
          description,
          push_branch: `supervisor/${command.command}-${command.number}-${source}`,
        },
        priority: 5,
      },
      key: `github:${command.command}:${command.repository}#${command.number}:${source}`,
      link: { ...command, headSha: null, title, url: issue.html_url },
      queued: `${command.command} queued`,
    });
  }

  async review(id: string, trigger: ReviewTrigger): Promise<void> {
    const { db, now } = this.#deps;
    const reviewed = await store.reviewOfCommit(db, trigger.repository, trigger.number, trigger.headSha);
    const already = `commit ${trigger.headSha.slice(0, 12)} was already reviewed`;
    if (reviewed) {
      await store.markDeliveryHandled(db, id, { at: now(), outcome: already, taskId: reviewed.taskId });
      return;
    }
    const recent = await store.reviewsSince(
      db,
      trigger.repository,
      trigger.number,
      new Date(now().getTime() - DAY_MS),
    );
    if (recent >= this.#deps.reviewsPerPullPerDay) {
      await store.markDeliveryHandled(db, id, {
        at: now(),
        outcome: `not reviewed: ${recent} review${recent === 1 ? '' : 's'} of this pull request in the past day already (GITHUB_REVIEWS_PER_PR_PER_DAY)`,
      });
      return;
    }
    await this.#launch(id, {
      submission: { type: 'PR_REVIEW', payload: trigger.payload, priority: 5 },
      // Keyed by the head commit: any delivery about the same commit (a replay, `reopened`) finds
      // the task of the first, so a commit is reviewed once.
      key: `github:review:${trigger.repository}#${trigger.number}@${trigger.headSha}`,
      link: trigger,
      queued: 'review queued',
      already,
    });
  }

  /**
   * Submits a delivery's task (once per `key`), links it to its issue or pull request and queues
   * its first update, and marks the delivery handled, saying what came of it.
   */
  async #launch(
    id: string,
    start: {
      submission: TaskSubmission;
      key: string;
      link: Pick<GitHubTaskRow, 'repository' | 'installationId' | 'number' | 'headSha'> & {
        title?: string;
        url?: string | null;
      };
      queued: string;
      already?: string;
    },
  ): Promise<void> {
    const { db, now } = this.#deps;
    const agentCli = this.#agentCliFor(start.link.repository);
    const submission = agentCli ? { ...start.submission, agent_cli: agentCli } : start.submission;
    const submitted = await this.#deps.tasks
      .submit(submission, { actor: { name: GITHUB_ACTOR }, idempotencyKey: start.key })
      .catch(async (error: unknown) => {
        if (error instanceof AppError && error.code === 'idempotency_key_reused') {
          return { task: undefined, created: false };
        }
        // A refusal (the repository policy, say) is final: retrying the job would not change it.
        if (error instanceof AppError && error.status < 500) {
          await store.markDeliveryHandled(db, id, { at: now(), outcome: `refused: ${error.message}` });
          return undefined;
        }
        throw error;
      });
    if (!submitted) return;
    const { task, created } = submitted;
    await db.transaction(async (tx) => {
      if (task) {
        const { repository, installationId, number, headSha, title, url } = start.link;
        await store.insertGitHubTask(tx, {
          taskId: task.id,
          repository,
          installationId,
          number,
          headSha,
          ...(title ? { title } : {}),
          ...(url ? { url } : {}),
          createdAt: task.createdAt,
        });
        await queueGitHubUpdate(tx, this.#deps.boss, task.id);
      }
      await store.markDeliveryHandled(tx, id, {
        at: now(),
        outcome: created ? start.queued : (start.already ?? 'already started by an earlier delivery'),
        ...(task ? { taskId: task.id } : {}),
      });
    });
  }
}
