// The Supervisor dashboard: hash routes, one view at a time, all data from /api/v1.
import { ApiError, api, onUnauthorized, query, session, streamTaskChanges, streamTaskEvents } from './api.js';
import { stackedBars } from './charts.js';
import {
  badge,
  facts,
  formatDuration,
  formatNumber,
  formatTime,
  formatUsd,
  h,
  scrollRegion,
  setChildren,
} from './dom.js';

const TASK_TYPES = ['PR_REVIEW', 'ISSUE_SUMMARY', 'CODE_ANALYSIS', 'REFACTOR', 'BUG_FIX', 'FEATURE'];
const MUTATING = new Set(['REFACTOR', 'BUG_FIX', 'FEATURE']);
const STATUSES = ['waiting', 'queued', 'running', 'retrying', 'parked', 'succeeded', 'failed', 'cancelled'];
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
/** What a task's `park_reason` means, in the words of docs/agent-pool.md ("Waiting states"). */
const WAITING = {
  slot: 'queued for a free run slot: every agent that can run it is busy',
  quota: 'parked: the agents that can run it are cooling down or out of quota',
  budget: 'parked: a daily budget is spent',
  no_agent: 'parked: no enabled agent can run it — add, fix or resume one',
};
const CHART_LIMIT = 500;

const main = document.getElementById('main');
const announcer = document.getElementById('announcer');
let viewController = new AbortController();
let signedOut = false;
let devMode = false;

const announce = (text) => {
  announcer.textContent = text;
};

/** Replaces the page's content; `cleanup` work (timers, streams) hangs off the returned signal. */
function mount(title, ...children) {
  document.title = `${title} · Supervisor`;
  setChildren(main, h('h1', {}, title), ...children);
  return viewController.signal;
}

const errorBox = (error) =>
  h(
    'div',
    { class: 'alert', role: 'alert' },
    h('strong', {}, error instanceof ApiError ? `${error.code}: ` : 'Error: '),
    error.message,
    error instanceof ApiError && Array.isArray(error.details)
      ? h(
          'ul',
          {},
          error.details.map((detail) =>
            h('li', {}, `${detail.field ?? ''}: ${detail.message ?? JSON.stringify(detail)}`),
          ),
        )
      : null,
  );

/** Runs `load` now and every `ms` until the view changes. */
function every(ms, signal, load) {
  const timer = setInterval(() => {
    if (!document.hidden) load();
  }, ms);
  signal.addEventListener('abort', () => clearInterval(timer));
  return load();
}

// ---------------------------------------------------------------- sign-in

function showLogin(reason) {
  viewController.abort();
  viewController = new AbortController();
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
  });
  const message = h('div', { 'aria-live': 'assertive' });
  if (reason && session.token()) message.append(errorBox(reason));
  session.signOut();
  updateSession();
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'login-title' },
    h('h2', { id: 'login-title' }, 'Sign in with an API token'),
    h(
      'p',
      { class: 'muted' },
      'The supervisor needs a token. An admin creates one with ',
      h('code', {}, 'supervisor tokens create'),
      '; the first admin token is printed once on first start. It is kept in this tab only (sessionStorage).',
    ),
    h('label', { for: 'token' }, 'API token'),
    input,
    message,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setChildren(message);
    session.signIn(input.value.trim());
    try {
      await fetchProbe();
      signedOut = false;
      updateSession();
      announce('Signed in');
      route();
    } catch (error) {
      session.signOut();
      setChildren(
        message,
        errorBox(
          error.status === 401
            ? new ApiError(401, 'unauthorized', `That token was not accepted: ${error.message}`)
            : error,
        ),
      );
      input.focus();
    }
  });
  mount('Sign in', form);
  input.focus();
}

async function fetchProbe() {
  const response = await fetch('/api/v1/tasks?limit=1', {
    headers: session.token() ? { authorization: `Bearer ${session.token()}` } : {},
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(
      response.status,
      body.error?.code ?? 'http_error',
      body.error?.message ?? response.statusText,
    );
  }
}

function updateSession() {
  const label = document.getElementById('session');
  const button = document.getElementById('sign-out');
  if (session.token()) {
    label.textContent = 'Signed in with a token';
    button.hidden = false;
  } else {
    label.textContent = devMode && !signedOut ? 'Development mode (no token)' : '';
    button.hidden = true;
  }
}

onUnauthorized((error) => {
  signedOut = true;
  showLogin(error);
});

document.getElementById('sign-out').addEventListener('click', () => {
  session.signOut();
  signedOut = true;
  showLogin();
});

// ---------------------------------------------------------------- tasks list

function taskRow(task) {
  // data-label: on a narrow screen each row is a card of labelled lines (the `stack` table style).
  return h(
    'tr',
    {},
    h('td', { 'data-label': 'Task' }, h('a', { href: `#/tasks/${task.id}` }, task.id.slice(0, 8))),
    h('td', { 'data-label': 'Type' }, task.type),
    h('td', { class: 'wrap', 'data-label': 'Repository' }, task.repository),
    h(
      'td',
      { 'data-label': 'Status' },
      badge(task.status),
      task.park_reason
        ? h('span', { class: 'muted small', title: WAITING[task.park_reason] }, ` ${task.park_reason}`)
        : null,
    ),
    h('td', { 'data-label': 'Outcome' }, task.outcome ? badge(task.outcome, 'outcome') : '—'),
    h('td', { class: 'num', 'data-label': 'Attempts' }, `${task.attempts.count}/${task.attempts.max}`),
    h('td', { class: 'num', 'data-label': 'Cost' }, formatUsd(task.cost.usd)),
    h('td', { 'data-label': 'Created' }, formatTime(task.created_at)),
  );
}

function select(id, label, options, value, { any = 'Any' } = {}) {
  return [
    h('label', { for: id }, label),
    h(
      'select',
      { id, name: id },
      any ? h('option', { value: '' }, any) : null,
      options.map((option) => h('option', { value: option, selected: option === value }, option)),
    ),
  ];
}

async function tasksView(params) {
  const filters = {
    status: params.get('status') ?? '',
    type: params.get('type') ?? '',
    repository: params.get('repository') ?? '',
  };
  const summary = h('div', { class: 'stats' });
  const body = h('tbody', {});
  const footer = h('div', { class: 'actions' });
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'filters card', role: 'search', 'aria-label': 'Filter tasks' },
    h('div', { class: 'field' }, select('filter-status', 'Status', STATUSES, filters.status)),
    h('div', { class: 'field' }, select('filter-type', 'Type', TASK_TYPES, filters.type)),
    h(
      'div',
      { class: 'field grow' },
      h('label', { for: 'filter-repository' }, 'Repository'),
      h('input', {
        id: 'filter-repository',
        name: 'repository',
        value: filters.repository,
        placeholder: 'owner/repo or path',
      }),
    ),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Apply')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/tasks${query({
      status: form.elements['filter-status'].value,
      type: form.elements['filter-type'].value,
      repository: form.elements['filter-repository'].value.trim(),
    })}`;
  });
  const signal = mount(
    'Tasks',
    summary,
    form,
    scrollRegion(
      'Tasks, newest first',
      h(
        'table',
        { class: 'stack' },
        h('caption', { class: 'visually-hidden' }, 'Tasks, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Task', 'Type', 'Repository', 'Status', 'Outcome', 'Attempts', 'Cost', 'Created'].map((name) =>
              h('th', { scope: 'col' }, name),
            ),
          ),
        ),
        body,
      ),
      'card',
    ),
    footer,
    status,
  );
  // The list is loaded once (and again after a reconnect); then the status stream keeps it
  // current: a changed row is fetched alone and replaced, a new task is added at the top.
  let shown = 50;
  let rows = [];
  let more = false;
  const rowElements = new WeakMap();
  const oneOf = (list, value) => !list || list.split(',').includes(value);
  const matches = (task) =>
    oneOf(filters.status, task.status) &&
    oneOf(filters.type, task.type) &&
    (!filters.repository || task.repository === filters.repository);
  const newestFirst = (a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id);
  const render = () => {
    setChildren(
      body,
      ...(rows.length
        ? rows.map((task) => {
            if (!rowElements.has(task)) rowElements.set(task, taskRow(task));
            return rowElements.get(task);
          })
        : [h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No tasks match.'))]),
    );
    setChildren(
      footer,
      more && shown < 500
        ? h(
            'button',
            {
              type: 'button',
              class: 'ghost',
              onclick: () => {
                shown = Math.min(500, shown + 50);
                loadList().catch(showError);
              },
            },
            'Show more',
          )
        : null,
    );
  };
  const showError = (error) => {
    if (!signal.aborted && error.status !== 401) setChildren(status, errorBox(error));
  };
  const loadList = async () => {
    const page = await api(`/tasks${query({ ...filters, limit: shown })}`, { signal });
    rows = page.items;
    more = page.next_cursor !== null;
    render();
  };
  const loadStats = async () => {
    const stats = await api('/tasks/stats/summary', { signal });
    setChildren(
      summary,
      stat('Tasks', formatNumber(stats.total)),
      stat('Running', formatNumber(stats.by_status.running)),
      stat('Queued', formatNumber((stats.by_status.queued ?? 0) + (stats.by_status.retrying ?? 0))),
      stat('Succeeded', formatNumber(stats.by_status.succeeded)),
      stat('Failed', formatNumber(stats.by_status.failed)),
      stat('Spend', formatUsd(stats.cost_usd)),
    );
  };
  const load = () => Promise.all([loadList(), loadStats()]).catch(showError);

  /** Puts a task fetched after a change where it belongs: replaced, dropped, or added in order. */
  const place = (task) => {
    const index = rows.findIndex((row) => row.id === task.id);
    if (index >= 0) {
      if (matches(task)) rows[index] = task;
      else rows.splice(index, 1);
    } else if (matches(task) && (rows.length < shown || newestFirst(task, rows.at(-1)) < 0)) {
      rows = [...rows, task].sort(newestFirst);
      if (rows.length > shown) {
        rows.length = shown;
        more = true;
      }
    }
  };
  // Changes are gathered for a moment: a burst costs one look per task, or one list load.
  const BURST = 20;
  const changed = new Set();
  let flushTimer = null;
  const flush = async () => {
    flushTimer = null;
    const ids = [...changed];
    changed.clear();
    if (ids.length > BURST) return load();
    const fresh = await Promise.all(ids.map((id) => api(`/tasks/${id}`, { signal }).catch(() => null)));
    for (const task of fresh) if (task) place(task);
    render();
    await loadStats();
  };
  signal.addEventListener('abort', () => clearTimeout(flushTimer));
  const onChange = (event) => {
    changed.add(event.task_id);
    flushTimer ??= setTimeout(() => flush().catch(showError), 300);
  };
  streamTaskChanges({
    signal,
    onState: (state) => {
      status.textContent =
        state === 'live' ? 'Live: updated as tasks change.' : 'Reconnecting to live updates…';
    },
    onEvent: (type, event) => {
      if (type === 'ready' || type === 'resync') load();
      else if (type === 'status') onChange(event);
    },
  }).catch(showError);
}

const stat = (label, value) =>
  h('div', { class: 'stat card' }, h('span', { class: 'muted' }, label), h('strong', {}, value));

// ---------------------------------------------------------------- task detail

/** One line that says what an event is about. */
function eventSummary(type, data) {
  if (data === null || data === undefined) return '';
  if (type === 'status')
    return `→ ${data.status}${data.reason ? ` (${data.reason})` : ''}${data.error ? `: ${data.error}` : ''}`;
  if (typeof data === 'string') return data;
  if (data.type === 'stream_event' && data.event) {
    const delta = data.event.delta;
    const text = delta?.text ?? delta?.partial_json ?? delta?.stop_reason;
    return `${data.event.type}${text ? `: ${text}` : ''}`;
  }
  if (typeof data.result === 'string') return data.result;
  const content = data.message?.content;
  if (Array.isArray(content)) {
    return content
      .map((part) => {
        if (part.type === 'text') return part.text;
        if (part.type === 'tool_use') return `🔧 ${part.name} ${JSON.stringify(part.input ?? {})}`;
        if (part.type === 'tool_result')
          return `↩ ${typeof part.content === 'string' ? part.content : JSON.stringify(part.content)}`;
        return part.type;
      })
      .join(' ');
  }
  if (typeof data.text === 'string') return data.text;
  if (typeof data.message === 'string') return data.message;
  return JSON.stringify(data);
}

function eventItem(event) {
  const summary = eventSummary(event.type, event.data);
  return h(
    'li',
    { class: `event event-${event.type.replace(/[^a-z_]/gi, '-')}` },
    h('time', { datetime: event.created_at }, new Date(event.created_at).toLocaleTimeString()),
    h('span', { class: 'event-type' }, event.type),
    h(
      'details',
      {},
      h('summary', {}, summary.length > 240 ? `${summary.slice(0, 240)}…` : summary),
      h('pre', {}, JSON.stringify(event.data, null, 2)),
    ),
  );
}

/** Where on GitHub a task came from, and what it posted there. */
function githubLinks(github) {
  const link = (href, text) =>
    href && /^https?:\/\//.test(href)
      ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, text)
      : text;
  const parts = [link(github.url, `${github.repository}#${github.number}`)];
  if (github.pull_url) parts.push(' · ', link(github.pull_url, 'pull request'));
  if (github.review_url) parts.push(' · ', link(github.review_url, 'review'));
  return h('span', { class: 'github-links' }, parts);
}

function renderDiff(text) {
  if (!text) return h('p', { class: 'muted' }, 'The change is empty.');
  return h(
    'pre',
    { class: 'diff', tabindex: 0, 'aria-label': 'Unified diff' },
    text.split('\n').map((line) => {
      const kind =
        line.startsWith('+++') || line.startsWith('---')
          ? 'file'
          : line.startsWith('@@')
            ? 'hunk'
            : line.startsWith('+')
              ? 'add'
              : line.startsWith('-')
                ? 'del'
                : 'ctx';
      return h('span', { class: `line ${kind}` }, `${line}\n`);
    }),
  );
}

async function taskView(id) {
  const header = h('div', { class: 'task-header' });
  const details = h('div', { class: 'card' });
  const result = h('section', { class: 'card', 'aria-labelledby': 'result-title' });
  const diffSection = h('section', { class: 'card', 'aria-labelledby': 'diff-title' });
  const attempts = h('section', { class: 'card', 'aria-labelledby': 'attempts-title' });
  const conversation = h('section', { class: 'card', 'aria-labelledby': 'conversation-title' });
  const approvalSection = h('section', { class: 'card', 'aria-labelledby': 'approval-title', hidden: true });
  const streamState = h('span', { class: 'badge stream', 'aria-live': 'polite' }, 'connecting');
  const eventList = h('ol', { class: 'events', 'aria-label': 'Events' });
  const eventCount = h('span', { class: 'muted' }, '0 events');
  const message = h('div', {});
  const signal = mount(
    'Task',
    header,
    message,
    h(
      'div',
      { class: 'columns' },
      h('div', { class: 'stack' }, details, approvalSection, result, conversation, diffSection, attempts),
      h(
        'section',
        { class: 'card events-card', 'aria-labelledby': 'events-title' },
        h('h2', { id: 'events-title' }, 'Events ', streamState, ' ', eventCount),
        eventList,
      ),
    ),
  );
  let task = null;
  let count = 0;

  const act = async (action) => {
    setChildren(message);
    try {
      await api(`/tasks/${id}/${action}`, { method: 'POST', signal });
      announce(action === 'cancel' ? 'Cancel requested' : 'Queued again');
      await refresh();
      if (action === 'retry') startStream();
    } catch (error) {
      if (!signal.aborted) setChildren(message, errorBox(error));
    }
  };

  const renderTask = () => {
    const title = main.querySelector('h1');
    title.textContent = `${task.type} · ${task.id.slice(0, 8)}`;
    document.title = `${task.type} ${task.id.slice(0, 8)} · Supervisor`;
    setChildren(
      header,
      h('span', { class: 'label' }, 'Status'),
      h('span', { id: 'task-status', 'aria-live': 'polite' }, badge(task.status)),
      task.outcome ? badge(task.outcome, 'outcome') : null,
      h('span', { class: 'spacer' }),
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          disabled: TERMINAL.has(task.status),
          onclick: () => act('cancel'),
        },
        'Cancel',
      ),
      h(
        'button',
        {
          type: 'button',
          disabled: !['failed', 'cancelled'].includes(task.status),
          onclick: () => act('retry'),
        },
        'Retry',
      ),
    );
    setChildren(
      details,
      facts([
        ['Task id', h('code', {}, task.id)],
        ['Repository', task.repository],
        ['Priority', String(task.priority)],
        ['Submitted by', task.submitted_by],
        task.github ? ['GitHub', githubLinks(task.github)] : null,
        ['Created', formatTime(task.created_at)],
        ['Started', formatTime(task.started_at)],
        ['Finished', formatTime(task.finished_at)],
        ['Attempts', `${task.attempts.count} (up to ${task.attempts.max} a run)`],
        ['Cost', formatUsd(task.cost.usd)],
        [
          'Tokens',
          `${formatNumber(task.cost.input_tokens)} in · ${formatNumber(task.cost.output_tokens)} out · ${formatNumber(task.cost.cache_read_tokens)} cache read`,
        ],
        task.park_reason
          ? [
              'Waiting',
              h(
                'span',
                {},
                `${WAITING[task.park_reason] ?? task.park_reason}${task.parked_until ? `, until ${formatTime(task.parked_until)}` : ''}`,
                task.park_detail
                  ? h('details', {}, h('summary', {}, 'Why, agent by agent'), h('pre', {}, task.park_detail))
                  : null,
              ),
            ]
          : null,
        task.question ? ['Question', h('blockquote', { class: 'question' }, task.question)] : null,
        task.error ? ['Error', h('span', { class: 'error-text' }, task.error)] : null,
      ]),
      h('details', {}, h('summary', {}, 'Payload'), h('pre', {}, JSON.stringify(task.payload, null, 2))),
    );
    setChildren(
      result,
      h('h2', { id: 'result-title' }, 'Result'),
      task.result?.text
        ? h('pre', { class: 'result' }, task.result.text)
        : h('p', { class: 'muted' }, TERMINAL.has(task.status) ? 'No result text.' : 'No result yet.'),
    );
    if (!diffSection.dataset.loaded) {
      const workspace = task.result?.data?.workspace;
      setChildren(
        diffSection,
        h('h2', { id: 'diff-title' }, 'Diff'),
        MUTATING.has(task.type)
          ? workspace
            ? h(
                'div',
                {},
                h(
                  'p',
                  { class: 'muted' },
                  `${workspace.files_changed ?? '?'} file(s), +${workspace.insertions ?? '?'} −${workspace.deletions ?? '?'} on branch `,
                  h('code', {}, workspace.branch ?? ''),
                ),
                h('button', { type: 'button', onclick: showDiff }, 'Show diff'),
              )
            : h(
                'p',
                { class: 'muted' },
                TERMINAL.has(task.status)
                  ? 'This task left no change.'
                  : 'The change appears when the task is done.',
              )
          : h('p', { class: 'muted' }, `${task.type} only reads the repository: no diff.`),
      );
    }
  };

  async function showDiff() {
    try {
      const { text, headers } = await api(`/tasks/${id}/diff`, { text: true, signal });
      diffSection.dataset.loaded = 'yes';
      setChildren(
        diffSection,
        h('h2', { id: 'diff-title' }, 'Diff'),
        h(
          'p',
          { class: 'muted' },
          'Branch ',
          h('code', {}, headers.get('x-branch') ?? ''),
          ' at ',
          h('code', {}, (headers.get('x-head-commit') ?? '').slice(0, 12)),
          headers.get('x-diff-truncated') === 'true' ? ' (truncated at 1 MiB)' : '',
        ),
        renderDiff(text),
      );
      diffSection.querySelector('pre.diff')?.focus();
    } catch (error) {
      if (!signal.aborted) diffSection.append(errorBox(error));
    }
  }

  // A finished task takes a message: an answer to its question, or a follow-up to its result.
  const messageBox = h('textarea', { id: 'message-text', rows: 3, maxlength: 20000 });
  const messageLabel = h('label', { for: 'message-text' });
  const sendButton = h('button', { type: 'submit' }, 'Send');
  const messageForm = h(
    'form',
    {
      class: 'message-form',
      onsubmit: async (event) => {
        event.preventDefault();
        setChildren(message);
        sendButton.disabled = true;
        try {
          await api(`/tasks/${id}/messages`, {
            method: 'POST',
            body: { text: messageBox.value },
            signal,
          });
          messageBox.value = '';
          announce(
            task.status === 'running'
              ? 'Message sent: the agent reads it in its next turn'
              : 'Message sent: the task runs again in the same session',
          );
          await refresh();
          startStream();
        } catch (error) {
          if (!signal.aborted) setChildren(message, errorBox(error));
        } finally {
          sendButton.disabled = false;
        }
      },
    },
    messageLabel,
    messageBox,
    h('div', { class: 'actions' }, sendButton),
  );
  const renderConversation = (items) => {
    const open = task.status !== 'waiting' && task.status !== 'cancelled';
    messageLabel.textContent =
      task.outcome === 'needs_input'
        ? 'Answer the agent’s question'
        : task.status === 'succeeded'
          ? 'Follow up (for example “also add a test”)'
          : task.status === 'running'
            ? 'Tell the agent something while it works (it reads it in its next turn)'
            : 'Tell the agent how to go on';
    setChildren(
      conversation,
      h('h2', { id: 'conversation-title' }, 'Conversation'),
      items.length
        ? h(
            'ol',
            { class: 'messages' },
            items.map((item) =>
              h(
                'li',
                {},
                h(
                  'span',
                  { class: 'muted' },
                  `${item.author} · ${formatTime(item.created_at)} · ${MESSAGE_KINDS[item.kind] ?? item.kind}`,
                ),
                h('p', {}, item.text),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No message yet.'),
      open
        ? messageForm
        : h(
            'p',
            { class: 'muted' },
            'Messages can be sent once the task has started, unless it was cancelled.',
          ),
    );
  };

  const renderAttempts = (items) => {
    setChildren(
      attempts,
      h('h2', { id: 'attempts-title' }, 'Attempts'),
      items.length
        ? scrollRegion(
            'Attempts',
            h(
              'table',
              { class: 'compact' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['#', 'Agent', 'Model', 'Outcome', 'Started', 'Ended', 'Requests', 'Cost', 'Error'].map(
                    (name) => h('th', { scope: 'col' }, name),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                items.map((attempt) =>
                  h(
                    'tr',
                    {},
                    h('td', {}, String(attempt.number)),
                    h('td', {}, attempt.agent_id ?? '—'),
                    h('td', {}, attempt.model ?? '—'),
                    h('td', {}, attempt.outcome ? badge(attempt.outcome, 'outcome') : 'running'),
                    h('td', {}, formatTime(attempt.started_at)),
                    h('td', {}, formatTime(attempt.ended_at)),
                    h('td', { class: 'num' }, String(attempt.api_requests)),
                    h('td', { class: 'num' }, formatUsd(attempt.cost_usd)),
                    h('td', { class: 'wrap' }, attempt.error ?? ''),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No attempt yet.'),
    );
  };

  const refresh = async () => {
    try {
      const [fresh, attemptList, messages] = await Promise.all([
        api(`/tasks/${id}`, { signal }),
        api(`/tasks/${id}/attempts`, { signal }),
        api(`/tasks/${id}/messages`, { signal }),
      ]);
      const changed = task?.status !== fresh.status;
      task = fresh;
      renderTask();
      renderAttempts(attemptList.items);
      renderConversation(messages.items);
      approvalSection.hidden = !task.awaiting_approval;
      setChildren(
        approvalSection,
        task.awaiting_approval
          ? [
              h('h2', { id: 'approval-title' }, 'Waiting for your approval'),
              approvalCard(id, task.awaiting_approval, signal, () => refresh().catch(() => {})),
            ]
          : [],
      );
      if (changed) announce(`Task is ${task.status}`);
    } catch (error) {
      if (!signal.aborted && error.status !== 401) setChildren(message, errorBox(error));
      throw error;
    }
  };

  let refreshTimer = null;
  const refreshSoon = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => refresh().catch(() => {}), 150);
  };
  signal.addEventListener('abort', () => clearTimeout(refreshTimer));

  let streaming = false;
  const startStream = () => {
    if (streaming) return;
    streaming = true;
    streamTaskEvents(id, {
      signal,
      isFinished: async () => {
        await refresh();
        return TERMINAL.has(task.status);
      },
      onState: (state) => {
        streamState.textContent = state;
        streamState.className = `badge stream stream-${state}`;
      },
      onEvent: (type, event) => {
        if (type === 'replay_complete') return;
        const atBottom = eventList.scrollTop + eventList.clientHeight >= eventList.scrollHeight - 24;
        eventList.append(eventItem(event));
        count += 1;
        eventCount.textContent = `${count} event${count === 1 ? '' : 's'}`;
        if (atBottom) eventList.scrollTop = eventList.scrollHeight;
        if (event.type === 'status' && task) {
          task = { ...task, status: event.data.status };
          renderTask();
          refreshSoon();
        }
        if (event.type === 'result') refreshSoon();
      },
    })
      .catch((error) => {
        if (!signal.aborted && error.status !== 401) setChildren(message, errorBox(error));
      })
      .finally(() => {
        streaming = false;
      });
  };

  try {
    await refresh();
  } catch {
    return;
  }
  startStream();
  // Cost and attempts change without status events; a slow poll keeps them current.
  every(5000, signal, () => (TERMINAL.has(task.status) ? undefined : refresh().catch(() => {})));
}

// ---------------------------------------------------------------- submit

const FIELDS = {
  PR_REVIEW: [
    ['title', 'Title', 'text', { required: true }],
    ['pr_number', 'Pull request number', 'number'],
    ['description', 'Description', 'textarea'],
    ['diff', 'Diff (unified)', 'textarea', { hint: 'Give a diff or a head ref.' }],
    ['base_ref', 'Base ref', 'text'],
    ['head_ref', 'Head ref', 'text'],
  ],
  ISSUE_SUMMARY: [
    ['title', 'Title', 'text', { required: true }],
    ['issue_number', 'Issue number', 'number'],
    ['body', 'Issue body', 'textarea', { required: true }],
    ['comments', 'Comments', 'list', { hint: 'One comment per line.' }],
  ],
  CODE_ANALYSIS: [
    ['ref', 'Ref', 'text'],
    ['paths', 'Paths', 'list', { hint: 'One path per line, relative to the repository root.' }],
    ['focus', 'Focus', 'text'],
  ],
  CHANGE: [
    ['description', 'Description', 'textarea', { required: true }],
    ['base_ref', 'Base ref', 'text'],
    ['paths', 'Paths', 'list', { hint: 'One path per line, relative to the repository root.' }],
    ['acceptance_criteria', 'Acceptance criteria', 'list', { hint: 'One criterion per line.' }],
  ],
};

function field(name, label, kind, { required = false, hint, ...rest } = {}) {
  const id = `field-${name}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = `${id}-error`;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ');
  const common = { id, name, required, 'aria-describedby': describedBy, ...rest };
  const control =
    kind === 'textarea' || kind === 'list'
      ? h('textarea', { ...common, rows: kind === 'list' ? 3 : 5, 'data-kind': kind })
      : h('input', {
          ...common,
          type: kind,
          'data-kind': kind,
          ...(kind === 'number' ? { min: 1, step: 1 } : {}),
        });
  return h(
    'div',
    { class: 'field' },
    h(
      'div',
      { class: 'label-row' },
      h('label', { for: id }, label),
      required ? h('span', { class: 'required', 'aria-hidden': 'true' }, 'required') : null,
    ),
    control,
    hint ? h('small', { id: hintId, class: 'muted' }, hint) : null,
    h('small', { id: errorId, class: 'field-error', hidden: true }),
  );
}

/** Shows each message at its field (`errors`: field name → message); returns the names it placed. */
function showFieldErrors(form, errors) {
  const placed = [];
  for (const control of form.querySelectorAll('input, textarea, select')) {
    const slot = form.querySelector(`#${control.id}-error`);
    const message = errors[control.name];
    control.toggleAttribute('aria-invalid', Boolean(message));
    if (!slot) continue;
    slot.textContent = message ?? '';
    slot.hidden = !message;
    if (message) placed.push(control.name);
  }
  return placed;
}

/** The API's `details` of a validation error, by the form field they are about. */
function fieldErrorsOf(error) {
  const errors = {};
  for (const detail of Array.isArray(error?.details) ? error.details : []) {
    const name = String(detail.field ?? '')
      .replace(/^body\./, '')
      .replace(/^payload\./, '')
      .split('.')[0];
    if (name && !errors[name]) errors[name] = detail.message;
  }
  return errors;
}

function submitView() {
  const typeSelect = h(
    'select',
    { id: 'field-type', name: 'type' },
    TASK_TYPES.map((type) => h('option', { value: type, selected: type === 'BUG_FIX' }, type)),
  );
  const perType = h('fieldset', { class: 'per-type' });
  const message = h('div', { 'aria-live': 'assertive' });
  const renderFields = () => {
    const type = typeSelect.value;
    const fields = FIELDS[MUTATING.has(type) ? 'CHANGE' : type];
    setChildren(
      perType,
      h('legend', {}, `${type} details`),
      ...fields.map(([name, label, kind, options]) => field(name, label, kind, options)),
    );
  };
  typeSelect.addEventListener('change', renderFields);
  renderFields();
  const form = h(
    'form',
    { class: 'card submit-form', novalidate: true },
    h(
      'div',
      { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'field-type' }, 'Type'), typeSelect),
      field('repository', 'Repository', 'text', {
        required: true,
        placeholder: 'owner/repo, a git URL or an absolute path',
        hint: 'owner/repo, https://…, ssh://…, or a local path (development mode).',
      }),
    ),
    perType,
    h(
      'fieldset',
      { class: 'row' },
      h('legend', {}, 'Scheduling and limits'),
      field('priority', 'Priority (1–10)', 'number', { value: 5, max: 10 }),
      field('max_attempts', 'Max attempts', 'number', { max: 20 }),
      field('max_cost_usd', 'Max cost (USD)', 'number', { step: '0.01', min: '0.01' }),
    ),
    message,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Submit task')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setChildren(message);
    // Required fields are checked here, so an empty one is named at the field before anything is sent.
    const missing = Object.fromEntries(
      [...form.querySelectorAll('[required]')]
        .filter((control) => !control.value.trim())
        .map((control) => [control.name, 'Required.']),
    );
    if (showFieldErrors(form, missing).length) {
      form.querySelector('[aria-invalid]')?.focus();
      return;
    }
    const payload = { repository: form.elements.repository.value.trim() };
    for (const control of perType.querySelectorAll('input, textarea')) {
      const raw = control.value.trim();
      if (!raw) continue;
      const kind = control.dataset.kind;
      payload[control.name] =
        kind === 'number'
          ? Number(raw)
          : kind === 'list'
            ? raw
                .split('\n')
                .map((line) => line.trim())
                .filter(Boolean)
            : raw;
    }
    const body = { type: typeSelect.value, payload };
    for (const name of ['priority', 'max_attempts', 'max_cost_usd']) {
      const raw = form.elements[name].value.trim();
      if (raw) body[name] = Number(raw);
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const task = await api('/tasks', { method: 'POST', body });
      announce('Task submitted');
      location.hash = `#/tasks/${task.id}`;
    } catch (error) {
      // The server's reasons go next to the fields they are about; the rest above the button.
      const placed = showFieldErrors(form, fieldErrorsOf(error));
      if (placed.length) form.querySelector('[aria-invalid]')?.focus();
      else {
        setChildren(message, errorBox(error));
        message.querySelector('[role=alert]')?.focus();
      }
    } finally {
      button.disabled = false;
    }
  });
  mount('Submit a task', form);
}

// ---------------------------------------------------------------- agents

function gauge(window) {
  const id = `gauge-${Math.random().toString(36).slice(2)}`;
  const ratio = window.limit > 0 ? window.used / window.limit : 0;
  const unit = window.metric === 'usd' ? formatUsd : formatNumber;
  return h(
    'div',
    { class: 'gauge' },
    h(
      'label',
      { for: id },
      h('strong', {}, window.name),
      ` ${unit(window.used)} of ${unit(window.limit)} ${window.metric === 'usd' ? '' : window.metric} used · ${window.hours} h ${window.mode}`,
    ),
    h('meter', {
      id,
      min: 0,
      max: window.limit || 1,
      value: window.used,
      low: window.limit * 0.7,
      high: window.limit * 0.9,
      optimum: 0,
    }),
    h(
      'span',
      { class: `muted countdown${ratio >= 1 ? ' warn' : ''}`, 'data-until': window.resets_at },
      `resets in ${formatDuration(new Date(window.resets_at) - Date.now())}`,
    ),
  );
}

function agentCard(agent, reload) {
  const act = async (action) => {
    try {
      await api(`/agents/${encodeURIComponent(agent.id)}/${action}`, { method: 'POST' });
      announce(`Agent ${agent.id} ${action === 'pause' ? 'paused' : 'resumed'}`);
      reload();
    } catch (error) {
      card.append(errorBox(error));
    }
  };
  const card = h(
    'article',
    { class: 'card agent', 'aria-labelledby': `agent-${agent.id}` },
    h(
      'div',
      { class: 'agent-head' },
      h('h2', { id: `agent-${agent.id}` }, agent.id),
      badge(agent.state, 'agent'),
      agent.available ? badge('available', 'agent') : badge('busy or limited', 'agent'),
      h('span', { class: 'spacer' }),
      agent.state === 'active'
        ? h(
            'button',
            {
              type: 'button',
              class: 'ghost',
              onclick: () => act('pause'),
              'aria-label': `Pause ${agent.id}`,
            },
            'Pause',
          )
        : h(
            'button',
            { type: 'button', onclick: () => act('resume'), 'aria-label': `Resume ${agent.id}` },
            'Resume',
          ),
    ),
    agent.state_reason ? h('p', { class: 'error-text' }, agent.state_reason) : null,
    facts([
      ['CLI', agent.cli],
      ['Credential', `${agent.credential_class} · ${agent.credential_fingerprint}`],
      agent.owner ? ['Owner', agent.owner] : null,
      ['Models', agent.models.join(', ')],
      ['Running', `${agent.running} of ${agent.max_concurrent}`],
      agent.quota_reset_at
        ? [
            'Quota resets',
            h(
              'span',
              { class: 'countdown', 'data-until': agent.quota_reset_at },
              formatTime(agent.quota_reset_at),
            ),
          ]
        : null,
    ]),
    agent.windows.length
      ? h('div', { class: 'gauges' }, agent.windows.map(gauge))
      : h('p', { class: 'muted' }, 'No quota windows configured.'),
    agent.cooldowns.length
      ? h(
          'ul',
          { class: 'cooldowns' },
          agent.cooldowns.map((cooldown) =>
            h(
              'li',
              {},
              `${cooldown.model}: cooling down (${cooldown.reason}), `,
              h('span', { class: 'countdown', 'data-until': cooldown.until }, ''),
            ),
          ),
        )
      : null,
  );
  return card;
}

async function agentsView() {
  const list = h('div', { class: 'agents' });
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const signal = mount('Agents', status, list);
  const load = async () => {
    try {
      const { items } = await api('/agents/quota/status', { signal });
      setChildren(
        list,
        ...(items.length
          ? items.map((agent) => agentCard(agent, load))
          : [h('p', { class: 'muted card' }, 'No agents are configured.')]),
      );
      tick();
      status.textContent = `${items.length} agent${items.length === 1 ? '' : 's'} · refreshed every 5 s`;
    } catch (error) {
      if (!signal.aborted && error.status !== 401) setChildren(status, errorBox(error));
    }
  };
  const tick = () => {
    for (const element of list.querySelectorAll('.countdown[data-until]')) {
      const left = new Date(element.dataset.until) - Date.now();
      const text = left > 0 ? `resets in ${formatDuration(left)}` : 'reset due';
      if (element.closest('.cooldowns'))
        element.textContent = left > 0 ? `${formatDuration(left)} left` : 'ending';
      else element.textContent = text;
    }
  };
  const timer = setInterval(tick, 1000);
  signal.addEventListener('abort', () => clearInterval(timer));
  await every(5000, signal, load);
}

// ---------------------------------------------------------------- approvals

const MESSAGE_KINDS = { answer: 'answer', follow_up: 'follow-up', steer: 'sent while it worked' };

/**
 * A tool call an agent waits on, with Approve and Deny (operators and admins; the API refuses
 * others and the error is shown). `done` runs after a decision.
 */
function approvalCard(taskId, approval, signal, done) {
  const note = h('input', {
    type: 'text',
    maxlength: 2000,
    'aria-label': 'Note (the agent reads it with a denial)',
    placeholder: 'Note (optional; the agent reads it with a denial)',
  });
  const status = h('p', { 'aria-live': 'polite' });
  const decide = (decision) => async () => {
    for (const button of buttons) button.disabled = true;
    try {
      await api(`/tasks/${taskId}/approvals/${approval.id}`, {
        method: 'POST',
        body: { decision, ...(note.value.trim() ? { note: note.value.trim() } : {}) },
        signal,
      });
      announce(decision === 'approve' ? 'Approved: the tool call runs' : 'Denied: the agent is told');
      await done();
    } catch (error) {
      if (!signal.aborted) setChildren(status, errorBox(error));
      for (const button of buttons) button.disabled = false;
    }
  };
  const buttons = [
    h('button', { type: 'button', onclick: decide('approve') }, 'Approve'),
    h('button', { type: 'button', class: 'danger', onclick: decide('deny') }, 'Deny'),
  ];
  return h(
    'div',
    { class: 'approval' },
    h('p', {}, h('strong', {}, approval.tool), h('span', { class: 'muted' }, ` · ${approval.reason}`)),
    h('pre', {}, JSON.stringify(approval.input, null, 2)),
    h('p', { class: 'muted' }, `Denied by itself at ${formatTime(approval.expires_at)} if nobody answers.`),
    note,
    h('div', { class: 'actions' }, ...buttons),
    status,
  );
}

// ---------------------------------------------------------------- inbox

/** What waits for a person: questions to answer, tool calls to approve, tasks no agent can run. Refreshed every 5 s. */
async function inboxView() {
  const list = h('div', {});
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const signal = mount('Inbox', status, list);
  const load = async () => {
    try {
      const { items } = await api('/inbox', { signal });
      setChildren(
        list,
        items.length
          ? h(
              'ul',
              { class: 'inbox' },
              items.map((item) =>
                h(
                  'li',
                  { class: 'card' },
                  h(
                    'p',
                    {},
                    badge(item.kind, 'inbox'),
                    ' ',
                    h('a', { href: `#/tasks/${item.task_id}` }, `${item.type} · ${item.task_id.slice(0, 8)}`),
                    h(
                      'span',
                      { class: 'muted' },
                      ` · ${item.repository} · waiting since ${formatTime(item.since)}`,
                    ),
                  ),
                  item.kind === 'question'
                    ? h('blockquote', { class: 'question' }, item.question ?? '')
                    : item.kind === 'approval'
                      ? approvalCard(item.task_id, item.approval, signal, load)
                      : h(
                          'p',
                          { class: 'muted' },
                          'No enabled agent can run it: add, fix or resume one on the Agents page.',
                        ),
                ),
              ),
            )
          : h('p', { class: 'muted card' }, 'Nothing waits for a person.'),
      );
      status.textContent = `${items.length} waiting · refreshed every 5 s`;
    } catch (error) {
      if (!signal.aborted && error.status !== 401) setChildren(status, errorBox(error));
    }
  };
  await every(5000, signal, load);
}

// ---------------------------------------------------------------- charts

async function chartsView() {
  const area = h('div', { class: 'charts' }, h('p', { class: 'muted' }, 'Loading…'));
  const signal = mount(
    'Charts',
    h(
      'p',
      { class: 'muted' },
      `Drawn from the newest ${CHART_LIMIT} tasks (the API's page limit), by hour over the last 24 hours, in your time zone. Tasks beyond those 500 are not counted.`,
    ),
    area,
  );
  try {
    const { items } = await api(`/tasks?limit=${CHART_LIMIT}`, { signal });
    const hour = 3_600_000;
    const end = Math.ceil(Date.now() / hour) * hour;
    const start = end - 24 * hour;
    const buckets = Array.from({ length: 24 }, (_, index) => {
      const at = new Date(start + index * hour);
      return { label: `${String(at.getHours()).padStart(2, '0')}:00`, values: {}, at: at.getTime() };
    });
    const bucketOf = (iso) => {
      if (!iso) return null;
      const time = new Date(iso).getTime();
      return time >= start && time < end ? buckets[Math.floor((time - start) / hour)] : null;
    };
    const add = (bucket, key, value) => {
      if (bucket) bucket.values[key] = (bucket.values[key] ?? 0) + value;
    };
    const throughput = buckets.map((bucket) => ({ ...bucket, values: {} }));
    const outcomes = buckets.map((bucket) => ({ ...bucket, values: {} }));
    const spend = buckets.map((bucket) => ({ ...bucket, values: {} }));
    const pick = (list, iso) => {
      const bucket = bucketOf(iso);
      return bucket ? list[buckets.indexOf(bucket)] : null;
    };
    for (const task of items) {
      add(pick(throughput, task.created_at), 'submitted', 1);
      if (task.finished_at) {
        add(pick(throughput, task.finished_at), 'finished', 1);
        add(pick(outcomes, task.finished_at), task.status, 1);
        add(pick(spend, task.finished_at), MUTATING.has(task.type) ? 'mutating' : 'read_only', task.cost.usd);
      }
    }
    setChildren(
      area,
      stackedBars({
        title: 'Throughput',
        description: 'tasks submitted and finished per hour',
        buckets: throughput,
        series: [
          { key: 'submitted', label: 'Submitted', color: '#7c9cff' },
          { key: 'finished', label: 'Finished', color: '#37b58a' },
        ],
        format: (value) => String(Math.round(value)),
        minTop: 2,
      }),
      stackedBars({
        title: 'Outcomes',
        description: 'finished tasks per hour by final status',
        buckets: outcomes,
        series: [
          { key: 'succeeded', label: 'Succeeded', color: '#37b58a' },
          { key: 'failed', label: 'Failed', color: '#e5484d' },
          { key: 'cancelled', label: 'Cancelled', color: '#a0a4ad' },
        ],
        format: (value) => String(Math.round(value)),
        minTop: 2,
      }),
      stackedBars({
        title: 'Spend',
        description: 'cost of finished tasks per hour (USD)',
        buckets: spend,
        series: [
          { key: 'mutating', label: 'Changes (refactor, fix, feature)', color: '#f5a524' },
          { key: 'read_only', label: 'Read-only (review, summary, analysis)', color: '#7c9cff' },
        ],
        format: (value) =>
          `$${value === 0 ? '0' : value < 0.01 ? value.toFixed(4) : value < 10 ? value.toFixed(2) : value.toFixed(0)}`,
      }),
    );
  } catch (error) {
    if (!signal.aborted && error.status !== 401) setChildren(area, errorBox(error));
  }
}

// ---------------------------------------------------------------- paged tables

/**
 * A table of a listing that pages with `next_cursor`: each page's rows are appended, an empty
 * listing says `empty`, and a button fetches the next page. `load()` fetches the first.
 */
function pagedTable({ caption, columns, empty, moreLabel, fetchPage, row, onError }) {
  const body = h('tbody', {});
  const more = h('div', { class: 'actions' });
  const load = async (cursor) => {
    try {
      const page = await fetchPage(cursor);
      body.append(...page.items.map(row));
      if (!body.children.length)
        body.append(h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, empty)));
      setChildren(
        more,
        page.next_cursor
          ? h('button', { type: 'button', class: 'ghost', onclick: () => load(page.next_cursor) }, moreLabel)
          : null,
      );
    } catch (error) {
      onError(error);
    }
  };
  const elements = [
    scrollRegion(
      caption,
      h(
        'table',
        {},
        h('caption', { class: 'visually-hidden' }, caption),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            columns.map((name) => h('th', { scope: 'col' }, name)),
          ),
        ),
        body,
      ),
      'card',
    ),
    more,
  ];
  return { elements, load };
}

// ---------------------------------------------------------------- audit log

async function auditView(params) {
  const filters = {
    actor: params.get('actor') ?? '',
    action: params.get('action') ?? '',
    task_id: params.get('task_id') ?? '',
  };
  const message = h('div', { 'aria-live': 'polite' });
  const input = (name, label, placeholder) =>
    h(
      'div',
      { class: 'field grow' },
      h('label', { for: `audit-${name}` }, label),
      h('input', { id: `audit-${name}`, name, value: filters[name], placeholder }),
    );
  const form = h(
    'form',
    { class: 'filters card', role: 'search', 'aria-label': 'Filter the audit log' },
    input('actor', 'Actor', 'token name or supervisor'),
    input('action', 'Actions', 'task.submitted,task.cancelled'),
    input('task_id', 'Task id', 'UUID'),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Apply')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/audit${query({
      actor: form.elements.actor.value.trim(),
      action: form.elements.action.value.trim(),
      task_id: form.elements.task_id.value.trim(),
    })}`;
  });
  const table = pagedTable({
    caption: 'Audit records',
    columns: ['Time', 'Actor', 'Action', 'Task', 'Agent', 'Details', 'Hash'],
    empty: 'No records match.',
    moreLabel: 'Load older records',
    fetchPage: (cursor) => api(`/audit-logs${query({ ...filters, limit: 100, cursor })}`, { signal }),
    row: (record) =>
      h(
        'tr',
        {},
        h('td', {}, formatTime(record.at)),
        h('td', {}, record.actor),
        h('td', {}, h('code', {}, record.action)),
        h(
          'td',
          {},
          record.task_id ? h('a', { href: `#/tasks/${record.task_id}` }, record.task_id.slice(0, 8)) : '—',
        ),
        h('td', {}, record.agent_id ?? '—'),
        h(
          'td',
          { class: 'wrap' },
          Object.keys(record.details).length
            ? h(
                'details',
                {},
                h('summary', {}, Object.keys(record.details).join(', ')),
                h('pre', {}, JSON.stringify(record.details, null, 2)),
              )
            : '—',
        ),
        h('td', {}, h('code', { title: record.hash }, record.hash.slice(0, 10))),
      ),
    onError: (error) => {
      if (signal.aborted || error.status === 401) return;
      setChildren(
        message,
        error.status === 403
          ? errorBox(new ApiError(403, 'forbidden', `The audit log is for admins. ${error.message}`))
          : errorBox(error),
      );
    },
  });
  const signal = mount(
    'Audit log',
    h(
      'p',
      { class: 'muted' },
      'Who did what, newest first. Admins only. Each record carries its hash and the previous one’s.',
    ),
    form,
    message,
    ...table.elements,
  );
  await table.load();
}

// ---------------------------------------------------------------- memory

const MEMORY_KINDS = ['review', 'issue_summary', 'analysis', 'change', 'note'];

async function memoryView(params) {
  const filters = {
    repository: params.get('repository') ?? '',
    q: params.get('q') ?? '',
    kind: params.get('kind') ?? '',
    stale: params.get('stale') ?? '',
  };
  const message = h('div', { 'aria-live': 'polite' });
  const field = (control, label) =>
    h('div', { class: 'field grow' }, h('label', { for: control.id }, label), control);
  const select = (name, options) =>
    h(
      'select',
      { id: `memory-${name}`, name },
      options.map(([value, label]) => h('option', { value, selected: filters[name] === value }, label)),
    );
  const form = h(
    'form',
    { class: 'filters card', role: 'search', 'aria-label': 'Search project memory' },
    field(
      h('input', { id: 'memory-q', name: 'q', value: filters.q, placeholder: 'words, any of them' }),
      'Words',
    ),
    field(
      h('input', {
        id: 'memory-repository',
        name: 'repository',
        value: filters.repository,
        placeholder: 'owner/repo',
      }),
      'Repository',
    ),
    field(select('kind', [['', 'any'], ...MEMORY_KINDS.map((kind) => [kind, kind])]), 'Kind'),
    field(
      select('stale', [
        ['', 'current and stale'],
        ['false', 'current only'],
        ['true', 'stale only'],
      ]),
      'State',
    ),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Search')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/memory${query({
      q: form.elements.q.value.trim(),
      repository: form.elements.repository.value.trim(),
      kind: form.elements.kind.value,
      stale: form.elements.stale.value,
    })}`;
  });
  const table = pagedTable({
    caption: 'Memory entries',
    columns: ['Created', 'Repository', 'Kind', 'Entry', 'Files', 'From', 'State'],
    empty: 'No memory entries match.',
    moreLabel: 'Load more',
    fetchPage: (cursor) => api(`/memory${query({ ...filters, limit: 50, cursor })}`, { signal }),
    row: (entry) =>
      h(
        'tr',
        {},
        h('td', {}, formatTime(entry.created_at)),
        h('td', {}, entry.repository ?? h('em', {}, 'global')),
        h('td', {}, h('code', {}, entry.kind)),
        h(
          'td',
          { class: 'wrap' },
          h('details', {}, h('summary', {}, entry.title), h('pre', {}, entry.content)),
        ),
        h('td', { class: 'wrap' }, entry.paths.length ? entry.paths.join(', ') : '—'),
        h(
          'td',
          {},
          entry.task_id
            ? h('a', { href: `#/tasks/${entry.task_id}` }, entry.task_id.slice(0, 8))
            : entry.created_by,
          entry.commit ? h('div', {}, h('code', { title: entry.commit }, entry.commit.slice(0, 10))) : null,
        ),
        h(
          'td',
          {},
          entry.stale
            ? h('span', { title: entry.stale_reason ?? '' }, badge('stale', 'memory'))
            : badge('current', 'memory'),
        ),
      ),
    onError: (error) => {
      if (!signal.aborted && error.status !== 401) setChildren(message, errorBox(error));
    },
  });
  const signal = mount(
    'Memory',
    h(
      'p',
      { class: 'muted' },
      'What earlier tasks found, per repository, with the task and commit it came from. Stale entries cite a file that changed since; they stay out of prompts.',
    ),
    form,
    message,
    ...table.elements,
  );
  await table.load();
}

// ---------------------------------------------------------------- router

const ROUTES = [
  [/^#\/tasks\/([0-9a-f-]{36})$/i, (match) => taskView(match[1]), 'tasks'],
  [/^#\/tasks$/, (_match, params) => tasksView(params), 'tasks'],
  [/^#\/submit$/, () => submitView(), 'submit'],
  [/^#\/agents$/, () => agentsView(), 'agents'],
  [/^#\/inbox$/, () => inboxView(), 'inbox'],
  [/^#\/charts$/, () => chartsView(), 'charts'],
  [/^#\/audit$/, (_match, params) => auditView(params), 'audit'],
  [/^#\/memory$/, (_match, params) => memoryView(params), 'memory'],
];

function route() {
  const hash = location.hash || '#/tasks';
  if (!hash.startsWith('#/')) return;
  viewController.abort();
  viewController = new AbortController();
  const [path, search = ''] = hash.split('?');
  const params = new URLSearchParams(search);
  for (const [pattern, view, section] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    for (const link of document.querySelectorAll('nav a')) {
      if (link.getAttribute('href') === `#/${section}`) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    Promise.resolve(view(match, params)).catch((error) => {
      if (error.status !== 401) main.append(errorBox(error));
    });
    return;
  }
  mount('Not found', h('p', {}, 'No such page. ', h('a', { href: '#/tasks' }, 'Go to the tasks.')));
}

let firstRoute = true;
window.addEventListener('hashchange', () => {
  route();
  if (!firstRoute) main.focus({ preventScroll: true });
});

/** One request first: in development mode it succeeds without a token; otherwise 401 shows the sign-in. */
async function start() {
  try {
    await fetchProbe();
    devMode = !session.token();
  } catch (error) {
    if (error.status === 401) {
      signedOut = true;
      showLogin(error);
      firstRoute = false;
      return;
    }
  }
  updateSession();
  route();
  firstRoute = false;
}

start();
