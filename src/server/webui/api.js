// The page's calls to this server's OpenAI API. Every call carries the API key (when one is
// set) in the Authorization header and the conversation id as X-Session-Id, so a fleet's
// sticky routing keeps a conversation on the server that holds its cache.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(settings, sessionId) {
  const h = { 'Content-Type': 'application/json' };
  if (settings.apiKey) h.Authorization = `Bearer ${settings.apiKey}`;
  if (sessionId) h['X-Session-Id'] = sessionId;
  return h;
}

async function errorOf(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body?.error?.message) message = `${res.status}: ${body.error.message}`;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message);
}

// The server's models (GET /v1/models).
export async function listModels(settings) {
  const res = await fetch('/v1/models', { headers: headers(settings, '') });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()).data || [];
}

function numberOr(value, fallback) {
  const n = Number(value);
  return value === '' || value === null || value === undefined || !Number.isFinite(n) ? fallback : n;
}

// Streams one chat completion. onDelta(text) gets each piece of content. Resolves with
// {finish, usage, ttftMs, lastMs, totalMs, chunks} (times since the request left, lastMs:
// the last piece of content); usage is null when the server sent none. Throws
// ApiError (HTTP or in-stream errors), or the AbortError of `signal`.
export async function streamChat({ messages, settings, sessionId, signal, onDelta }) {
  const body = { messages, stream: true, stream_options: { include_usage: true } };
  // Empty settings are left out: the server's defaults apply.
  for (const [key, round] of [['temperature', false], ['top_p', false], ['top_k', true],
                              ['min_p', false], ['max_tokens', true]]) {
    const v = numberOr(settings[key], null);
    if (v !== null) body[key] = round ? Math.round(v) : v;
  }
  const start = performance.now();
  const res = await fetch('/v1/chat/completions', {
    method: 'POST', headers: headers(settings, sessionId), body: JSON.stringify(body), signal,
  });
  if (!res.ok) throw await errorOf(res);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const out = { finish: null, usage: null, ttftMs: null, lastMs: null, totalMs: null, chunks: 0 };
  let buffer = '';
  let finished = false;
  const handle = (data) => {
    if (data === '[DONE]') {
      finished = true;
      return;
    }
    const j = JSON.parse(data);
    if (j.error) throw new ApiError(j.error.code || 500, `error: ${j.error.message}`);
    if (j.usage) out.usage = j.usage;
    const choice = j.choices?.[0];
    if (!choice) return;
    const text = choice.delta?.content;
    if (text) {
      out.lastMs = performance.now() - start;
      if (out.ttftMs === null) out.ttftMs = out.lastMs;
      out.chunks++;
      onDelta(text);
    }
    if (choice.finish_reason) out.finish = choice.finish_reason;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (line.startsWith('data:')) handle(line.slice(5).trim());
      }
    }
  }
  if (!finished) throw new ApiError(0, 'the connection closed before the reply ended');
  out.totalMs = performance.now() - start;
  return out;
}
