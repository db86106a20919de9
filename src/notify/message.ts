import type { AlertKind, Severity } from './alerts.ts';

/**
 * One notification as every channel renders it, and the pure renderers: plain text (email, logs),
 * Slack blocks and the Standard Webhooks payload. A message must be useful on its own: what
 * happened, to which task or agent, why (the outcome's evidence), what to do, and where to look.
 */

export type { Severity };
export type NotificationKind = AlertKind | 'summary' | 'test';

export interface NotificationSubject {
  taskId?: string;
  agentId?: string;
  /** A service the supervisor depends on: `database`, `redis`, `model_api`. */
  component?: string;
  /** A batch submission (POST /tasks/batch). */
  submissionId?: string;
}

export interface Notification {
  /**
   * Stable for this notification across delivery retries: it is the webhook-id and the basis of the
   * email Message-ID, so receivers can drop a duplicate when a retry follows a lost acknowledgement.
   */
  id: string;
  kind: NotificationKind;
  severity: Severity;
  /** One line. With `count` > 1 it should say how many; `headline` adds the count when it does not. */
  title: string;
  /** What happened, in a sentence or two. */
  what: string;
  subject: NotificationSubject;
  /** The evidence behind it: the outcome's error, the signal that classified it. */
  why?: string;
  /** What the reader should do about it. */
  action: string;
  /** Where to look in the dashboard (or the API until the dashboard has the page). */
  link?: string;
  /** How many events this one message stands for (a storm is grouped into one message); ≥ 1. */
  count: number;
  firstAt: Date;
  lastAt: Date;
  /** When the notification was made; the same for every delivery attempt. */
  at: Date;
  /** A tool call waiting for a person: Slack shows Approve and Deny buttons for it. */
  approval?: { taskId: string; approvalId: string };
}

const SEVERITY_LABEL = { info: 'INFO', warning: 'WARNING', critical: 'CRITICAL' } as const;
const SEVERITY_EMOJI = {
  info: ':information_source:',
  warning: ':warning:',
  critical: ':rotating_light:',
} as const;

/** The title, with the count added when a grouped notification's title does not already give it. */
export function headline(n: Notification): string {
  if (n.count <= 1 || new RegExp(`(^|\\D)${n.count}(\\D|$)`).test(n.title)) return n.title;
  return `${n.title} (${n.count} times in ${duration(n.lastAt.getTime() - n.firstAt.getTime())})`;
}

function duration(ms: number): string {
  const seconds = Math.max(1, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** `2026-11-24 10:00:00 UTC`: readers compare it with their logs, which are in UTC too. */
function utc(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** When it happened: one time, or the span a grouped notification covers. */
export function when(n: Notification): string {
  if (n.count <= 1) return utc(n.firstAt);
  const first = utc(n.firstAt);
  const last = utc(n.lastAt);
  // Same day: the second time without the date.
  const end = first.slice(0, 10) === last.slice(0, 10) ? last.slice(11) : last;
  return `${n.count} events, ${first.slice(0, -4)} – ${end}`;
}

function subjectLines(subject: NotificationSubject): Array<[label: string, value: string]> {
  const lines: Array<[string, string]> = [];
  if (subject.taskId) lines.push(['Task', subject.taskId]);
  if (subject.agentId) lines.push(['Agent', subject.agentId]);
  if (subject.component) lines.push(['Component', subject.component]);
  if (subject.submissionId) lines.push(['Batch', subject.submissionId]);
  return lines;
}

/** A labelled paragraph; a value that spans lines starts on its own line, indented. */
function paragraph(label: string, value: string): string {
  const text = value.trim();
  return text.includes('\n') ? `${label}:\n${text.replace(/^/gm, '  ')}` : `${label}: ${text}`;
}

/** The plain-text message: the email body, and what a log or CLI shows. */
export function toText(n: Notification): string {
  const subject = subjectLines(n.subject);
  return [
    `[${SEVERITY_LABEL[n.severity]}] ${headline(n)}`,
    n.what.trim(),
    ...(subject.length ? [subject.map(([label, value]) => `${label}: ${value}`).join('\n')] : []),
    ...(n.why?.trim() ? [paragraph('Why', n.why)] : []),
    paragraph('What to do', n.action),
    ...(n.link ? [`Open: ${n.link}`] : []),
    `When: ${when(n)}`,
    `-- \nsupervisor · ${n.kind} · ${n.severity} · notification ${n.id}`,
  ].join('\n\n');
}

/** The Block Kit blocks we use; structurally what chat.postMessage accepts. */
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: boolean } }
  | { type: 'section'; text: SlackText }
  | { type: 'section'; fields: SlackText[] }
  | { type: 'context'; elements: SlackText[] }
  | { type: 'actions'; block_id: string; elements: SlackButton[] };
export interface SlackButton {
  type: 'button';
  action_id: string;
  text: { type: 'plain_text'; text: string };
  style: 'primary' | 'danger';
  value: string;
}
export interface SlackText {
  type: 'mrkdwn';
  text: string;
}

/** Slack's limits: longer texts make chat.postMessage fail with invalid_blocks. */
const SLACK_HEADER_MAX = 150;
const SLACK_SECTION_MAX = 3000;
const SLACK_FALLBACK_MAX = 3000;

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** mrkdwn treats these three as markup (links, mentions); Slack's documented escaping. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function mrkdwn(text: string, max = SLACK_SECTION_MAX): SlackText {
  return { type: 'mrkdwn', text: truncate(text, max) };
}

/** A `<url|label>` link; `|` and `>` inside the URL would end it early. */
function slackLink(url: string, label: string): string {
  return `<${escapeMrkdwn(url).replace(/\|/g, '%7C')}|${label}>`;
}

/** The chat.postMessage `text` (notifications, screen readers, clients without blocks) and `blocks`. */
export function toSlackBlocks(n: Notification): { text: string; blocks: SlackBlock[] } {
  const title = headline(n);
  const subject = subjectLines(n.subject);
  const why = n.why?.trim();
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title, SLACK_HEADER_MAX), emoji: true } },
    { type: 'section', text: mrkdwn(escapeMrkdwn(n.what.trim())) },
  ];
  if (subject.length) {
    blocks.push({
      type: 'section',
      fields: subject.map(([label, value]) => mrkdwn(`*${label}*\n\`${escapeMrkdwn(value)}\``, 2000)),
    });
  }
  if (why) {
    // Evidence is often a log excerpt: a code block keeps its lines and stops it reading as markup.
    const body = why.includes('\n') ? `\`\`\`${why.replace(/```/g, "'''")}\`\`\`` : why;
    blocks.push({ type: 'section', text: mrkdwn(`*Why*\n${escapeMrkdwn(body)}`) });
  }
  blocks.push({ type: 'section', text: mrkdwn(`*What to do*\n${escapeMrkdwn(n.action.trim())}`) });
  if (n.link) blocks.push({ type: 'section', text: mrkdwn(slackLink(n.link, 'Open in the dashboard')) });
  if (n.approval) blocks.push(approvalButtons(n.approval));
  blocks.push({
    type: 'context',
    elements: [
      mrkdwn(
        `${SEVERITY_EMOJI[n.severity]} ${n.severity} · ${n.kind} · ${when(n)} · id ${escapeMrkdwn(n.id)}`,
      ),
    ],
  });
  const text = truncate(
    `${SEVERITY_LABEL[n.severity]}: ${escapeMrkdwn(title)}. ${escapeMrkdwn(n.what.trim())}`,
    SLACK_FALLBACK_MAX,
  );
  return { text, blocks };
}

/** Action ids of the approval buttons, read back by POST /api/v1/slack/interactions. */
export const SLACK_APPROVAL_ACTIONS = { approve: 'approval_approve', deny: 'approval_deny' } as const;

function approvalButtons(approval: { taskId: string; approvalId: string }): SlackBlock {
  const value = `${approval.taskId}:${approval.approvalId}`;
  return {
    type: 'actions',
    block_id: `approval:${approval.approvalId}`,
    elements: [
      {
        type: 'button',
        action_id: SLACK_APPROVAL_ACTIONS.approve,
        text: { type: 'plain_text', text: 'Approve' },
        style: 'primary',
        value,
      },
      {
        type: 'button',
        action_id: SLACK_APPROVAL_ACTIONS.deny,
        text: { type: 'plain_text', text: 'Deny' },
        style: 'danger',
        value,
      },
    ],
  };
}

/** The JSON body of a webhook, in the Standard Webhooks shape (`type`, `timestamp`, `data`). */
export interface WebhookPayload {
  type: `supervisor.${NotificationKind}`;
  /** When the notification was made (ISO 8601); the delivery time is the webhook-timestamp header. */
  timestamp: string;
  data: {
    id: string;
    kind: NotificationKind;
    severity: Severity;
    title: string;
    what: string;
    subject: {
      task_id: string | null;
      agent_id: string | null;
      component: string | null;
      submission_id: string | null;
    };
    why: string | null;
    action: string;
    link: string | null;
    count: number;
    first_at: string;
    last_at: string;
  };
}

/** Field names follow the REST API (snake_case); absent values are null so the shape never varies. */
export function toWebhookPayload(n: Notification): WebhookPayload {
  return {
    type: `supervisor.${n.kind}`,
    timestamp: n.at.toISOString(),
    data: {
      id: n.id,
      kind: n.kind,
      severity: n.severity,
      title: headline(n),
      what: n.what,
      subject: {
        task_id: n.subject.taskId ?? null,
        agent_id: n.subject.agentId ?? null,
        component: n.subject.component ?? null,
        submission_id: n.subject.submissionId ?? null,
      },
      why: n.why ?? null,
      action: n.action,
      link: n.link ?? null,
      count: n.count,
      first_at: n.firstAt.toISOString(),
      last_at: n.lastAt.toISOString(),
    },
  };
}
