// The page's storage: conversations, their messages and the saved characters in IndexedDB
// (one record per message, so opening the list never reads message text); settings in
// local storage. Upgrades only ever add stores: a new version must never delete data.
const DB_NAME = 'parley-webui';
const DB_VERSION = 1;
let dbPromise = null;

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB_NAME, DB_VERSION);
      r.onupgradeneeded = (e) => {
        const db = r.result;
        if (e.oldVersion < 1) {
          db.createObjectStore('conversations', { keyPath: 'id' });
          db.createObjectStore('messages', { keyPath: 'id' }).createIndex('conv', 'conv');
          db.createObjectStore('characters', { keyPath: 'id' });
        }
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  return dbPromise;
}

// Runs fn(stores...) in one transaction; resolves with fn's result once it commits.
async function inTransaction(names, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(names, mode);
    let result;
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('storage transaction aborted'));
    Promise.resolve(fn(...names.map((n) => t.objectStore(n)))).then((v) => { result = v; }, reject);
  });
}

export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function listConversations() {
  const all = await inTransaction(['conversations'], 'readonly', (c) => done(c.getAll()));
  return all.sort((a, b) => b.updated - a.updated);
}

export function getMessages(convId) {
  return inTransaction(['messages'], 'readonly', (m) => done(m.index('conv').getAll(convId)));
}

export function putConversation(conv) {
  return inTransaction(['conversations'], 'readwrite', (c) => { c.put(conv); });
}

export function putMessage(msg) {
  return inTransaction(['messages'], 'readwrite', (m) => { m.put(msg); });
}

export function deleteMessage(id) {
  return inTransaction(['messages'], 'readwrite', (m) => { m.delete(id); });
}

export function deleteConversation(id) {
  return inTransaction(['conversations', 'messages'], 'readwrite', async (c, m) => {
    c.delete(id);
    const keys = await done(m.index('conv').getAllKeys(id));
    for (const k of keys) m.delete(k);
  });
}

export function listCharacters() {
  return inTransaction(['characters'], 'readonly', (c) => done(c.getAll()));
}

export function putCharacter(ch) {
  return inTransaction(['characters'], 'readwrite', (c) => { c.put(ch); });
}

export function deleteCharacter(id) {
  return inTransaction(['characters'], 'readwrite', (c) => { c.delete(id); });
}

// Everything, as one JSON-able object.
export function exportAll() {
  return inTransaction(['conversations', 'messages', 'characters'], 'readonly', async (c, m, ch) => {
    const [convs, msgs, chars] = await Promise.all([done(c.getAll()), done(m.getAll()), done(ch.getAll())]);
    const byConv = new Map(convs.map((x) => [x.id, { ...x, messages: [] }]));
    for (const msg of msgs) byConv.get(msg.conv)?.messages.push(msg);
    return { format: 'parley-webui', version: 1, exported: new Date().toISOString(),
             conversations: [...byConv.values()], characters: chars };
  });
}

const str = (v, max = 1 << 22) => (typeof v === 'string' ? v.slice(0, max) : '');
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function cleanCharacter(ch) {
  return { name: str(ch?.name, 80) || 'Assistant', system: str(ch?.system) };
}

// Adds (or replaces, by id) what an export holds. Throws on a file that is not one.
export async function importAll(data) {
  if (!data || data.format !== 'parley-webui' || !Array.isArray(data.conversations)) {
    throw new Error('not a Parley export (expected {"format": "parley-webui", "conversations": [...]})');
  }
  const convs = [];
  const msgs = [];
  for (const c of data.conversations) {
    if (typeof c?.id !== 'string' || !Array.isArray(c.messages)) continue;
    convs.push({ id: c.id, title: str(c.title, 200) || 'Imported chat', created: num(c.created),
                 updated: num(c.updated), leaf: str(c.leaf) || null, character: cleanCharacter(c.character) });
    for (const m of c.messages) {
      if (typeof m?.id !== 'string' || (m.role !== 'user' && m.role !== 'assistant')) continue;
      msgs.push({ id: m.id, conv: c.id, parent: str(m.parent) || null, role: m.role, content: str(m.content),
                  created: num(m.created), finish: str(m.finish, 40) || null, error: str(m.error, 2000) || null,
                  figures: m.figures && typeof m.figures === 'object' ? m.figures : null });
    }
  }
  const chars = (Array.isArray(data.characters) ? data.characters : [])
    .filter((c) => typeof c?.id === 'string').map((c) => ({ id: c.id, ...cleanCharacter(c) }));
  await inTransaction(['conversations', 'messages', 'characters'], 'readwrite', (c, m, ch) => {
    convs.forEach((x) => c.put(x));
    msgs.forEach((x) => m.put(x));
    chars.forEach((x) => ch.put(x));
  });
  return { conversations: convs.length, messages: msgs.length, characters: chars.length };
}

const SETTINGS_KEY = 'parley.settings';
const DEFAULT_SETTINGS = { temperature: '', top_p: '', top_k: '', min_p: '', max_tokens: '', apiKey: '' };

export function loadSettings() {
  try {
    return { ...DEFAULT_SETTINGS, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}') };
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}

export function saveSettings(s) {
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(s));
}

const CHARACTER_KEY = 'parley.character';

// The character new chats start with: the one last put to use.
export function loadDefaultCharacter() {
  try {
    return cleanCharacter(JSON.parse(localStorage.getItem(CHARACTER_KEY) || 'null'));
  } catch {
    return cleanCharacter(null);
  }
}

export function saveDefaultCharacter(ch) {
  localStorage.setItem(CHARACTER_KEY, JSON.stringify(cleanCharacter(ch)));
}
