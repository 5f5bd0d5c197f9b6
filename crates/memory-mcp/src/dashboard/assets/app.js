// The memory dashboard: one page, hash routing, plain DOM. Every figure comes from /api/.
'use strict';

const main = document.getElementById('main');
const nsInput = document.getElementById('ns');
const S = { session: null, ns: '', timer: null, view: 0, trail: null };

// ---------- helpers ----------

/** Builds an element: h('a', {href: '#'}, 'text', child, ...). */
function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(...nodes) { main.replaceChildren(...nodes); }
function card(title, ...children) { return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...children); }
function fail(err) { show(card('Something went wrong', h('p', { class: 'error', role: 'alert' }, err.message || String(err)))); }

async function api(path, options = {}) {
  const headers = Object.assign({ 'Accept': 'application/json' }, options.headers || {});
  const response = await fetch(path, Object.assign({ credentials: 'same-origin' }, options, { headers }));
  if (response.status === 401) { location.href = '/login'; throw new Error('signed out'); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

const fmt = {
  num: (n, d = 0) => (n === null || n === undefined) ? '–' : Number(n).toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d }),
  pct: (x) => (x === null || x === undefined || Number.isNaN(x)) ? '–' : `${(100 * x).toFixed(1)} %`,
  us: (us) => us === null || us === undefined ? '–' : us >= 1e6 ? `${(us / 1e6).toFixed(2)} s` : us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us} µs`,
  ms: (ms) => ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`,
  bytes: (b) => { if (b === null || b === undefined) return '–'; const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; } return `${b.toFixed(i ? 1 : 0)} ${u[i]}`; },
  time: (t) => t ? new Date(t).toLocaleString() : '–',
  short: (s, n = 90) => !s ? '' : s.length > n ? s.slice(0, n - 1) + '…' : s,
};

function outcomeBadge(kind) { const k = kind || 'running'; return h('span', { class: `badge b-${k}` }, k.replace('_', ' ')); }
function tags(list) { return (list || []).map((t) => h('span', { class: 'tag' }, t)); }
function kv(pairs) { return h('dl', { class: 'kv' }, pairs.filter((p) => p).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])); }
function scroll(table) { return h('div', { class: 'scroll' }, table); }
function table(head, rows, numeric = []) {
  return scroll(h('table', {},
    h('thead', {}, h('tr', {}, head.map((c, i) => h('th', { class: numeric.includes(i) ? 'num' : null }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => h('td', { class: numeric.includes(i) ? 'num' : null }, c)))))));
}
function episodeLink(id, text, ns) { return h('a', { href: `#/episode/${id}${qs({ ns: ns || S.ns })}` }, text || `…${id.slice(-8)}`); }
function qs(obj) { const p = new URLSearchParams(); for (const [k, v] of Object.entries(obj)) if (v !== '' && v !== null && v !== undefined) p.set(k, v); const s = p.toString(); return s ? `?${s}` : ''; }
function nsParam() { return `namespace=${encodeURIComponent(S.ns)}`; }

// ---------- routing ----------

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(query || '') };
}

async function route() {
  const view = ++S.view;
  if (S.timer) { clearInterval(S.timer); S.timer = null; }
  const { parts, params } = parseHash();
  if (params.get('ns') && params.get('ns') !== S.ns) { S.ns = params.get('ns'); nsInput.value = S.ns; }
  const page = parts[0] || 'overview';
  for (const a of document.querySelectorAll('#nav a')) {
    const active = a.dataset.page === page || (page === 'episode' && a.dataset.page === 'episodes');
    a.classList.toggle('active', active);
    if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  show(h('p', { class: 'muted' }, 'Loading…'));
  const pages = { overview, episodes, episode, patterns, playground, performance, graph };
  const render = pages[page];
  if (!render) { show(card('Not found', h('p', {}, 'No such page. '), h('a', { href: '#/overview' }, 'Overview'))); return; }
  try { await render(parts.slice(1), params, view); } catch (e) { if (view === S.view) fail(e); }
  document.title = `${page[0].toUpperCase()}${page.slice(1)} · Memory dashboard`;
}

// ---------- overview ----------

const OUTCOMES = ['success', 'partial_success', 'failure', 'abstained', 'running'];

async function overview(_parts, _params, view) {
  const data = await api('/api/overview');
  if (view !== S.view) return;
  const nsCards = data.namespaces.map((n) => {
    const c = n.counts;
    const total = Math.max(1, c.episodes);
    return h('section', { class: 'card ns-card' },
      h('h2', {}, h('a', { href: `#/episodes${qs({ ns: n.name })}` }, n.name)),
      h('div', { class: 'big' }, fmt.num(c.episodes), h('span', { class: 'muted small' }, ' episodes')),
      h('div', { class: 'bar', role: 'img', 'aria-label': 'episodes by outcome' },
        OUTCOMES.map((o) => { const s = h('span', { class: `s-${o}`, title: `${o}: ${c[o]}` }); s.style.width = `${100 * c[o] / total}%`; return s; })),
      h('div', { class: 'legend' }, OUTCOMES.map((o) => h('span', {}, h('i', { class: `s-${o}` }), `${o.replace('_', ' ')} ${fmt.num(c[o])}`))),
      kv([['Patterns', h('a', { href: `#/patterns${qs({ ns: n.name })}` }, fmt.num(c.patterns))], ['Heuristics', fmt.num(n.heuristics)],
        ['Graph', h('a', { href: `#/graph${qs({ ns: n.name })}` }, 'relationships')]]));
  });
  if (data.more_namespaces > 0) {
    nsCards.push(h('section', { class: 'card ns-card', id: 'more-namespaces' }, h('h2', {}, `${fmt.num(data.more_namespaces)} more`),
      h('p', { class: 'muted' }, `The store holds ${fmt.num(data.more_namespaces)} more namespace${data.more_namespaces === 1 ? '' : 's'}: only ${data.namespaces.length} are shown, the server's own and the largest. Type a name in the Namespace box to open another.`)));
  }
  const store = data.store ? card('Store', kv([
    ['Backend', data.store.backend],
    ['Size', fmt.bytes(data.store.database_bytes)],
    ['Episodes', fmt.num(data.store.episodes)], ['Steps', fmt.num(data.store.steps)],
    ['Patterns', fmt.num(data.store.patterns)], ['Sessions', fmt.num(data.store.sessions)],
    ['Vectors', `${fmt.num(data.store.vectors)} (${fmt.num(data.store.episodes_without_vectors)} waiting)`],
    ['Embedder', data.store.embedder ? `${data.store.embedder.id} (${data.store.embedder.dimension} dims${data.store.embedder.semantic ? ', trained model' : ''})` : 'none (text only)'],
    ['Server up', `${fmt.num(data.store.uptime_seconds / 60, 1)} min`],
    ['As of', new Date(data.store.as_of_ms).toLocaleTimeString()],
  ])) : null;
  const recent = card('Recent episodes', data.recent.length ? episodeTable(data.recent) : h('p', { class: 'muted' }, 'No episode recorded yet.'));
  show(h('h1', {}, 'Overview'), h('div', { class: 'grid' }, nsCards, store), recent);
}

function episodeTable(items, ns) {
  return table(['Started', 'Task', 'Outcome', 'Reward', 'Steps', 'Context', 'Tags'],
    items.map((e) => [
      h('span', { class: 'small' }, fmt.time(e.started_at)),
      h('span', { class: 'task' }, episodeLink(e.id, fmt.short(e.task_description), ns || e.namespace)),
      outcomeBadge(e.outcome_kind),
      e.reward === null || e.reward === undefined ? '–' : fmt.num(e.reward, 2),
      fmt.num(e.step_count),
      [e.context.domain, e.context.language, e.context.framework].filter(Boolean).join(' · '),
      tags([...(e.tags || []), ...(e.context.tags || [])]),
    ]), [3, 4]);
}

// ---------- episodes ----------

const FILTERS = ['q', 'domain', 'language', 'outcome', 'tag', 'after', 'before'];
const PAGE_SIZES = [10, 25, 50, 100];

/**
 * Where the listing's page stands in the trail of pages seen since its filters last changed:
 * the trail holds each page's cursor in order (the first page's is ''), so Previous goes one
 * back and the browser's back and forward buttons land on known pages. A page reached another
 * way (a reload, a bookmark) starts a new trail, whose depth is unknown.
 */
function trailAt(key, cursor) {
  if (!S.trail || S.trail.key !== key) S.trail = { key, cursors: [''], known: true };
  let i = S.trail.cursors.indexOf(cursor);
  if (i < 0) { S.trail = { key, cursors: [cursor], known: false }; i = 0; }
  return i;
}

/** The hash of the episode list with the filters of `params`, changed by `changes`. */
function episodesHash(params, changes) {
  const next = { ns: S.ns };
  for (const f of [...FILTERS, 'limit']) next[f] = params.get(f) || '';
  return `#/episodes${qs(Object.assign(next, changes))}`;
}

async function episodes(_parts, params, view) {
  const limit = Math.min(200, Math.max(1, Number(params.get('limit')) || 25));
  const searching = Boolean(params.get('q'));
  const offset = searching ? Math.max(0, Number(params.get('offset')) || 0) : 0;
  const cursor = searching ? '' : (params.get('cursor') || '');
  const query = new URLSearchParams();
  query.set('namespace', S.ns);
  for (const f of FILTERS) if (params.get(f)) query.set(f, params.get(f));
  query.set('limit', limit);
  if (searching) query.set('offset', offset); else if (cursor) query.set('cursor', cursor);
  const data = await api(`/api/episodes?${query}`);
  if (view !== S.view) return;
  const input = (name, label, type = 'text', cls = null) =>
    h('div', { class: cls }, h('label', { for: `f-${name}` }, label), h('input', { id: `f-${name}`, name, type, value: params.get(name) || '' }));
  const outcome = h('select', { id: 'f-outcome', name: 'outcome' }, ['', ...OUTCOMES.slice(0, 4)].map((o) => h('option', { value: o, selected: params.get('outcome') === o && o !== '' }, o || 'any')));
  const form = h('form', { class: 'filters', id: 'episode-filters', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const fd = new FormData(form); const changes = { cursor: '', offset: '' };
    for (const f of FILTERS) changes[f] = (fd.get(f) || '').trim();
    location.hash = episodesHash(params, changes);
  } },
  input('q', 'Search (full text)', 'search', 'wide'), input('domain', 'Domain'), input('language', 'Language'),
  h('div', {}, h('label', { for: 'f-outcome' }, 'Outcome'), outcome), input('tag', 'Tag'),
  input('after', 'Started after', 'date'), input('before', 'Started before', 'date'),
  h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'apply-filters' }, 'Apply'),
    h('a', { href: `#/episodes${qs({ ns: S.ns })}` }, 'Clear')));
  const pager = searching ? searchPager(data, params, offset, limit) : cursorPager(data, params, cursor, limit);
  show(h('h1', {}, 'Episodes ', h('span', { class: 'muted small' }, `in ${data.namespace}`)),
    card(null, form),
    card(data.searched ? 'Search results' : null,
      data.items.length ? h('div', { id: 'episode-list' }, episodeTable(data.items, data.namespace)) : h('p', { class: 'muted', id: 'episode-list' }, 'No episode matches.'),
      pager));
}

/** The listing's pager: Newer and Older by cursor, and the page size. */
function cursorPager(data, params, cursor, limit) {
  const key = JSON.stringify([S.ns, limit, ...FILTERS.map((f) => params.get(f) || '')]);
  const i = trailAt(key, cursor);
  const trail = S.trail;
  const at = (c) => episodesHash(params, { cursor: c });
  const first = i * limit + 1, last = i * limit + data.items.length;
  const range = !data.items.length ? 'none'
    : `${first}–${last}${trail.known ? '' : ' from the page opened'}${data.next ? '' : ' (end)'}`;
  const prev = i > 0 ? h('a', { href: at(trail.cursors[i - 1]), id: 'prev-page' }, '← Newer')
    : !trail.known ? h('a', { href: at(''), id: 'first-page' }, '⇤ Newest') : null;
  const next = data.next ? h('a', { href: at(data.next), id: 'next-page', onclick: () => {
    trail.cursors = trail.cursors.slice(0, i + 1).concat([data.next]);
  } }, 'Older →') : null;
  return h('div', { class: 'pager' }, prev, h('span', { class: 'muted small', id: 'episode-range' }, range), next, pageSize(params, limit));
}

/** The search results' pager: by offset (they are few). */
function searchPager(data, params, offset, limit) {
  const at = (o) => episodesHash(params, { offset: o || '' });
  return h('div', { class: 'pager' },
    offset > 0 ? h('a', { href: at(Math.max(0, offset - limit)), id: 'prev-page' }, '← Previous') : null,
    h('span', { class: 'muted small', id: 'episode-range' }, data.items.length ? `${offset + 1}–${offset + data.items.length}${data.more ? '' : ' (end)'}` : 'none'),
    data.more ? h('a', { href: at(offset + limit), id: 'next-page' }, 'Next →') : null,
    pageSize(params, limit));
}

/** The page size picker: a new size starts again from the first page. */
function pageSize(params, limit) {
  const sizes = PAGE_SIZES.includes(limit) ? PAGE_SIZES : [...PAGE_SIZES, limit].sort((a, b) => a - b);
  return h('span', { class: 'page-size' }, h('label', { for: 'page-size' }, 'Per page'),
    h('select', { id: 'page-size', onchange: (ev) => { location.hash = episodesHash(params, { limit: ev.target.value === '25' ? '' : ev.target.value, cursor: '', offset: '' }); } },
      sizes.map((n) => h('option', { value: n, selected: n === limit }, n))));
}

async function episode(parts, _params, view) {
  const id = parts[0];
  const data = await api(`/api/episodes/${encodeURIComponent(id)}?${nsParam()}`);
  if (view !== S.view) return;
  const e = data.episode;
  const o = e.outcome;
  const outcomeText = o ? [o.verdict, o.reason, o.artifacts && o.artifacts.length ? `artifacts: ${o.artifacts.join(', ')}` : null,
    o.completed && o.completed.length ? `completed: ${o.completed.join(', ')}` : null, o.failed && o.failed.length ? `failed: ${o.failed.join(', ')}` : null,
    o.details].filter(Boolean).join('\n') : 'Running.';
  const steps = e.steps.length ? h('ol', { class: 'timeline', id: 'timeline' }, e.steps.map((s) => {
    const status = s.result.status;
    const text = status === 'success' ? s.result.output : status === 'error' ? s.result.message : '';
    return h('li', { class: `st-${status}` },
      h('div', { class: 'step-head' }, h('span', { class: 'muted small' }, `#${s.seq}`), h('span', { class: 'tool' }, s.tool),
        h('span', {}, s.action), h('span', { class: `badge b-${status}` }, status), h('span', { class: 'muted small' }, fmt.ms(s.latency_ms)),
        s.tokens_used ? h('span', { class: 'muted small' }, `${s.tokens_used} tokens`) : null),
      text ? h('details', {}, h('summary', {}, status === 'error' ? 'error' : 'output'), h('pre', {}, text)) : null,
      s.parameters !== null && s.parameters !== undefined && Object.keys(s.parameters).length ? h('details', {}, h('summary', {}, 'parameters'), h('pre', {}, JSON.stringify(s.parameters, null, 2))) : null);
  })) : h('p', { class: 'muted' }, 'No step logged.');
  const r = e.reward;
  const reward = r ? h('div', {}, kv([['Total', h('strong', {}, fmt.num(r.total, 3))], ['Base', fmt.num(r.base, 3)], ['Efficiency', fmt.num(r.efficiency, 3)], ['Quality', fmt.num(r.quality, 3)]]),
    h('p', { class: 'small muted' }, r.breakdown)) : h('p', { class: 'muted' }, 'Not scored yet.');
  const refl = e.reflection;
  const list = (title, items) => items && items.length ? [h('h3', {}, title), h('ul', {}, items.map((i) => h('li', {}, i)))] : null;
  const reflection = refl ? [list('Worked', refl.successes), list('To improve', refl.improvements), list('Insights', refl.insights)] : h('p', { class: 'muted' }, 'No reflection yet.');
  const related = data.related.length ? table(['Episode', 'Kind', 'Direction'], data.related.map((n) => [episodeLink(n.episode, null, data.namespace), n.via.kind, n.direction])) : h('p', { class: 'muted' }, 'No relationship.');
  const checkpoints = data.checkpoints.length ? table(['At', 'Step', 'Note'], data.checkpoints.map((c) => [fmt.time(c.at), fmt.num(c.step_count), fmt.short(c.note, 300)])) : h('p', { class: 'muted' }, 'No checkpoint.');
  const fed = data.patterns.length ? patternTable(data.patterns, data.namespace) : h('p', { class: 'muted' }, 'It fed no pattern.');
  const del = data.writable ? deleteBox(e.id, data.namespace) : null;
  show(h('h1', {}, fmt.short(e.task_description, 200)),
    card(null, h('div', { class: 'actions' }, outcomeBadge(o ? o.kind : null), h('a', { href: `#/graph/${e.id}${qs({ ns: data.namespace })}` }, 'Graph'), h('a', { href: `#/episodes${qs({ ns: data.namespace })}` }, 'All episodes')),
      kv([['Id', h('span', { class: 'mono' }, e.id)], ['Namespace', e.namespace], ['Type', e.task_type],
        ['Context', [e.context.domain, e.context.language, e.context.framework, e.context.complexity].filter(Boolean).join(' · ') || '–'],
        ['Tags', tags([...(e.tags || []), ...(e.context.tags || [])])], ['Started', fmt.time(e.started_at)], ['Ended', fmt.time(e.ended_at)],
        ['Outcome', h('pre', {}, outcomeText)]]), del),
    h('div', { class: 'cols' }, card('Reward', reward), card('Reflection', reflection)),
    card(`Steps (${e.steps.length})`, steps),
    h('div', { class: 'cols' }, card('Relationships', related), card('Checkpoints', checkpoints)),
    card('Patterns it fed', fed));
}

function deleteBox(id, ns) {
  const box = h('div', { class: 'actions' });
  const ask = h('button', { type: 'button', class: 'danger', id: 'delete', onclick: () => {
    box.replaceChildren(h('div', { class: 'confirm', role: 'alertdialog' },
      h('p', {}, 'Delete this episode for good? Its steps, vectors and relationships go too, and the patterns it fed forget it.'),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', id: 'confirm-delete', onclick: async () => {
          try {
            await api(`/api/episodes/${encodeURIComponent(id)}?namespace=${encodeURIComponent(ns)}`, { method: 'DELETE', headers: { 'X-CSRF-Token': S.session.csrf } });
            location.hash = `#/episodes${qs({ ns })}`;
          } catch (err) { box.append(h('p', { class: 'error', role: 'alert' }, err.message)); }
        } }, 'Delete'),
        h('button', { type: 'button', class: 'secondary', onclick: () => box.replaceChildren(ask) }, 'Cancel'))));
  } }, 'Delete episode…');
  box.append(ask);
  return box;
}

// ---------- patterns ----------

function patternTable(items, ns) {
  return table(['Kind', 'Pattern', 'Scope', 'Episodes', 'Success', 'Confidence', 'Lift', 'Applied / helped / hindered', 'Evidence'],
    items.map((p) => [p.kind.replace('_', ' '), h('span', {}, p.description, p.example ? h('div', { class: 'small muted' }, fmt.short(p.example, 120)) : null), p.scope || 'everywhere',
      `${fmt.num(p.episodes)} (${fmt.num(p.support, 1)})`, fmt.pct(p.success_rate), fmt.num(p.confidence, 3), fmt.num(p.lift, 2),
      `${p.feedback.applied} / ${p.feedback.helped} / ${p.feedback.hindered}`,
      h('span', {}, p.evidence.slice(-3).reverse().map((id) => [episodeLink(id, null, ns), ' ']), p.evidence.length > 3 ? h('span', { class: 'muted small' }, `+${p.evidence.length - 3}`) : null)]),
    [3, 4, 5, 6, 7]);
}

const ORDERS = { Episodes: 'support', Confidence: 'confidence', Lift: 'lift' };

async function patterns(_parts, params, view) {
  const order = params.get('order') || 'confidence';
  const offset = Number(params.get('offset') || 0);
  const data = await api(`/api/patterns?${nsParam()}&order=${encodeURIComponent(order)}&limit=50&offset=${offset}`);
  if (view !== S.view) return;
  const tbl = patternTable(data.patterns, data.namespace);
  for (const th of tbl.querySelectorAll('th')) {
    const key = ORDERS[th.textContent];
    if (!key) continue;
    th.classList.add('sortable');
    if (key === order) th.classList.add('sorted');
    th.addEventListener('click', () => { location.hash = `#/patterns${qs({ ns: S.ns, order: key })}`; });
  }
  const orderSelect = h('select', { id: 'order', onchange: (ev) => { location.hash = `#/patterns${qs({ ns: S.ns, order: ev.target.value })}`; } },
    ['confidence', 'support', 'lift', 'recent'].map((o) => h('option', { value: o, selected: o === order }, o)));
  const page = (o) => `#/patterns${qs({ ns: S.ns, order, offset: o })}`;
  show(h('h1', {}, 'Patterns and heuristics ', h('span', { class: 'muted small' }, `in ${data.namespace}`)),
    card(null, h('div', { class: 'actions' }, h('label', { for: 'order' }, 'Sort by'), orderSelect)),
    card(`Patterns`, data.patterns.length ? h('div', { id: 'pattern-list' }, tbl) : h('p', { class: 'muted', id: 'pattern-list' }, 'Nothing learned yet: patterns come from completed episodes.'),
      h('div', { class: 'pager' }, offset > 0 ? h('a', { href: page(Math.max(0, offset - 50)) }, '← Previous') : null, data.more ? h('a', { href: page(offset + 50) }, 'Next →') : null)),
    card(`Heuristics (${data.heuristics.length})`, data.heuristics.length ? table(['', 'Rule', 'Confidence', 'Episodes', 'Evidence'],
      data.heuristics.map((x) => [h('span', { class: `badge b-${x.kind}` }, x.kind), x.text, fmt.num(x.confidence, 3), `${x.successful_episodes}/${x.episodes}`,
        h('span', {}, x.evidence.slice(-3).map((id) => [episodeLink(id, null, data.namespace), ' ']))]), [2, 3]) : h('p', { class: 'muted' }, 'No heuristic: they need patterns with enough support.')));
}

// ---------- playground ----------

async function playground(_parts, params, view) {
  if (view !== S.view) return;
  const field = (name, label, attrs = {}) => h('div', { class: attrs.wide ? 'wide' : null }, h('label', { for: `p-${name}` }, label),
    attrs.area ? h('textarea', { id: `p-${name}`, name, required: attrs.required }) : h('input', Object.assign({ id: `p-${name}`, name }, attrs.input || {})));
  const out = h('div', { id: 'playground-result' });
  const form = h('form', { class: 'filters', id: 'playground', onsubmit: async (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const body = { namespace: S.ns, task: fd.get('task'), domain: fd.get('domain'), language: fd.get('language'), framework: fd.get('framework'),
      tags: String(fd.get('tags') || '').split(',').map((t) => t.trim()).filter(Boolean), mode: fd.get('mode'),
      limit: Number(fd.get('limit')) || undefined, budget: Number(fd.get('budget')) || undefined };
    out.replaceChildren(h('p', { class: 'muted' }, 'Retrieving…'));
    try {
      const pack = await api('/api/retrieve', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': S.session.csrf }, body: JSON.stringify(body) });
      out.replaceChildren(packView(pack));
    } catch (err) { out.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message)); }
  } },
  field('task', 'Task', { area: true, wide: true, required: true }), field('domain', 'Domain'), field('language', 'Language'), field('framework', 'Framework'),
  field('tags', 'Tags (comma separated)'),
  h('div', {}, h('label', { for: 'p-mode' }, 'Mode'), h('select', { id: 'p-mode', name: 'mode' }, ['hybrid', 'text', 'vector'].map((m) => h('option', { value: m }, m)))),
  field('limit', 'Episodes', { input: { type: 'number', min: 1, max: 50, value: 5 } }), field('budget', 'Token budget', { input: { type: 'number', min: 100, value: 2000 } }),
  h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'retrieve' }, 'Retrieve')));
  const task = params.get('task');
  show(h('h1', {}, 'Retrieval playground ', h('span', { class: 'muted small' }, `in ${S.ns} · read-only, no session is stored`)), card(null, form), out);
  if (task) { form.querySelector('#p-task').value = task; form.requestSubmit(); }
}

function packView(pack) {
  const rows = pack.hits.map((x, i) => {
    const s = x.score;
    const cos = s.similarity === null || s.similarity === undefined ? '–' : `${s.similarity.toFixed(3)}${s.chunk ? `s${s.chunk}` : ''}`;
    return [i + 1, fmt.num(s.total, 3), s.lexical_rank ?? '–', s.semantic_rank ?? '–', s.coverage === null || s.coverage === undefined ? '–' : s.coverage.toFixed(3), cos,
      fmt.num(s.text, 3), fmt.num(s.context, 3), fmt.num(s.reward, 3), fmt.num(s.recency, 3), fmt.num(s.relation, 3), x.in_pack ? 'yes' : 'no',
      h('span', { class: 'hit' }, episodeLink(x.id, fmt.short(x.task_description, 80), pack.namespace), h('div', { class: 'small muted' }, x.reason))];
  });
  return h('div', {},
    card(`Context pack (${pack.token_estimate} of ${pack.token_budget} tokens)`, pack.warnings && pack.warnings.length ? pack.warnings.map((w) => h('p', { class: 'error' }, w)) : null,
      h('pre', { id: 'pack-markdown' }, pack.markdown)),
    card(`Explain: ${pack.candidates_considered} candidates scored, advice from ${pack.neighbours} similar`,
      pack.hits.length ? h('div', { id: 'explain' }, table(['#', 'Score', 'Lex#', 'Sem#', 'Cover', 'Cos', 'Text', 'Context', 'Reward', 'Recency', 'Related', 'In pack', 'Episode'], rows, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
        : h('p', { class: 'muted', id: 'explain' }, 'No episode matched.'),
      pack.patterns.length ? [h('h3', {}, 'Recommended patterns'), h('ul', {}, pack.patterns.map((p) => h('li', {}, `${p.description} `, h('span', { class: 'muted small' }, `confidence ${fmt.num(p.confidence, 2)}, ${fmt.num(p.episodes)} episodes`))))] : null));
}

// ---------- performance ----------

const COLORS = ['#3056d3', '#1f9d55', '#d64545', '#c98a00', '#8a4fd3', '#1a9bb0', '#d3307a', '#667085'];

/** A line chart of series [{name, points: [[ms, value]]}] as inline SVG. */
function chart(title, series, format, floor = 1, cap = Infinity) {
  const W = 600, H = 180, L = 58, R = 8, T = 10, B = 22;
  const all = series.flatMap((s) => s.points);
  const svg = h('svg:svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': title });
  if (all.length < 1) return card(title, h('p', { class: 'muted' }, 'No samples yet.'));
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]), t0 + 1);
  const vmax = Math.min(cap, Math.max(...all.map((p) => p[1] * 1.1), floor));
  const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
  const y = (v) => T + (H - T - B) * (1 - v / vmax);
  for (const f of [0, 0.5, 1]) {
    svg.append(h('svg:line', { x1: L, x2: W - R, y1: y(vmax * f), y2: y(vmax * f), stroke: '#8885', 'stroke-width': 1 }));
    svg.append(h('svg:text', { x: L - 4, y: y(vmax * f) + 4, 'text-anchor': 'end' }, format(vmax * f)));
  }
  svg.append(h('svg:text', { x: L, y: H - 6 }, new Date(t0).toLocaleTimeString()));
  svg.append(h('svg:text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, new Date(t1).toLocaleTimeString()));
  series.forEach((s, i) => {
    if (!s.points.length) return;
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    svg.append(h('svg:path', { d, fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke' }));
  });
  const legend = h('div', { class: 'legend' }, series.map((s, i) => { const sw = h('i'); sw.style.background = COLORS[i % COLORS.length]; return h('span', {}, sw, s.name); }));
  return card(title, svg, legend);
}

/** Rates between consecutive samples of cumulative (hits, misses) pairs. */
function rateSeries(history, pick) {
  const pts = [];
  for (let i = 1; i < history.length; i++) {
    const a = pick(history[i - 1]), b = pick(history[i]);
    if (!a || !b) continue;
    const hits = b[0] - a[0], misses = b[1] - a[1];
    if (hits + misses > 0) pts.push([history[i].at_ms, hits / (hits + misses)]);
  }
  return pts;
}

async function performance(_parts, _params, view) {
  if (!S.session.whole_store) { show(h('h1', {}, 'Performance'), card(null, h('p', { class: 'muted' }, 'The performance figures cover every namespace; this token may use only some.'))); return; }
  const draw = async () => {
    const data = await api('/api/perf');
    if (view !== S.view) return;
    const now = data.now, st = now.storage, hist = data.history;
    const ops = [...now.operations].sort((a, b) => b.count - a.count);
    const top = ops.slice(0, 6).map((o) => o.operation);
    const charts = h('div', { class: 'cols' },
      chart('p95 latency by operation (since start)', top.map((op) => ({ name: op, points: hist.filter((s) => s.p95_us[op] !== undefined).map((s) => [s.at_ms, s.p95_us[op]]) })), fmt.us, 1000),
      chart('Cache hit rate between samples', [
        ...Object.keys((hist[hist.length - 1] || {}).cache || {}).map((tier) => ({ name: tier, points: rateSeries(hist, (s) => s.cache[tier]) })),
        { name: 'statements', points: rateSeries(hist, (s) => s.statements) }], fmt.pct, 1, 1),
      chart('Connections in use', [
        { name: 'readers', points: hist.filter((s) => s.in_use).map((s) => [s.at_ms, s.in_use[0]]) },
        { name: 'writer', points: hist.filter((s) => s.in_use).map((s) => [s.at_ms, s.in_use[1]]) }], (v) => v.toFixed(1)),
      chart('Write queue depth', [{ name: 'depth', points: hist.filter((s) => s.write_queue).map((s) => [s.at_ms, s.write_queue[0]]) }], (v) => v.toFixed(1)));
    const opTable = card('Operations', ops.length ? table(['Operation', 'Calls', 'Mean', 'p50', 'p95', 'p99', 'Max'],
      ops.map((o) => [o.operation, fmt.num(o.count), fmt.us(Math.round(o.mean_us)), fmt.us(o.p50_us), fmt.us(o.p95_us), fmt.us(o.p99_us), fmt.us(o.max_us)]), [1, 2, 3, 4, 5, 6]) : h('p', { class: 'muted' }, 'No operation yet.'));
    const caches = card('Caches', st.caches.length ? table(['Tier', 'Hits', 'Misses', 'Hit rate', 'Entries', 'Bytes', 'Evictions'],
      st.caches.map((c) => [c.tier, fmt.num(c.hits), fmt.num(c.misses), fmt.pct(c.hits / Math.max(1, c.hits + c.misses)), fmt.num(c.entries), `${fmt.bytes(c.bytes)} of ${fmt.bytes(c.capacity_bytes)}`, fmt.num(c.evictions)]), [1, 2, 3, 4, 6]) : h('p', { class: 'muted' }, 'No cache tier.'));
    const s = st.statements, c = st.connections, q = st.write_queue;
    const store = card('Storage', kv([
      s ? ['Statement cache', `${fmt.pct(s.hits / Math.max(1, s.hits + s.misses))} hits (${fmt.num(s.hits)} / ${fmt.num(s.hits + s.misses)}), ${fmt.num(s.cached)} cached`] : null,
      c ? ['Readers', `${c.readers.in_use} of ${c.readers.connections} in use, ${fmt.pct(c.readers.utilisation)} busy, wait p95 ${fmt.us(c.readers.wait.p95_us)}`] : null,
      c ? ['Writer', `${c.writer.in_use} of ${c.writer.connections} in use, ${fmt.pct(c.writer.utilisation)} busy, wait p95 ${fmt.us(c.writer.wait.p95_us)}`] : null,
      q ? ['Write queue', `depth ${q.depth} (max ${q.max_depth}), ${fmt.num(q.commits)} commits of ${fmt.num(q.operations)} operations (${(q.operations / Math.max(1, q.commits)).toFixed(1)} per commit), ${q.failed} failed, ${q.refused || 0} refused`] : null,
      ['Samples', `${hist.length} in the last hour (one every 10 s)`],
    ]));
    show(h('h1', {}, 'Performance ', h('span', { class: 'muted small' }, `refreshed ${new Date().toLocaleTimeString()}`)), charts, h('div', { class: 'cols' }, opTable, h('div', {}, caches, store)));
  };
  await draw();
  if (view === S.view) S.timer = setInterval(() => draw().catch((e) => { if (view === S.view) fail(e); }), 5000);
}

// ---------- graph ----------

const OUTCOME_FILL = { success: '#1f9d55', partial_success: '#c98a00', failure: '#d64545', abstained: '#8a8fa3' };
const GRAPH_W = 900, GRAPH_H = 520;

async function graph(parts, params, view) {
  if (!parts[0]) { await namespaceGraph(params, view); return; }
  const id = parts[0];
  const data = await api(`/api/graph/${encodeURIComponent(id)}?${nsParam()}&depth=${encodeURIComponent(params.get('depth') || 2)}`);
  if (view !== S.view) return;
  const g = data.graph;
  const svg = graphSvg(g, ringLayout(g, data.root), data.root, true);
  show(h('h1', {}, 'Relationship graph'),
    card(null, h('div', { class: 'actions' }, h('span', {}, 'Around ', episodeLink(data.root, null, S.ns)),
      h('span', { class: 'muted small' }, `${g.nodes.length} episodes, ${g.edges.length} edges within ${params.get('depth') || 2} hops`),
      [1, 2, 3].map((d) => h('a', { href: `#/graph/${data.root}${qs({ ns: S.ns, depth: d })}` }, `depth ${d}`)),
      h('a', { href: `#/graph${qs({ ns: S.ns })}`, id: 'whole-namespace' }, 'Whole namespace')),
      g.edges.length ? svg : h('p', { class: 'muted', id: 'graph' }, 'This episode has no relationship.'),
      graphLegend()));
}

/** The namespace's newest relationships, when no episode is chosen. */
async function namespaceGraph(_params, view) {
  const data = await api(`/api/graph?${nsParam()}`);
  if (view !== S.view) return;
  const g = data.graph;
  const many = g.nodes.length > 40;
  const svg = graphSvg(g, forceLayout(g.nodes, g.edges), null, !many);
  const what = `${fmt.num(g.nodes.length)} episodes, ${fmt.num(g.edges.length)} relationships`;
  show(h('h1', {}, 'Relationship graph ', h('span', { class: 'muted small' }, `of ${data.namespace}`)),
    card(null, h('div', { class: 'actions' },
      h('span', { id: 'graph-summary' }, data.more ? `The newest ${fmt.num(data.limit)} relationships (older ones are not drawn): ${what}` : what),
      many ? h('span', { class: 'muted small' }, 'Hover over an episode for its task; click it to open it.') : null),
      g.edges.length ? svg : h('p', { class: 'muted', id: 'graph' }, 'No relationship in this namespace yet: link episodes with `memory relate` or the `relate` tool.'),
      graphLegend()));
}

function graphLegend() {
  const swatch = (color) => { const i = h('i'); i.style.background = color; return i; };
  return h('div', { class: 'legend' }, Object.entries(OUTCOME_FILL).map(([k, v]) => h('span', {}, swatch(v), k.replace('_', ' '))),
    h('span', {}, swatch('#3b82c4'), 'running'));
}

/** Positions around a root: rings by distance from it (breadth first, either direction). */
function ringLayout(g, root) {
  const cx = GRAPH_W / 2, cy = GRAPH_H / 2;
  const depth = new Map([[root, 0]]);
  let frontier = [root];
  while (frontier.length) {
    const next = [];
    for (const n of frontier) for (const e of g.edges) {
      const other = e.from === n ? e.to : e.to === n ? e.from : null;
      if (other && !depth.has(other)) { depth.set(other, depth.get(n) + 1); next.push(other); }
    }
    frontier = next;
  }
  const rings = new Map();
  for (const n of g.nodes) { const d = depth.get(n.id) ?? 1; if (!rings.has(d)) rings.set(d, []); rings.get(d).push(n); }
  const pos = new Map();
  const deepest = Math.max(1, ...rings.keys());
  for (const [d, nodes] of rings) nodes.forEach((n, i) => {
    const a = 2 * Math.PI * i / nodes.length + d * 0.6;
    const r = d === 0 ? 0 : (GRAPH_H / 2 - 50) * d / deepest;
    pos.set(n.id, [cx + r * Math.cos(a) * 1.5, cy + r * Math.sin(a)]);
  });
  return pos;
}

/**
 * Positions for a namespace's graph: a force layout (edges pull their ends together, every
 * pair of episodes pushes apart, a weak pull to the middle keeps apart pieces in view), a
 * fixed number of rounds from a circle in start order, then fitted to the drawing.
 */
function forceLayout(nodes, edges) {
  const n = nodes.length, index = new Map(nodes.map((node, i) => [node.id, i]));
  const x = new Float64Array(n), y = new Float64Array(n);
  nodes.forEach((_, i) => { const a = 2 * Math.PI * i / Math.max(1, n); x[i] = 300 * Math.cos(a); y[i] = 300 * Math.sin(a); });
  const links = edges.map((e) => [index.get(e.from), index.get(e.to)]).filter(([a, b]) => a !== undefined && b !== undefined && a !== b);
  const k = 40;
  let step = 60;
  const rounds = n > 300 ? 80 : 160;
  for (let r = 0; r < rounds; r++) {
    const fx = new Float64Array(n), fy = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      const dx = x[i] - x[j], dy = y[i] - y[j], f = k * k / Math.max(dx * dx + dy * dy, 1);
      fx[i] += dx * f; fy[i] += dy * f; fx[j] -= dx * f; fy[j] -= dy * f;
    }
    for (const [a, b] of links) {
      const dx = x[a] - x[b], dy = y[a] - y[b], f = Math.hypot(dx, dy) / k;
      fx[a] -= dx * f; fy[a] -= dy * f; fx[b] += dx * f; fy[b] += dy * f;
    }
    for (let i = 0; i < n; i++) {
      fx[i] -= x[i] * 0.02; fy[i] -= y[i] * 0.02;
      const f = Math.hypot(fx[i], fy[i]);
      if (f > 0) { const m = Math.min(f, step) / f; x[i] += fx[i] * m; y[i] += fy[i] * m; }
    }
    step = Math.max(1, step * 0.96);
  }
  return fitted(nodes, x, y);
}

/** Scales positions into the drawing, keeping room for labels at the edges. */
function fitted(nodes, x, y) {
  const pad = 40, pos = new Map();
  if (!nodes.length) return pos;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < nodes.length; i++) { x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]); y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]); }
  const sx = (GRAPH_W - 2 * pad) / Math.max(1, x1 - x0), sy = (GRAPH_H - 2 * pad) / Math.max(1, y1 - y0);
  nodes.forEach((node, i) => pos.set(node.id, [
    x1 === x0 ? GRAPH_W / 2 : pad + (x[i] - x0) * sx,
    y1 === y0 ? GRAPH_H / 2 : pad + (y[i] - y0) * sy]));
  return pos;
}

/** The graph as SVG: one line per edge (an arrow but for `related_to`), one link per episode. */
function graphSvg(g, pos, root, labels) {
  const svg = h('svg:svg', { class: 'graph', viewBox: `0 0 ${GRAPH_W} ${GRAPH_H}`, role: 'img', 'aria-label': 'relationship graph', id: 'graph' });
  svg.append(h('svg:defs', {}, h('svg:marker', { id: 'arrow', viewBox: '0 0 10 10', refX: labels ? 22 : 18, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    h('svg:path', { d: 'M0,0 L10,5 L0,10 z', fill: '#888' }))));
  for (const e of g.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    svg.append(h('svg:line', { x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: '#888', 'stroke-width': 1.5, 'marker-end': e.kind === 'related_to' ? null : 'url(#arrow)' },
      h('svg:title', {}, e.kind)));
    if (labels) svg.append(h('svg:text', { x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 - 8, 'text-anchor': 'middle', class: 'edge' }, e.kind));
  }
  for (const n of g.nodes) {
    const [x, y] = pos.get(n.id) || [GRAPH_W / 2, GRAPH_H / 2];
    const task = n.task_description || '(deleted episode)';
    svg.append(h('svg:a', { class: 'node', href: `#/episode/${n.id}${qs({ ns: S.ns })}`, 'data-id': n.id },
      h('svg:circle', { cx: x, cy: y, r: n.id === root ? 14 : labels ? 10 : 7, fill: OUTCOME_FILL[n.outcome] || '#3b82c4', stroke: n.id === root ? '#000' : 'none', 'stroke-width': 2 }),
      labels ? h('svg:text', { x, y: y + 26, 'text-anchor': 'middle' }, fmt.short(task, 28)) : null,
      h('svg:title', {}, `${task} (${n.outcome || 'running'})`)));
  }
  return svg;
}

// ---------- start ----------

async function start() {
  try {
    S.session = await api('/api/session');
  } catch (e) { fail(e); return; }
  const s = S.session;
  document.getElementById('version').textContent = `self-learning-memory ${s.version}`;
  S.ns = new URLSearchParams((location.hash.split('?')[1]) || '').get('ns') || s.default_namespace || '';
  nsInput.value = S.ns;
  document.getElementById('ns-list').replaceChildren(...s.namespaces.map((n) => h('option', { value: n.name }, `${n.access}`)));
  nsInput.addEventListener('change', () => {
    S.ns = nsInput.value.trim();
    const { parts } = parseHash();
    const page = parts[0] === 'episode' ? 'episodes' : (parts[0] || 'overview');
    location.hash = `#/${page}${qs({ ns: S.ns })}`;
  });
  if (s.signed_in) document.getElementById('logout').hidden = false;
  window.addEventListener('hashchange', route);
  if (!location.hash) location.hash = '#/overview'; else route();
}

start();
