// The patient page's catalogs are complete (issue 15 items 1 and 6), without
// a browser: node page_catalogs.js WEB_ROOT DOCS_DIR. Fails, listing each, on
// - a key in one catalog and not the other, an empty entry, a {parameter}
//   that is not in both languages' sentence;
// - a Korean entry without Hangul (left in English), or in 합쇼체 (the page
//   speaks 해요체 throughout);
// - a key the page uses (data-i18n* attributes in its HTML, key literals in
//   room.js) that the catalogs lack, a key pieced together at run time that
//   cannot be checked, a catalog key nobody uses;
// - English in the HTML that differs from the English catalog, or text in
//   the HTML outside a keyed element (other than the product's name);
// - an error code or `ended` reason of docs/signaling.md without its
//   sentence (error.CODE, end.reason.REASON) named in room.js;
// - room.js showing the server's `message`, or setting markup or literal
//   text (every string goes through the catalogs);
// and checks the choice of language (link, tab, browser) and t() on a
// missing key (shown as the key, logged, never blank).
'use strict';

const fs = require('fs');
const path = require('path');
const { loadI18n, signalingNames, htmlUse, scriptKeys } = require('./page_strings');

const WEB_ROOT = process.argv[2] || path.join(__dirname, '..', '..', 'assets', 'web');
const DOCS = process.argv[3] || path.join(__dirname, '..', '..', 'docs');
// Text the HTML shows as is: the product's name.
const AS_IS = new Set(['medcall']);
// Entries that are the same in both languages (units after a number).
const NEUTRAL = new Set(['file.size.mb', 'file.size.kb']);

let failures = 0;
function check(ok, what, detail) {
  if (ok) { console.log('ok  ', what); return; }
  failures++;
  console.log('FAIL', what, detail === undefined ? '' : JSON.stringify(detail, null, 1));
}

const logged = [];
const I18N = loadI18n(WEB_ROOT, logged);
const { en, ko } = I18N.CATALOGS;
const enKeys = Object.keys(en), koKeys = Object.keys(ko);

// ---- the two catalogs against each other ----
check(enKeys.length > 50, `the English catalog has its ${enKeys.length} entries`);
check(enKeys.filter((k) => !(k in ko)).length === 0, 'every English key has a Korean entry',
  enKeys.filter((k) => !(k in ko)));
check(koKeys.filter((k) => !(k in en)).length === 0, 'every Korean key has an English entry',
  koKeys.filter((k) => !(k in en)));
const empty = [...enKeys.map((k) => ['en', k, en[k]]), ...koKeys.map((k) => ['ko', k, ko[k]])]
  .filter(([, , v]) => typeof v !== 'string' || !v.trim() || v !== v.trim()).map(([l, k]) => l + ':' + k);
check(empty.length === 0, 'no entry is empty or padded with blanks', empty);
const params = (s) => [...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
const paramDiff = enKeys.filter((k) => k in ko && params(en[k]) !== params(ko[k]));
check(paramDiff.length === 0, 'each sentence has the same {parameters} in both languages', paramDiff);
const untranslated = koKeys.filter((k) => !/[\uac00-\ud7a3]/.test(ko[k]) && !(NEUTRAL.has(k) && ko[k] === en[k]));
check(untranslated.length === 0, 'every Korean entry is in Korean (Hangul)', untranslated);
const formal = koKeys.filter((k) => /니다|니까|십시오/.test(ko[k]));
check(formal.length === 0, 'the Korean keeps one register, 해요체 (no 합쇼체 endings)', formal.map((k) => k + ': ' + ko[k]));

// ---- what the page uses ----
const namespaces = [...new Set(enKeys.map((k) => k.split('.')[0]))];
const used = new Set();
for (const file of ['room.html', 'index.html']) {
  const { uses, loose } = htmlUse(path.join(WEB_ROOT, file));
  check(uses.length > 0, `${file} names its strings with data-i18n`, uses.length);
  uses.forEach((u) => used.add(u.key));
  const unknown = uses.filter((u) => !(u.key in en) || !(u.key in ko)).map((u) => u.key);
  check(unknown.length === 0, `every key ${file} uses is in both catalogs`, unknown);
  const drift = uses.filter((u) => u.key in en && u.english !== en[u.key])
    .map((u) => ({ key: u.key, attr: u.attr, html: u.english, catalog: en[u.key] }));
  check(drift.length === 0, `${file}'s English is the English catalog's`, drift);
  const stray = loose.filter((t) => !AS_IS.has(t));
  check(stray.length === 0, `${file} shows no text outside keyed elements`, stray);
}
const roomJs = fs.readFileSync(path.join(WEB_ROOT, 'room.js'), 'utf8');
const js = scriptKeys(roomJs, namespaces);
js.keys.forEach((k) => used.add(k));
check(js.keys.size > 40, `room.js names its strings by key (${js.keys.size})`);
const jsUnknown = [...js.keys].filter((k) => !(k in en) || !(k in ko));
check(jsUnknown.length === 0, 'every key room.js uses is in both catalogs', jsUnknown);
check(js.pieced.length === 0, 'room.js writes every key out (none pieced together)', js.pieced);
const unused = enKeys.filter((k) => !used.has(k));
check(unused.length === 0, 'every catalog key is used by the page', unused);

// ---- the protocol's words ----
const sig = signalingNames(DOCS);
check(sig.errors.length >= 14 && sig.errors.includes('no-room'), `docs/signaling.md lists ${sig.errors.length} error codes`, sig.errors);
check(sig.reasons.length >= 7 && sig.reasons.includes('ended-by-doctor'), `docs/signaling.md lists ${sig.reasons.length} end reasons`, sig.reasons);
const noError = sig.errors.filter((c) => !js.keys.has('error.' + c) || !roomJs.includes(`'${c}': 'error.${c}'`));
check(noError.length === 0, 'room.js maps every error code to its own sentence (error.CODE)', noError);
const noReason = sig.reasons.filter((r) => !js.keys.has('end.reason.' + r) || !roomJs.includes(`'${r}': 'end.reason.${r}'`));
check(noReason.length === 0, 'room.js says every end reason in words (end.reason.REASON)', noReason);
check(!/\bm\.message\b/.test(roomJs), 'room.js never shows the server\'s English message');
const markup = roomJs.match(/\.(innerHTML|outerHTML|insertAdjacentHTML)\b/g);
check(!markup, 'room.js sets no markup (text only)', markup);
const literal = roomJs.match(/\.textContent\s*=\s*['"`].*/g);
check(!literal, 'room.js sets no literal text (every string from the catalogs)', literal);

// ---- choosing the language ----
const pickCases = [
  [[null, '', ['ko-KR', 'ko']], 'ko', 'a Korean browser'],
  [[null, '', ['en-US', 'en']], 'en', 'an English browser'],
  [[null, '', ['fr-FR', 'ko', 'en']], 'ko', 'the first of ko/en among the browser\'s languages'],
  [[null, '', ['fr-FR', 'en-GB', 'ko']], 'en', 'the first of ko/en, English first'],
  [[null, '', ['fr-FR', 'de']], 'en', 'neither: English'],
  [[null, '', []], 'en', 'no languages at all: English'],
  [[null, '#lang=en', ['ko-KR']], 'en', '#lang=en on a Korean browser'],
  [[null, '#lang=ko', ['en-US']], 'ko', '#lang=ko on an English browser'],
  [[null, '#name=Ana&autojoin=1&lang=ko', ['en-US']], 'ko', '#lang among the other fragment fields'],
  [[null, '#lang=KO-kr', ['en-US']], 'ko', '#lang=KO-kr (case, region)'],
  [[null, '#lang=fr', ['ko-KR']], 'ko', 'an unknown #lang falls through to the browser'],
  [['en', '#lang=ko', ['ko-KR']], 'en', 'the tab\'s own choice wins over the link'],
  [['xx', '#lang=ko', ['en-US']], 'ko', 'a stored value that is no language is ignored'],
];
for (const [a, want, what] of pickCases) {
  const got = I18N.pick(...a);
  check(got === want, `pick: ${what} -> ${want}`, { args: a, got });
}

// ---- t() ----
I18N.lang = 'ko';
check(I18N.t('waiting.heading') === ko['waiting.heading'], 't() gives the Korean entry when the page is Korean');
check(I18N.t('error.other', { code: 'x-y' }).includes('x-y'), 't() inserts a parameter');
const markupName = '<b>김민수</b> & "Ana"';
check(I18N.t('file.too-big', { name: markupName }).includes(markupName), 't() inserts a parameter as it is (the page sets text, not markup)');
check(I18N.t('file.sent', { name: 'a.pdf', size: { key: 'file.size.bytes', params: { n: 12 } } }) === '"a.pdf" 파일을 보냈어요(12바이트).',
  't() says a phrase parameter (a size) in the same language', I18N.t('file.sent', { name: 'a.pdf', size: { key: 'file.size.bytes', params: { n: 12 } } }));
logged.length = 0;
const miss = I18N.t('no.such-key');
check(miss === '[no.such-key]' && I18N.missing.includes('no.such-key') && logged.some((l) => /missing key ko:no\.such-key/.test(l)),
  't() of a missing key shows the key, records and logs it (never a blank)', { miss, missing: I18N.missing, logged });
I18N.lang = 'en';

if (failures) { console.log(failures, 'failure(s)'); process.exit(1); }
console.log('PASS the page\'s catalogs are complete and the page uses them');
