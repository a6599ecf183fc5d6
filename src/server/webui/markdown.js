// A small markdown renderer for model output that builds DOM nodes: text only ever goes in
// through textContent / text nodes, never as HTML, so a reply cannot inject markup or
// script. Covers what chat replies use: fenced code (with a copy button; an unclosed fence
// while streaming renders as code), headings, lists, block quotes, rules, tables,
// paragraphs, and inline code, bold, italic, strike-through and http(s) links.
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  // Plain-HTTP pages (a server on the LAN) have no clipboard API.
  const area = el('textarea');
  area.value = text;
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  return ok ? Promise.resolve() : Promise.reject(new Error('copy failed'));
}

function codeBlock(lang, text) {
  const box = el('div', 'code-block');
  const bar = el('div', 'code-bar');
  const copy = el('button', 'copy', 'Copy');
  copy.type = 'button';
  copy.addEventListener('click', () => {
    copyText(text).then(() => { copy.textContent = 'Copied'; }, () => { copy.textContent = 'Copy failed'; });
    setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
  });
  bar.append(el('span', 'lang', lang || 'text'), copy);
  const pre = el('pre');
  pre.append(el('code', lang ? `language-${lang}` : '', text));
  box.append(bar, pre);
  return box;
}

// Inline spans, earliest match first: code, bold, italic, strike-through, link.
const INLINE = new RegExp([
  '(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)',                // 1,2 code
  '\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*',                   // 3 bold
  '__(?=\\S)([\\s\\S]*?\\S)__',                           // 4 bold
  '\\*(?=[^\\s*])([\\s\\S]*?[^\\s*])\\*',                 // 5 italic
  '(?<![\\w])_(?=\\S)([\\s\\S]*?\\S)_(?![\\w])',          // 6 italic
  '~~(?=\\S)([\\s\\S]*?\\S)~~',                           // 7 strike
  '\\[([^\\]\\n]+)\\]\\(\\s*<?([^)\\s>]+)>?\\s*\\)',       // 8,9 link
].join('|'));

function text(parent, s) {
  const lines = s.split('\n');
  lines.forEach((line, i) => {
    if (i > 0) parent.append(el('br'));
    if (line) parent.append(document.createTextNode(line));
  });
}

function inline(parent, s) {
  let rest = s;
  for (let m = INLINE.exec(rest); m; m = INLINE.exec(rest)) {
    text(parent, rest.slice(0, m.index));
    if (m[2] !== undefined) {
      const code = m[2].length > 2 && m[2].startsWith(' ') && m[2].endsWith(' ') ? m[2].slice(1, -1) : m[2];
      parent.append(el('code', 'inline', code));
    } else if (m[3] !== undefined || m[4] !== undefined) {
      inline(parent.appendChild(el('strong')), m[3] ?? m[4]);
    } else if (m[5] !== undefined || m[6] !== undefined) {
      inline(parent.appendChild(el('em')), m[5] ?? m[6]);
    } else if (m[7] !== undefined) {
      inline(parent.appendChild(el('del')), m[7]);
    } else if (/^(https?:|mailto:)/i.test(m[9])) {
      const a = el('a');
      a.href = m[9];
      a.rel = 'noopener noreferrer nofollow';
      a.target = '_blank';
      inline(a, m[8]);
      parent.append(a);
    } else {
      text(parent, m[0]);  // any other scheme (javascript:, data:) stays plain text
    }
    rest = rest.slice(m.index + m[0].length);
  }
  text(parent, rest);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])\s+/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
}

function cells(line) {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

function blocks(parent, lines) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if ((m = FENCE.exec(line))) {
      const close = new RegExp(`^ {0,3}${m[1][0] === '`' ? '`' : '~'}{${m[1].length},}\\s*$`);
      const body = [];
      for (i++; i < lines.length && !close.test(lines[i]); i++) body.push(lines[i]);
      i++;
      parent.append(codeBlock(m[2], body.join('\n')));
    } else if (!line.trim()) {
      i++;
    } else if ((m = HEADING.exec(line))) {
      inline(parent.appendChild(el(`h${Math.min(m[1].length + 2, 6)}`)), m[2]);
      i++;
    } else if (RULE.test(line)) {
      parent.append(el('hr'));
      i++;
    } else if (QUOTE.test(line)) {
      const body = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i++) body.push(lines[i].replace(QUOTE, ''));
      blocks(parent.appendChild(el('blockquote')), body);
    } else if ((m = ITEM.exec(line))) {
      const ordered = /\d/.test(m[2]);
      const list = el(ordered ? 'ol' : 'ul');
      if (ordered && parseInt(m[2], 10) !== 1) list.start = parseInt(m[2], 10);
      const indent = m[1].length;
      while (i < lines.length) {
        const im = ITEM.exec(lines[i]);
        if (!im || im[1].length !== indent || /\d/.test(im[2]) !== ordered) break;
        const body = [lines[i].slice(im[0].length)];
        const width = im[0].length;
        for (i++; i < lines.length; i++) {
          const l = lines[i];
          const sub = ITEM.exec(l);
          if (sub && sub[1].length <= indent) break;
          if (!l.trim()) {
            if (i + 1 < lines.length && /^\s/.test(lines[i + 1]) && lines[i + 1].trim()) {
              body.push('');
              continue;
            }
            break;
          }
          if (!/^\s/.test(l) && startsBlock(l)) break;
          body.push(l.startsWith(' '.repeat(width)) ? l.slice(width) : l.replace(/^\s+/, ''));
        }
        const li = list.appendChild(el('li'));
        if (body.some((b) => startsBlock(b) || !b)) blocks(li, body);
        else inline(li, body.join('\n'));
      }
      parent.append(list);
    } else if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) &&
               lines[i + 1].includes('-')) {
      const table = el('table');
      const head = table.appendChild(el('thead')).appendChild(el('tr'));
      cells(line).forEach((c) => inline(head.appendChild(el('th')), c));
      const tbody = table.appendChild(el('tbody'));
      for (i += 2; i < lines.length && lines[i].includes('|') && lines[i].trim(); i++) {
        const tr = tbody.appendChild(el('tr'));
        cells(lines[i]).forEach((c) => inline(tr.appendChild(el('td')), c));
      }
      parent.appendChild(el('div', 'table-wrap')).append(table);
    } else {
      const body = [];
      for (; i < lines.length && lines[i].trim() && !(body.length && startsBlock(lines[i])); i++) {
        body.push(lines[i]);
      }
      inline(parent.appendChild(el('p')), body.join('\n'));
    }
  }
}

// Replaces container's children with the rendering of `source`.
export function renderMarkdown(container, source) {
  const fragment = document.createDocumentFragment();
  blocks(fragment, source.replace(/\r\n?/g, '\n').split('\n'));
  container.replaceChildren(fragment);
}
