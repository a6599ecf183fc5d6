// The chat page: a list of conversations (IndexedDB, store.js), each a tree of messages
// (edit and regenerate add siblings; the arrows on a message walk its siblings), a
// character per conversation, streamed replies (api.js) rendered as markdown (markdown.js)
// with per-reply figures, settings, export / import. Model output only ever reaches the
// page as text nodes.
import { ApiError, listModels, streamChat } from './api.js';
import { copyText, renderMarkdown } from './markdown.js';
import * as store from './store.js';
import * as tree from './tree.js';

const $ = (id) => document.getElementById(id);
const state = {
  convs: [],        // conversation records, newest first
  conv: null,       // the open conversation (a draft until its first message is saved)
  messages: new Map(),  // id -> message of the open conversation
  characters: [],
  settings: store.loadSettings(),
  busy: null,       // {controller, id} while a reply streams
  editing: null,    // id of the user message being edited
};
const views = new Map();  // message id -> its element

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(label, className, onClick, title) {
  const b = el('button', className, label);
  b.type = 'button';
  if (title) b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

function toast(message) {
  const t = $('toast');
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

// ---- the message tree (tree.js) over the open conversation ----------------------------

const childrenOf = (parentId) => tree.childrenOf(state.messages, parentId);
const deepestFrom = (id) => tree.deepestFrom(state.messages, id);
const pathTo = (leafId) => tree.pathTo(state.messages, leafId);

function newConversation() {
  return { id: store.newId(), title: '', created: Date.now(), updated: Date.now(), leaf: null,
           character: store.loadDefaultCharacter(), draft: true };
}

async function saveConversation(c = state.conv) {
  c.updated = Date.now();
  const { draft, ...record } = c;
  await store.putConversation(record);
  if (draft) delete c.draft;
  await refreshList();
}

function addMessage(role, content, parent) {
  const m = { id: store.newId(), conv: state.conv.id, parent, role, content, created: Date.now(),
              finish: null, error: null, figures: null };
  // Siblings created in the same millisecond still sort in creation order.
  for (const s of childrenOf(parent)) m.created = Math.max(m.created, s.created + 1);
  state.messages.set(m.id, m);
  return m;
}

// ---- conversations list ---------------------------------------------------------------

async function refreshList() {
  state.convs = await store.listConversations();
  renderList();
}

function renderList() {
  const list = $('conv-list');
  list.replaceChildren(...state.convs.map((c) => {
    const li = el('li', c.id === state.conv?.id ? 'conv active' : 'conv');
    li.dataset.id = c.id;
    const open = button(c.title || 'New chat', 'conv-title', () => openConversation(c.id));
    const rename = button('\u270E', 'conv-rename icon', () => startRename(li, c), 'Rename');
    const del = button('\u2715', 'conv-delete icon', async () => {
      if (!del.classList.contains('confirm')) {
        del.classList.add('confirm');
        del.textContent = 'Delete?';
        setTimeout(() => { del.classList.remove('confirm'); del.textContent = '\u2715'; }, 3000);
        return;
      }
      await store.deleteConversation(c.id);
      if (state.conv?.id === c.id) startNewChat();
      await refreshList();
    }, 'Delete');
    li.append(open, rename, del);
    return li;
  }));
}

function startRename(li, c) {
  const input = el('input', 'conv-rename-input');
  input.value = c.title;
  let finished = false;
  const finish = async (save) => {
    if (finished) return;
    finished = true;
    if (save && input.value.trim()) {
      c.title = input.value.trim().slice(0, 200);
      await store.putConversation(c);
      if (state.conv?.id === c.id) state.conv.title = c.title;
    }
    await refreshList();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') finish(true);
    if (e.key === 'Escape') finish(false);
  });
  input.addEventListener('blur', () => finish(true));
  li.replaceChildren(input);
  input.focus();
  input.select();
}

async function openConversation(id) {
  if (state.busy) state.busy.controller.abort();
  const record = state.convs.find((c) => c.id === id);
  if (!record) return;
  state.conv = { ...record };
  state.messages = new Map((await store.getMessages(id)).map((m) => [m.id, m]));
  if (!state.messages.has(state.conv.leaf)) state.conv.leaf = deepestFrom(null);
  state.editing = null;
  location.hash = id;
  closeSidebar();
  renderList();
  renderAll();
}

function startNewChat() {
  if (state.busy) state.busy.controller.abort();
  state.conv = newConversation();
  state.messages = new Map();
  state.editing = null;
  history.replaceState(null, '', location.pathname);
  closeSidebar();
  renderList();
  renderAll();
  $('input').focus();
}

// ---- rendering messages ---------------------------------------------------------------

function renderAll() {
  const box = $('messages');
  views.clear();
  const path = state.conv.leaf ? pathTo(state.conv.leaf) : [];
  const empty = $('empty');
  empty.hidden = path.length > 0;
  box.replaceChildren(empty, ...path.map((m) => {
    const v = el('div');
    views.set(m.id, v);
    renderMessage(m);
    return v;
  }));
  $('character-button').textContent = `\u263A ${state.conv.character.name}`;
  updateComposer();
  box.scrollTop = box.scrollHeight;
}

function figuresText(f) {
  if (!f) return '';
  const parts = [];
  if (f.ttftMs != null) parts.push(`TTFT ${Math.round(f.ttftMs)} ms`);
  if (f.tokensPerSecond != null) parts.push(`${f.tokensPerSecond.toFixed(1)} tok/s`);
  if (f.promptTokens != null) {
    const share = f.promptTokens ? Math.round((100 * (f.cachedTokens || 0)) / f.promptTokens) : 0;
    parts.push(`prompt ${f.promptTokens} tokens, ${f.cachedTokens || 0} cached (${share}%)`);
  }
  if (f.completionTokens != null) parts.push(`${f.completionTokens} generated`);
  return parts.join(' \u00B7 ');
}

function renderMessage(m) {
  const v = views.get(m.id);
  if (!v) return;
  const streaming = state.busy?.id === m.id;
  const path = pathTo(state.conv.leaf);
  const isLast = path[path.length - 1]?.id === m.id;
  v.className = `msg ${m.role}${streaming ? ' streaming' : ''}${m.error ? ' failed' : ''}`;
  v.dataset.id = m.id;
  v.dataset.finish = streaming ? '' : (m.finish || '');
  v.dataset.chars = String(m.content.length);

  const head = el('div', 'msg-head');
  head.append(el('span', 'who', m.role === 'user' ? 'You' : state.conv.character.name));
  const siblings = childrenOf(m.parent).filter((s) => s.role === m.role);
  if (siblings.length > 1) {
    const at = siblings.findIndex((s) => s.id === m.id);
    const go = (d) => () => {
      if (state.busy) return;
      state.conv.leaf = deepestFrom(siblings[at + d].id);
      saveConversation();
      renderAll();
    };
    const nav = el('span', 'branch');
    const prev = button('\u2039', 'branch-prev icon', go(-1), 'Previous version');
    const next = button('\u203A', 'branch-next icon', go(1), 'Next version');
    prev.disabled = at === 0 || !!state.busy;
    next.disabled = at === siblings.length - 1 || !!state.busy;
    nav.append(prev, el('span', 'branch-pos', `${at + 1}/${siblings.length}`), next);
    head.append(nav);
  }

  const body = el('div', 'msg-body');
  if (state.editing === m.id) {
    const area = el('textarea', 'edit-input');
    area.value = m.content;
    area.rows = Math.min(12, m.content.split('\n').length + 1);
    const save = () => editAndBranch(m, area.value);
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        save();
      }
      if (e.key === 'Escape') { state.editing = null; renderMessage(m); }
    });
    const row = el('div', 'row');
    row.append(button('Save and send', 'edit-save primary', save),
               button('Cancel', 'edit-cancel', () => { state.editing = null; renderMessage(m); }));
    body.append(area, row);
    setTimeout(() => area.focus(), 0);
  } else if (m.role === 'user') {
    body.classList.add('plain');
    body.textContent = m.content;
  } else {
    body.classList.add('markdown');
    renderMarkdown(body, m.content);
    if (streaming) body.append(el('span', 'cursor'));
  }
  v.replaceChildren(head, body);

  if (m.error) {
    const err = el('div', 'msg-error');
    err.append(el('span', 'error-text', m.error), button('Retry', 'retry', () => retry(m)));
    v.append(err);
  }
  if (streaming || state.editing === m.id) return;
  const foot = el('div', 'msg-foot');
  if (m.role === 'assistant') {
    const note = m.finish === 'stopped' ? 'stopped' : m.finish === 'length' ? 'cut off (max tokens)' : '';
    foot.append(el('span', 'figures', [figuresText(m.figures), note].filter(Boolean).join(' \u00B7 ')));
  }
  const actions = el('span', 'actions');
  actions.append(button('Copy', 'copy-msg', () => copyText(m.content).then(() => toast('Copied'))));
  if (m.role === 'user') actions.append(button('Edit', 'edit', () => { state.editing = m.id; renderMessage(m); }));
  if (m.role === 'assistant' && isLast) {
    actions.append(button('Regenerate', 'regenerate', () => regenerate(m)));
    if (m.finish !== 'stop' && m.content) actions.append(button('Continue', 'continue', () => continueReply(m)));
  }
  foot.append(actions);
  v.append(foot);
}

let renderPending = new Set();
function scheduleRender(m) {
  if (renderPending.has(m.id)) return;
  renderPending.add(m.id);
  requestAnimationFrame(() => {
    renderPending.delete(m.id);
    const box = $('messages');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    renderMessage(m);
    if (atBottom) box.scrollTop = box.scrollHeight;
  });
}

function updateComposer() {
  $('send').hidden = !!state.busy;
  $('stop').hidden = !state.busy;
}

// ---- generation ------------------------------------------------------------------------

// Streams into `reply` given the conversation up to `history` (whose last message may be
// `reply` itself: continue). Whatever arrived stays, whether the stream ends, is stopped
// or fails.
async function generate(reply, history) {
  const controller = new AbortController();
  state.busy = { controller, id: reply.id };
  reply.error = null;
  reply.finish = null;
  const conv = state.conv;  // the user may open another one while this streams
  renderAll();
  await saveConversation(conv);
  const system = conv.character.system.trim();
  const messages = [...(system ? [{ role: 'system', content: system }] : []),
                    ...history.map((m) => ({ role: m.role, content: m.content }))];
  let lastSave = Date.now();
  try {
    const r = await streamChat({
      messages, settings: state.settings, sessionId: conv.id, signal: controller.signal,
      onDelta: (t) => {
        reply.content += t;
        scheduleRender(reply);
        if (Date.now() - lastSave > 2000) {
          lastSave = Date.now();
          store.putMessage(reply);
        }
      },
    });
    reply.finish = r.finish || 'stop';
    const u = r.usage;
    // Tokens after the first over the time they took; none when they came in one burst.
    const genMs = r.ttftMs != null ? r.lastMs - r.ttftMs : null;
    const tokens = u ? u.completion_tokens : r.chunks;
    reply.figures = {
      ttftMs: r.ttftMs,
      tokensPerSecond: genMs >= 5 && tokens > 1 ? ((tokens - 1) * 1000) / genMs : null,
      promptTokens: u ? u.prompt_tokens : null,
      cachedTokens: u ? (u.prompt_tokens_details?.cached_tokens ?? 0) : null,
      completionTokens: u ? u.completion_tokens : null,
    };
  } catch (e) {
    if (controller.signal.aborted) {
      reply.finish = 'stopped';
    } else {
      reply.error = e instanceof ApiError ? e.message : `request failed: ${e.message}`;
      reply.finish = 'error';
      if (e instanceof ApiError && e.status === 401) reply.error += ' (set the API key in Settings)';
    }
  } finally {
    state.busy = null;
    renderPending.delete(reply.id);
    await store.putMessage(reply);
    await saveConversation(conv);
    if (state.messages.get(reply.id) === reply) renderAll();
  }
}

async function send(text) {
  if (state.busy || !text.trim()) return;
  const c = state.conv;
  if (!c.title) c.title = text.trim().replace(/\s+/g, ' ').slice(0, 60);
  const user = addMessage('user', text, c.leaf);
  await store.putMessage(user);
  const reply = addMessage('assistant', '', user.id);
  c.leaf = reply.id;
  location.hash = c.id;
  await generate(reply, pathTo(user.id));
}

async function regenerate(m) {
  if (state.busy) return;
  const reply = addMessage('assistant', '', m.parent);
  state.conv.leaf = reply.id;
  await generate(reply, pathTo(m.parent));
}

async function editAndBranch(m, text) {
  if (state.busy || !text.trim()) return;
  state.editing = null;
  const user = addMessage('user', text, m.parent);
  await store.putMessage(user);
  const reply = addMessage('assistant', '', user.id);
  state.conv.leaf = reply.id;
  await generate(reply, pathTo(user.id));
}

// The server has no prefill of a final assistant message, so the cut-off reply goes back as
// the last turn and the new text is appended to it.
async function continueReply(m) {
  if (state.busy) return;
  await generate(m, pathTo(m.id));
}

async function retry(m) {
  if (state.busy) return;
  if (!m.content) {
    // Nothing was shown: replace the failed reply.
    state.messages.delete(m.id);
    await store.deleteMessage(m.id);
    const reply = addMessage('assistant', '', m.parent);
    state.conv.leaf = reply.id;
    await generate(reply, pathTo(m.parent));
  } else {
    await regenerate(m);  // the partial reply stays, reachable as the previous version
  }
}

// ---- characters, settings, server --------------------------------------------------------

async function refreshCharacters() {
  state.characters = (await store.listCharacters()).sort((a, b) => a.name.localeCompare(b.name));
  const select = $('character-select');
  const none = el('option', '', state.characters.length ? '(choose one)' : '(none saved yet)');
  none.value = '';
  select.replaceChildren(none, ...state.characters.map((c) => {
    const o = el('option', '', c.name);
    o.value = c.id;
    return o;
  }));
}

function togglePanel(id, show) {
  for (const p of ['character-panel', 'settings-panel']) $(p).hidden = p !== id || !show;
}

function openCharacterPanel() {
  $('character-name').value = state.conv.character.name;
  $('character-system').value = state.conv.character.system;
  refreshCharacters();
  togglePanel('character-panel', $('character-panel').hidden);
}

function characterFromForm() {
  return { name: $('character-name').value.trim().slice(0, 80) || 'Assistant', system: $('character-system').value };
}

const SETTING_FIELDS = ['temperature', 'top_p', 'top_k', 'min_p', 'max_tokens'];

function openSettings() {
  const s = state.settings;
  for (const k of SETTING_FIELDS) $(`set-${k.replace('_', '-')}`).value = s[k] ?? '';
  $('set-api-key').value = s.apiKey;
  togglePanel('settings-panel', $('settings-panel').hidden);
}

async function refreshServer() {
  const status = $('server-status');
  try {
    const models = await listModels(state.settings);
    status.textContent = models.length ? models[0].id : 'no model';
    status.className = 'status ok';
    status.title = models[0]?.max_model_len ? `context ${models[0].max_model_len} tokens` : '';
  } catch (e) {
    const auth = e instanceof ApiError && e.status === 401;
    status.textContent = auth ? 'API key needed' : 'server unreachable';
    status.className = 'status bad';
    status.title = e.message;
  }
}

function closeSidebar() {
  document.body.classList.remove('sidebar-open');
}

// ---- export / import --------------------------------------------------------------------

async function exportAll() {
  const data = await store.exportAll();
  const blob = new Blob([JSON.stringify(data, null, 1)], { type: 'application/json' });
  const a = el('a');
  a.href = URL.createObjectURL(blob);
  a.download = `parley-chats-${new Date().toISOString().slice(0, 10)}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  toast(`Exported ${data.conversations.length} conversations`);
}

async function importFile(file) {
  try {
    const n = await store.importAll(JSON.parse(await file.text()));
    await refreshList();
    await refreshCharacters();
    toast(`Imported ${n.conversations} conversations, ${n.messages} messages, ${n.characters} characters`);
  } catch (e) {
    toast(`Import failed: ${e.message}`);
  }
}

// ---- wiring ----------------------------------------------------------------------------

function wire() {
  const input = $('input');
  const autosize = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
    input.style.overflowY = input.scrollHeight > 240 ? 'auto' : 'hidden';
  };
  input.addEventListener('input', autosize);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim() || state.busy) return;
    input.value = '';
    autosize();
    send(text);
  });
  $('stop').addEventListener('click', () => state.busy?.controller.abort());
  $('new-chat').addEventListener('click', startNewChat);
  $('menu').addEventListener('click', () => document.body.classList.toggle('sidebar-open'));
  $('scrim').addEventListener('click', closeSidebar);
  $('export').addEventListener('click', exportAll);
  $('import-file').addEventListener('change', (e) => {
    if (e.target.files[0]) importFile(e.target.files[0]);
    e.target.value = '';
  });
  $('open-settings').addEventListener('click', () => { closeSidebar(); openSettings(); });
  $('settings-close').addEventListener('click', () => togglePanel('settings-panel', false));
  $('settings-save').addEventListener('click', () => {
    state.settings = { apiKey: $('set-api-key').value.trim() };
    for (const k of SETTING_FIELDS) state.settings[k] = $(`set-${k.replace('_', '-')}`).value;
    store.saveSettings(state.settings);
    togglePanel('settings-panel', false);
    refreshServer();
  });
  $('character-button').addEventListener('click', openCharacterPanel);
  $('character-close').addEventListener('click', () => togglePanel('character-panel', false));
  $('character-select').addEventListener('change', (e) => {
    const c = state.characters.find((x) => x.id === e.target.value);
    if (!c) return;
    $('character-name').value = c.name;
    $('character-system').value = c.system;
  });
  $('character-apply').addEventListener('click', async () => {
    state.conv.character = characterFromForm();
    store.saveDefaultCharacter(state.conv.character);
    if (!state.conv.draft) await saveConversation();
    togglePanel('character-panel', false);
    renderAll();
  });
  $('character-save').addEventListener('click', async () => {
    const c = characterFromForm();
    const existing = state.characters.find((x) => x.name === c.name);
    await store.putCharacter({ id: existing ? existing.id : store.newId(), ...c });
    await refreshCharacters();
    toast(`Saved character ${c.name}`);
  });
  $('character-delete').addEventListener('click', async () => {
    const id = $('character-select').value;
    if (!id) return;
    await store.deleteCharacter(id);
    await refreshCharacters();
  });
}

async function main() {
  wire();
  state.conv = newConversation();
  try {
    await refreshList();
  } catch (e) {
    toast(`Cannot open the browser's storage (IndexedDB): ${e.message}`);
  }
  const wanted = location.hash.slice(1);
  if (wanted && state.convs.some((c) => c.id === wanted)) await openConversation(wanted);
  else renderAll();
  refreshServer();
  document.body.dataset.ready = 'true';
}

main();
