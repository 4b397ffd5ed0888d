// The patient page in Korean and English (issue 15 items 1 and 6), in
// headless Chromium against the real medcall-server (and coturn, so the
// pre-call check's relay line is the working one). The doctor is a page
// speaking docs/signaling.md (lib.doctorClient) that admits when told.
//
// A Korean browser (--lang=ko-KR, --accept-lang=ko-KR,ko):
// - the start page (index.html) and each screen a patient reads - the
//   pre-call check, the waiting room ("knocked"), the call (connected, with
//   the verification code, the doctor's chat and microphone state, Mute
//   pressed), the end - show the Korean catalog's sentences, their aria
//   labels and placeholder too, <html lang="ko">, no English word visible or
//   read out (other than "medcall", the switch's "English" and "MiB"), no
//   missing key; Hangul drawn by a font with Hangul (CDP
//   CSS.getPlatformFontsForNode against `fc-list :lang=ko`); nothing wider
//   than the screen at 375 and 1280 px; a screenshot of each at both widths;
// - the switch: English at once (the strings set during the call included,
//   Mute's state kept), kept by a reload of the tab, Korean again;
// - the patient's name in Hangul reaches the doctor exactly, Korean chat
//   both ways exactly;
// - a link to a room that does not exist: the server's `no-room` said in
//   Korean, never the server's English `message`; then every error code of
//   docs/signaling.md fed to the page: its Korean sentence, never the
//   message that came with it; an unknown code: the generic sentence with
//   the code;
// - #lang=en: English; /room.html without a room: the incomplete link, in
//   Korean.
// An English browser: English by default; #lang=ko (with #name= beside it):
// Korean, the name still filled in.
//
// Screenshots go to a directory the test prints; kept with
// KEEP_SCREENSHOTS=1 (look at them: the test cannot judge how Korean reads).
// Env: MEDCALL_SERVER, MEDCALL_WEB_ROOT, CHROMIUM, INTEROP_KEEP,
// KEEP_SCREENSHOTS.
'use strict';

const crypto = require('crypto');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');
const lib = require('./lib');
const { loadI18n, signalingNames } = require('./page_strings');

const { state, log, check, step, startCoturn } = lib;
const SERVER = process.env.MEDCALL_SERVER;
const WEB_ROOT = process.env.MEDCALL_WEB_ROOT;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DOCS = path.join(__dirname, '..', '..', 'docs');
const STEP_MS = 20000;
const WIDTHS = [375, 1280];
// Latin words a Korean page may show: the product, the switch's other
// language, the unit of the file limit.
const LATIN_OK = new Set(['medcall', 'English', 'MiB']);

const { en, ko } = loadI18n(WEB_ROOT).CATALOGS;
const PATIENT = '김민수';
const DOCTOR_SAYS = '안녕하세요, 김민수 님. 제 목소리 잘 들리세요? <b>굵게 아님</b>';
const PATIENT_SAYS = '네, 잘 들려요. 어제부터 열이 나요 & 기침도 해요 <i>x</i>';

let browser = null;
let shots = null;

// ---- in the page ----

// Records what the server sends (the page keeps no copy of an error's
// message) and keeps the sockets, so a test can feed the page a message.
function wsRecorder() {
  const Native = window.WebSocket;
  const rec = window.__ws = { in: [], sockets: [] };
  const Wrapped = function (url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    rec.sockets.push(ws);
    ws.addEventListener('message', (ev) => { try { rec.in.push(JSON.parse(ev.data)); } catch (e) { /* not ours */ } });
    return ws;
  };
  Wrapped.prototype = Native.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Wrapped[k] = Native[k];
  window.WebSocket = Wrapped;
}

// What the patient reads or hears read: visible text (chat lines and the
// code excepted: they are the people's own), and the aria labels,
// placeholders and title of what is shown.
function pageWords() {
  const skip = (el) => (el.closest('#chat-log li') && !el.closest('.who')) || el.closest('#verify-code, #avatar-initials');
  const out = [document.title];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!n.data.trim() || !el || !el.checkVisibility() || skip(el) || el.closest('script')) continue;
    out.push(n.data.trim());
  }
  for (const el of document.querySelectorAll('[aria-label], [placeholder]')) {
    if (el.closest('[hidden]')) continue;
    for (const a of ['aria-label', 'placeholder']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
  }
  return out;
}

// Anything drawn outside the screen's width, or text cut off in its box.
function layoutProblems() {
  const W = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > W) out.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${W})`);
  for (const el of document.querySelectorAll('h1, h2, h3, p, li, label, button, input, nav, video, meter')) {
    if (!el.checkVisibility() || el.closest('.visually-hidden')) continue;
    const r = el.getBoundingClientRect();
    const name = el.id || el.dataset.i18n || el.tagName;
    if (r.left < -0.5 || r.right > W + 0.5) out.push(`${name} reaches outside the screen (${Math.round(r.left)}..${Math.round(r.right)} of ${W})`);
    if (el.tagName === 'BUTTON' && el.scrollWidth > el.clientWidth + 1) out.push(`${name}: its text is wider than the button`);
  }
  return out;
}

// ---- checks on a screen ----

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function texts(page, sels) {
  return page.evaluate((sels) => {
    const o = {};
    for (const [k, sel] of Object.entries(sels)) {
      const [css, attr] = sel.split('@');
      const el = document.querySelector(css);
      o[k] = !el ? null : attr ? el.getAttribute(attr) : el.textContent;
    }
    return o;
  }, sels);
}

// Each selector (css, or css@attribute) shows the catalog's entry `key`.
async function expectStrings(page, lang, screen, want) {
  const cat = lang === 'ko' ? ko : en;
  const sels = {};
  for (const [key, sel] of Object.entries(want)) sels[key] = sel;
  const got = await texts(page, sels);
  const wrong = Object.entries(want).filter(([key]) => got[key] !== cat[key])
    .map(([key, sel]) => ({ sel, key, got: got[key], want: cat[key] }));
  check(wrong.length === 0, `${screen} (${lang}): ${Object.keys(want).length} strings from the ${lang} catalog`, wrong);
}

// The screen reads in Korean: <html lang="ko">, no English, no missing key,
// Hangul from a font that has it, nothing outside the screen; screenshots.
async function koreanScreen(page, screen, fontSelectors) {
  const doc = await page.evaluate(() => ({ lang: document.documentElement.lang, missing: window.I18N.missing,
    state: document.body.dataset.state }));
  check(doc.lang === 'ko', `${screen}: <html lang="ko">`, doc.lang);
  check(doc.missing.length === 0, `${screen}: no missing key`, doc.missing);
  const words = await page.evaluate(pageWords);
  const latin = [...new Set(words.join(' ').match(/[A-Za-z]{2,}/g) || [])].filter((w) => !LATIN_OK.has(w));
  check(latin.length === 0, `${screen}: no English shown or read out (${words.length} strings)`, latin);
  check(words.some((w) => /[\uac00-\ud7a3]/.test(w)), `${screen}: Korean on the screen`);
  for (const sel of fontSelectors) await hangulDrawn(page, screen, sel);
  await layoutAndShots(page, screen);
}

async function layoutAndShots(page, screen) {
  for (const width of WIDTHS) {
    await page.setViewport({ width, height: width < 500 ? 812 : 800 });
    await sleep(150);
    const problems = await page.evaluate(layoutProblems);
    check(problems.length === 0, `${screen} at ${width} px: nothing wider than the screen, no cut-off button`, problems);
    const file = path.join(shots, `${screen}-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
  }
}

// The families fontconfig knows with Hangul.
const hangulFamilies = new Set(execFileSync('fc-list', [':lang=ko', 'family'], { encoding: 'utf8' })
  .split('\n').flatMap((l) => l.split(',')).map((f) => f.trim()).filter(Boolean));

// The Hangul of the element's text is drawn with glyphs of a Hangul font
// (not boxes): Chromium's own account of the fonts it used (CDP).
async function hangulDrawn(page, screen, selector) {
  const cdp = await page.createCDPSession();
  try {
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const { root } = await cdp.send('DOM.getDocument', { depth: -1 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
    const text = await page.$eval(selector, (e) => e.textContent);
    const hangul = (text.match(/[\uac00-\ud7a3]/g) || []).length;
    const glyphs = fonts.filter((f) => hangulFamilies.has(f.familyName)).reduce((n, f) => n + f.glyphCount, 0);
    check(hangul > 0 && glyphs >= hangul, `${screen}: ${selector}'s ${hangul} Hangul syllables drawn with a Hangul font`,
      { fonts, hangul });
  } finally {
    await cdp.detach().catch(() => {});
  }
}

// ---- the scenarios ----

async function koreanBrowser(srv) {
  browser = await lib.launchChromium(puppeteer, CHROMIUM, srv.spki,
    ['--lang=ko-KR', '--accept-lang=ko-KR,ko', '--autoplay-policy=no-user-gesture-required']);
  const base = `https://127.0.0.1:${srv.port}`;
  const dctx = await browser.createBrowserContext();
  const pctx = await browser.createBrowserContext();
  const doctor = await lib.newPage(dctx, 'doctor');
  const newPatient = () => lib.newPage(pctx, 'patient', [lib.pageHelpers, wsRecorder]);

  // The start page, as the doctor's page opens it.
  await doctor.goto(base + '/');
  const index = await doctor.evaluate(() => ({ lang: document.documentElement.lang, title: document.title,
    text: document.querySelector('main p').textContent, languages: navigator.languages }));
  log('navigator.languages', JSON.stringify(index.languages));
  check(index.languages[0] === 'ko-KR', 'the browser\'s languages start with ko-KR', index.languages);
  check(index.lang === 'ko' && index.title === ko['index.title'] && index.text === ko['index.text'],
    'the start page (index.html) is in Korean', index);

  await doctor.evaluate(lib.doctorClient, { width: 320, height: 240 });
  const created = await step('the doctor creates a room', async () => {
    await doctor.evaluate(() => window.D.send({ type: 'create' }));
    await doctor.waitForFunction(() => window.D.msgs.some((m) => m.type === 'created'), { timeout: STEP_MS });
    return doctor.evaluate(() => window.D.msgs.find((m) => m.type === 'created'));
  });

  // ---- 1. the pre-call check ----
  const patient = await newPatient();
  await patient.goto(created.link);
  await step('the pre-call check finishes', () => patient.waitForFunction(() =>
    document.body.dataset.state === 'check' &&
    document.getElementById('cam-status').dataset.i18n !== 'check.camera.checking' &&
    document.getElementById('relay-status').dataset.i18n !== 'check.relay.checking', { timeout: STEP_MS, polling: 100 }));
  await patient.click('#speaker-test');
  await expectStrings(patient, 'ko', 'pre-call check', {
    'page.title': 'title', 'page.heading': '#title', 'lang.switch': 'nav.lang-switch@aria-label',
    'check.heading': '#check-h', 'check.preview': '#preview@aria-label',
    'check.camera.working': '#cam-status', 'check.mic': '#mic-label', 'check.speaker.test': '#speaker-test',
    'check.speaker.playing': '#speaker-status', 'check.relay.working': '#relay-status',
    'check.name': 'label[for=name]', 'check.join': '#join',
  });
  await koreanScreen(patient, 'check', ['#check-h', '#join', '#relay-status']);

  // ---- the switch ----
  await patient.click('button[data-set-lang=en]');
  const toEn = await patient.evaluate(() => ({ lang: document.documentElement.lang,
    pressed: [...document.querySelectorAll('[data-set-lang]')].map((b) => b.dataset.setLang + ':' + b.getAttribute('aria-pressed')),
    stored: sessionStorage.getItem('medcall:lang') }));
  check(toEn.lang === 'en' && toEn.pressed.join() === 'ko:false,en:true' && toEn.stored === 'en',
    'the switch turns the page English at once, marks English pressed and keeps it for the tab', toEn);
  await expectStrings(patient, 'en', 'pre-call check after the switch', {
    'page.title': 'title', 'check.heading': '#check-h', 'check.camera.working': '#cam-status',
    'check.relay.working': '#relay-status', 'check.speaker.playing': '#speaker-status', 'check.join': '#join',
  });
  await patient.reload();
  await step('the reloaded tab comes back to its check', () => patient.waitForFunction(
    () => document.body.dataset.state === 'check', { timeout: STEP_MS, polling: 100 }));
  const reloaded = await patient.evaluate(() => ({ lang: document.documentElement.lang, h: document.getElementById('check-h').textContent }));
  check(reloaded.lang === 'en' && reloaded.h === en['check.heading'], 'a reload keeps the tab\'s choice (English on a Korean browser)', reloaded);
  await patient.click('button[data-set-lang=ko]');
  check(await patient.evaluate(() => document.documentElement.lang) === 'ko', 'the switch brings Korean back', null);
  await step('the check finishes again', () => patient.waitForFunction(() =>
    document.getElementById('relay-status').dataset.i18n !== 'check.relay.checking', { timeout: STEP_MS, polling: 100 }));

  // ---- 2. waiting ----
  await patient.type('#name', PATIENT);
  await patient.keyboard.press('Enter');
  await step('the patient knocks and waits', () => patient.waitForFunction(
    () => document.body.dataset.state === 'waiting', { timeout: STEP_MS, polling: 100 }));
  await step('the doctor hears the knock', () => doctor.waitForFunction(
    () => window.D.msgs.some((m) => m.type === 'knock'), { timeout: STEP_MS, polling: 100 }));
  const knock = await doctor.evaluate(() => window.D.msgs.find((m) => m.type === 'knock'));
  check(knock.name === PATIENT, 'the knock carries the Hangul name exactly', knock.name);
  await expectStrings(patient, 'ko', 'waiting', {
    'page.heading': '#title', 'waiting.heading': '#waiting-h', 'waiting.told': '#waiting-text', 'waiting.leave': '#cancel',
  });
  check(ko['waiting.told'].includes('입장을 허락해 드릴 거예요'), 'the waiting room says the doctor will let the patient in', ko['waiting.told']);
  await koreanScreen(patient, 'waiting', ['#waiting-h', '#waiting-text']);

  // ---- 3. the call ----
  await doctor.evaluate(() => window.D.send({ type: 'admit' }));
  await step('the call connects and the page shows its code', async () => {
    await doctor.waitForFunction(() => window.D.pc && window.D.pc.connectionState === 'connected', { timeout: STEP_MS, polling: 100 });
    await patient.waitForFunction(() => window.medcall.connection === 'direct' && !document.getElementById('verify').hidden,
      { timeout: STEP_MS, polling: 100 });
  });
  await step('the chat channel opens', async () => {
    await doctor.waitForFunction(() => window.D.dc.readyState === 'open' && window.D.control.readyState === 'open',
      { timeout: STEP_MS, polling: 100 });
    await patient.waitForFunction(() => !document.getElementById('chat-input').disabled, { timeout: STEP_MS, polling: 100 });
  });
  // The doctor speaks, and turns the microphone off.
  await doctor.evaluate((t) => {
    window.D.dc.send(t);
    window.D.control.send(JSON.stringify({ type: 'state', mic: false, camera: true }));
  }, DOCTOR_SAYS);
  await step('the page shows the doctor\'s line and microphone', () => patient.waitForFunction(
    () => window.medcall.chat.length === 1 && !document.getElementById('peer-mic').hidden, { timeout: STEP_MS, polling: 100 }));
  await patient.type('#chat-input', PATIENT_SAYS);
  await patient.keyboard.press('Enter');
  await step('the doctor gets the patient\'s line', () => doctor.waitForFunction(
    () => window.D.chat.length === 1, { timeout: STEP_MS, polling: 100 }));
  const chats = { doctor: await doctor.evaluate(() => window.D.chat), page: await patient.evaluate(() => window.medcall.chat) };
  check(chats.doctor[0] === PATIENT_SAYS && chats.page[0].text === DOCTOR_SAYS,
    'Korean chat both ways, exactly', chats);
  await patient.click('#mute');
  await patient.waitForFunction(() => document.getElementById('remote').videoWidth > 0, { timeout: STEP_MS, polling: 100 });
  const callStrings = {
    'call.heading': '#call-h', 'call.remote': '#remote@aria-label', 'call.self': '#self@aria-label',
    'call.avatar': '#avatar@aria-label', 'call.conn.direct': '#conn', 'call.peer-mic': '#peer-mic',
    'call.verify.label': '#verify span[data-i18n]', 'call.verify.help': '#verify-help',
    'call.controls': '.controls@aria-label', 'call.unmute': '#mute', 'call.camera-off': '#camera', 'call.hangup': '#hangup',
    'chat.heading': '#chat-h', 'chat.message': 'label[for=chat-input]', 'chat.placeholder': '#chat-input@placeholder',
    'chat.send': '#chat-send', 'chat.send-file': '#send-file', 'chat.file-help': '.file-help',
    'chat.who.doctor': '#chat-log li:nth-child(1) .who', 'chat.who.you': '#chat-log li:nth-child(2) .who',
  };
  await expectStrings(patient, 'ko', 'call', callStrings);
  const muted = await patient.$eval('#mute', (b) => b.getAttribute('aria-pressed'));
  check(muted === 'true', 'Mute is pressed', muted);
  const line = await patient.$eval('#chat-log li:nth-child(1)', (li) => ({ text: li.textContent, tags: li.querySelectorAll('b').length }));
  check(line.text === ko['chat.who.doctor'] + DOCTOR_SAYS && line.tags === 0, 'the doctor\'s line reads as text after 의사 선생님:', line);
  await koreanScreen(patient, 'call', ['#conn', '#verify-help', '#peer-mic', '#hangup']);

  // The switch mid-call: every string set while the call went on, in English.
  await patient.click('button[data-set-lang=en]');
  await expectStrings(patient, 'en', 'call after the switch', callStrings);
  check(await patient.evaluate(() => document.documentElement.lang) === 'en', 'mid-call switch: <html lang="en">', null);
  await patient.click('button[data-set-lang=ko]');
  await expectStrings(patient, 'ko', 'call after switching back', callStrings);

  // ---- 4. the end ----
  await doctor.evaluate(() => window.D.send({ type: 'end' }));
  await step('the page shows the end', () => patient.waitForFunction(
    () => document.body.dataset.state === 'end', { timeout: STEP_MS, polling: 100 }));
  await expectStrings(patient, 'ko', 'end', { 'end.heading': '#end-h', 'end.reason.ended-by-doctor': '#end-text' });
  await koreanScreen(patient, 'end', ['#end-h', '#end-text']);
  await patient.close();

  // ---- a server error: a link to no room ----
  const noRoom = `${base}/r/${crypto.randomBytes(16).toString('base64url').slice(0, 22)}`;
  const lost = await newPatient();
  await lost.goto(noRoom);
  await step('the page hears no-room', () => lost.waitForFunction(
    () => !document.getElementById('alert').hidden, { timeout: STEP_MS, polling: 100 }));
  const refused = await lost.evaluate(() => ({ alert: document.getElementById('alert').textContent,
    server: window.__ws.in.find((m) => m.type === 'error'), join: document.getElementById('join').disabled }));
  check(refused.server && refused.server.code === 'no-room' && /[A-Za-z]{3}/.test(refused.server.message || ''),
    'the server refused with no-room and an English message', refused.server);
  check(refused.alert === ko['error.no-room'] && !refused.alert.includes(refused.server.message) && refused.join,
    'the page says no-room in its own Korean sentence, not the server\'s English; Join is off', refused);
  await koreanScreen(lost, 'no-room', ['#alert']);

  // Every code of docs/signaling.md, and one it does not know, fed to the page.
  const codes = signalingNames(DOCS).errors;
  const said = await lost.evaluate((codes) => {
    const ws = window.__ws.sockets[window.__ws.sockets.length - 1];
    return codes.map((code) => {
      ws.onmessage({ data: JSON.stringify({ v: 1, type: 'error', code, ref: 'offer', message: 'SERVER ENGLISH ' + code }) });
      return { code, text: document.getElementById('alert').textContent };
    });
  }, [...codes, 'brand-new-code']);
  const wrong = said.filter((s) => s.text !== (s.code === 'brand-new-code'
    ? ko['error.other'].replace('{code}', s.code) : ko['error.' + s.code]) || /SERVER ENGLISH/.test(s.text));
  check(wrong.length === 0, `each of the ${codes.length} error codes is said in Korean from its code (an unknown one generically)`, wrong);
  check(await lost.evaluate(() => window.I18N.missing.length) === 0, 'no missing key while saying them', null);
  await lost.close();

  // #lang=en on a Korean browser; a page without a room.
  const english = await newPatient();
  await english.goto(noRoom + '#lang=en');
  await english.waitForFunction(() => !document.getElementById('alert').hidden, { timeout: STEP_MS, polling: 100 });
  const e = await english.evaluate(() => ({ lang: document.documentElement.lang, alert: document.getElementById('alert').textContent,
    h: document.getElementById('check-h').textContent, title: document.title }));
  check(e.lang === 'en' && e.alert === en['error.no-room'] && e.h === en['check.heading'] && e.title === en['page.title'],
    '#lang=en on a Korean browser: English, and no-room in the page\'s English', e);
  await english.goto(base + '/room.html');
  const incomplete = await english.evaluate(() => ({ lang: document.documentElement.lang, state: document.body.dataset.state,
    alert: document.getElementById('alert').textContent }));
  check(incomplete.lang === 'ko' && incomplete.state === 'end' && incomplete.alert === ko['alert.link-incomplete'],
    'a page without a room (another tab): the incomplete link, in Korean', incomplete);
  await english.close();
  await dctx.close().catch(() => {});
  await pctx.close().catch(() => {});
  await browser.close();
  browser = null;
  return noRoom;
}

async function englishBrowser(srv, noRoom) {
  browser = await lib.launchChromium(puppeteer, CHROMIUM, srv.spki);
  const ctx = await browser.createBrowserContext();
  const page = await lib.newPage(ctx, 'patient', [lib.pageHelpers, wsRecorder]);
  await page.goto(noRoom);
  await page.waitForFunction(() => !document.getElementById('alert').hidden, { timeout: STEP_MS, polling: 100 });
  const plain = await page.evaluate(() => ({ languages: navigator.languages, lang: document.documentElement.lang,
    alert: document.getElementById('alert').textContent, h: document.getElementById('check-h').textContent }));
  check(plain.languages[0] === 'en-US' && plain.lang === 'en' && plain.h === en['check.heading'] && plain.alert === en['error.no-room'],
    'an English browser: the page in English', plain);
  const page2 = await lib.newPage(ctx, 'patient', [lib.pageHelpers, wsRecorder]);
  await page2.goto(noRoom + '#name=Ana&lang=ko');
  await page2.waitForFunction(() => !document.getElementById('alert').hidden, { timeout: STEP_MS, polling: 100 });
  const k = await page2.evaluate(() => ({ lang: document.documentElement.lang, alert: document.getElementById('alert').textContent,
    h: document.getElementById('check-h').textContent, name: document.getElementById('name').value,
    pressed: document.querySelector('[data-set-lang=ko]').getAttribute('aria-pressed') }));
  check(k.lang === 'ko' && k.h === ko['check.heading'] && k.alert === ko['error.no-room'] && k.pressed === 'true',
    '#lang=ko on an English browser: Korean', k);
  check(k.name === 'Ana', '#name= beside #lang= still fills the name', k.name);
  await ctx.close().catch(() => {});
}

async function main() {
  if (!SERVER || !WEB_ROOT) throw new Error('MEDCALL_SERVER and MEDCALL_WEB_ROOT must be set');
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-page-i18n-'));
  shots = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-page-i18n-shots-'));
  log('screenshots in', shots, process.env.KEEP_SCREENSHOTS === '1' ? '(kept)' : '(removed at the end; KEEP_SCREENSHOTS=1 keeps them)');
  check(hangulFamilies.size > 0, 'fontconfig knows a font with Hangul (fonts-noto-cjk)', [...hangulFamilies]);
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await startCoturn(secret);
  const srv = await lib.startServer(SERVER, WEB_ROOT, turn.port, secret);
  const t0 = Date.now();
  const noRoom = await koreanBrowser(srv);
  log('Korean browser:', Date.now() - t0, 'ms');
  const t1 = Date.now();
  await englishBrowser(srv, noRoom);
  log('English browser:', Date.now() - t1, 'ms');
}

const cleanup = async () => {
  await lib.closeAll(browser);
  browser = null;
  if (shots && process.env.KEEP_SCREENSHOTS !== '1') fs.rmSync(shots, { recursive: true, force: true });
};

lib.runTest(main, cleanup, 200000, 'the patient page in Korean and English');
