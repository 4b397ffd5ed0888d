// The patient page's words as the tests see them (issue 15): its catalogs
// (assets/web/i18n.js, run in a sandbox), the keys its HTML and room.js use,
// and the error codes and end reasons docs/signaling.md defines. Used by
// page_catalogs.js (unit suite, no browser) and page_i18n.js (interop).
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');

// i18n.js's API as the page gets it (without a document: catalogs, pick, t).
// logged: where its console.error lines go.
function loadI18n(webRoot, logged = []) {
  const sandbox = { console: { error: (...a) => logged.push(a.join(' ')), log() {} }, URLSearchParams };
  vm.runInNewContext(fs.readFileSync(path.join(webRoot, 'i18n.js'), 'utf8'), sandbox, { filename: 'i18n.js' });
  return sandbox.I18N;
}

// The backquoted names in the first column of the table under a heading of
// docs/signaling.md, e.g. section(md, '### `error`').
function tableNames(md, heading) {
  const start = md.indexOf('\n' + heading + ' ');
  if (start < 0) throw new Error('docs/signaling.md has no heading ' + heading);
  const rest = md.slice(start + 1);
  const end = rest.indexOf('\n#', 1);
  const body = end < 0 ? rest : rest.slice(0, end);
  return [...body.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
}

// The error codes and `ended` reasons of docs/signaling.md.
function signalingNames(docsDir) {
  const md = fs.readFileSync(path.join(docsDir, 'signaling.md'), 'utf8');
  return { errors: tableNames(md, '### `error`'), reasons: tableNames(md, '### `ended`') };
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': '\'', apos: '\'' };
const decode = (s) => s.replace(/&(amp|lt|gt|quot|#39|apos);/g, (m, e) => ENTITIES[e]);
const squash = (s) => decode(s).replace(/\s+/g, ' ').trim();

// What one HTML file asks of the catalogs: each data-i18n* key with the
// English the file carries for it (the page as read before i18n.js runs),
// and the text it shows outside any keyed element.
function htmlUse(file) {
  const html = fs.readFileSync(file, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
  const uses = [];
  for (const tag of html.match(/<[a-z][^>]*>/g) || []) {
    for (const m of tag.matchAll(/\sdata-i18n(?:-(aria-label|placeholder))?="([^"]*)"/g)) {
      const attr = m[1];
      let english = null;
      if (attr) {
        const a = new RegExp('\\s' + attr + '="([^"]*)"').exec(tag);
        english = a ? squash(a[1]) : null;
      }
      uses.push({ key: m[2], attr: attr || 'text', english });
    }
  }
  // Keyed elements hold text only: their English is what is between the tags.
  const keyedText = /<([a-z0-9]+)\b[^>]*\sdata-i18n="([^"]*)"[^>]*>([^<]*)<\/\1>/g;
  for (const m of html.matchAll(keyedText)) {
    const u = uses.find((x) => x.key === m[2] && x.attr === 'text' && x.english === null);
    if (u) u.english = squash(m[3]);
  }
  const body = (html.split(/<body[^>]*>/)[1] || '').replace(keyedText, '');
  const loose = [...body.matchAll(/>([^<]+)</g)].map((m) => squash(m[1])).filter(Boolean);
  return { uses, loose };
}

// The keys a script names: string literals in the catalogs' namespaces.
function scriptKeys(src, namespaces) {
  const ns = namespaces.join('|');
  const keys = new Set();
  for (const m of src.matchAll(new RegExp(`'((?:${ns})\\.[a-z0-9.-]+)'`, 'g'))) keys.add(m[1]);
  // A key pieced together ('error.' + code) cannot be checked: refused.
  const pieced = [...src.matchAll(new RegExp(`(['"\`](?:${ns})\\.[a-z0-9.-]*['"]\\s*\\+|\`(?:${ns})\\.[^\`]*\\$\\{)`, 'g'))]
    .map((m) => m[1]);
  return { keys, pieced };
}

module.exports = { loadI18n, signalingNames, htmlUse, scriptKeys };
