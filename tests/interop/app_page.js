// The doctor's app and the real patient page (issue 6 items 2-3): `medcall
// call --headless` through the real medcall-server (and coturn), and
// assets/web/room.html in headless Chromium opened at the room link with
// #autojoin=1, as a patient would. Checked:
// - the verification code the page shows ("Verification code: DDD DDD",
//   computed in the page from both SDP fingerprints) equals medcall's
//   `verify:` line;
// - chat both ways, exactly, shown as text on the page;
// - the doctor's state on "control": medcall has no camera (--video-source
//   none) and no microphone (--audio-source none), so the page shows the
//   avatar over the remote video and "Doctor's microphone is off"; the
//   patient's Mute button reaches medcall as `peer: mic off camera on`;
// - a file each way over "file" channels with the same SHA-256: medcall's
//   --send-file arrives as a download link on the page (the Blob behind the
//   link digested in the page), a file chosen with the page's "Send a file" input
//   is saved by medcall in --download-dir; a file above 64 MiB is refused by
//   the page without sending.
//
// Run by run.sh inside a private network namespace holding only lo. Env:
// MEDCALL_SERVER, MEDCALL_WEB_ROOT, MEDCALL_APP, CHROMIUM, INTEROP_KEEP=1 (keeps
// the temporary directory, with a screenshot of the page: patient-page.png).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');
const lib = require('./lib');

const { state, log, check, step, startCoturn } = lib;
const SERVER = process.env.MEDCALL_SERVER;
const WEB_ROOT = process.env.MEDCALL_WEB_ROOT;
const APP = process.env.MEDCALL_APP;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 20000;

const DOCTOR_SAYS = 'Hello Ana, can you hear me? <b>not bold</b> — ça va';
const PATIENT_SAYS = 'Yes doctor, très bien 👍';

let browser = null;

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function randomFile(name, size) {
  const p = path.join(state.tmp, 'src', name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const buf = crypto.randomBytes(size);
  fs.writeFileSync(p, buf);
  return { path: p, size, hex: sha256(buf) };
}

// The lines medcall printed so far.
const lines = (p) => lib.tail(p.logPath, 100000).split('\n');

async function main() {
  if (!SERVER || !WEB_ROOT || !APP) throw new Error('MEDCALL_SERVER, MEDCALL_WEB_ROOT and MEDCALL_APP must be set');
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-app-page-'));
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await startCoturn(secret);
  const srv = await lib.startServer(SERVER, WEB_ROOT, turn.port, secret);
  browser = await lib.launchChromium(puppeteer, CHROMIUM, srv.spki, ['--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required']);

  const toPage = randomFile('Referral letter.pdf', 1500 * 1000 + 17);
  // Four more at the same moment: the page takes 4 files at once, the fifth
  // is refused with its sentence (issue 16 item 6).
  const extras = [1, 2, 3, 4].map((i) => randomFile(`extra ${i}.bin`, 1500 * 1000 + i));
  const toApp = randomFile('lab results.pdf', 2 * 1000 * 1000 + 5);
  const huge = path.join(state.tmp, 'src', 'huge scan.bin');
  fs.writeFileSync(huge, '');
  fs.truncateSync(huge, 64 * 1024 * 1024 + 1); // sparse: nothing is read
  const downloads = path.join(state.tmp, 'downloads');

  const mc = lib.startMedcall(APP, 'medcall-doctor', ['call', '--server', `wss://127.0.0.1:${srv.port}/ws`,
    '--insecure', '--headless', '--video-source', 'none', '--audio-source', 'none',
    '--chat', DOCTOR_SAYS, '--send-file', toPage.path, ...extras.flatMap((e) => ['--send-file', e.path]),
    '--download-dir', downloads, '--accept-files']);
  const waitLine = (re, what) => lib.waitLine(mc, re, what, STEP_MS);
  const link = (await waitLine(/^link: /, 'the link')).slice(6).trim();
  check(new RegExp(`^https://127\\.0\\.0\\.1:${srv.port}/r/[A-Za-z0-9_-]{22}$`).test(link), 'medcall prints the room link', link);

  const ctx = await browser.createBrowserContext();
  const page = await lib.newPage(ctx, 'patient');
  await page.goto(link + '#name=' + encodeURIComponent('Ana Lúcia') + '&autojoin=1');
  await step('the call connects', async () => {
    await page.waitForFunction(() => window.medcall.pc && window.medcall.pc.connectionState === 'connected',
      { timeout: STEP_MS, polling: 100 });
    await waitLine(/^state: connected/, 'medcall connected');
  });

  // ---- verification code ----
  const verifyLine = await waitLine(/^verify: /, 'the verification code');
  const appCode = verifyLine.slice(8).trim();
  await step('the page shows a verification code', () => page.waitForFunction(
    () => window.medcall.verification && !document.getElementById('verify').hidden, { timeout: STEP_MS, polling: 100 }));
  const pv = await page.evaluate(() => ({ code: window.medcall.verification,
    text: document.getElementById('verify').innerText }));
  log('verification: medcall', appCode, 'page', pv.code);
  check(/^\d{3} \d{3}$/.test(appCode), 'medcall prints the code as DDD DDD', appCode);
  check(pv.code === appCode, 'the page computes the same code as medcall (both DTLS fingerprints)', { app: appCode, page: pv.code });
  check(pv.text.includes('Verification code: ' + appCode) && /doctor/i.test(pv.text) && /same/i.test(pv.text),
    'the page says "Verification code: DDD DDD" and to compare it with the doctor', pv.text);

  // ---- chat ----
  await step('the page receives the doctor chat', () => page.waitForFunction(
    () => window.medcall.chat.some((c) => c.who === 'Doctor'), { timeout: STEP_MS, polling: 100 }));
  const pChat = await page.evaluate(() => ({ chat: window.medcall.chat,
    li: [...document.querySelectorAll('#chat-log li')].filter((li) => !li.classList.contains('file'))
      .map((li) => ({ text: li.textContent, tags: li.querySelectorAll('b').length })) }));
  check(pChat.chat.length === 1 && pChat.chat[0].text === DOCTOR_SAYS, 'the page got medcall\'s chat exactly, once', pChat.chat);
  check(pChat.li.length === 1 && pChat.li[0].text === 'Doctor:' + DOCTOR_SAYS && pChat.li[0].tags === 0,
    'the chat log shows it as text, not markup', pChat.li);
  await page.focus('#chat-input');
  await page.keyboard.type(PATIENT_SAYS);
  await page.keyboard.press('Enter');
  const chatLine = await waitLine(/^chat: /, 'medcall receives the patient chat');
  check(chatLine === 'chat: ' + PATIENT_SAYS, 'medcall got the patient text exactly', chatLine);

  // ---- peer state ----
  await step('the page shows the avatar: medcall has no camera', () => page.waitForFunction(
    () => window.medcall.peerState && !document.getElementById('avatar').hidden, { timeout: STEP_MS, polling: 100 }));
  const ps = await page.evaluate(() => {
    const av = document.getElementById('avatar');
    const r = av.getBoundingClientRect(), v = document.getElementById('remote').getBoundingClientRect();
    return { peer: window.medcall.peerState, person: av.classList.contains('person'),
      covers: r.width >= v.width - 1 && r.height >= v.height - 1 && r.width > 0,
      micNote: document.getElementById('peer-mic').hidden ? null : document.getElementById('peer-mic').textContent };
  });
  check(ps.peer.camera === false && ps.peer.mic === false, 'the page has medcall\'s state: camera off, mic off', ps.peer);
  check(ps.covers && ps.person, 'the avatar (a person, no doctor name known) covers the remote video', ps);
  check(ps.micNote === "Doctor's microphone is off", 'the page says the doctor\'s microphone is off', ps.micNote);
  if (process.env.INTEROP_KEEP) await page.screenshot({ path: path.join(state.tmp, 'patient-page.png'), fullPage: true });
  const first = await waitLine(/^peer: /, 'medcall hears the page state');
  check(first === 'peer: mic on camera on', 'medcall: the patient\'s mic and camera are on', first);
  await page.click('#mute');
  await step('medcall hears the patient mute', () => waitLine(/^peer: mic off camera on$/, 'peer: mic off'));
  await page.click('#camera');
  await step('medcall hears the patient camera off', () => waitLine(/^peer: mic off camera off$/, 'peer: camera off'));

  // ---- a file from medcall to the page ----
  await step('the page receives medcall\'s file', () => page.waitForFunction(
    () => window.medcall.files.some((f) => f.direction === 'in' && (f.done || f.error)), { timeout: STEP_MS, polling: 100 }));
  await step('the page has every file medcall sent, received or refused', () => page.waitForFunction(
    () => window.medcall.files.filter((x) => x.direction === 'in' && (x.done || x.error)).length === 5,
    { timeout: STEP_MS, polling: 100 }));
  const ins = await page.evaluate(() => window.medcall.files.filter((x) => x.direction === 'in')
    .map((x) => ({ name: x.name, done: x.done, error: x.error })));
  check(ins.filter((x) => x.done).length === 4 && ins.filter((x) => x.error === 'file.receive-busy').length === 1,
    'four files arrived at once; the fifth was refused as too many at once', ins);
  check(await page.evaluate(() => [...document.querySelectorAll('#chat-log li.file')]
    .some((li) => /too many files are arriving at once/.test(li.textContent))), 'the chat log says why');
  const got = await page.evaluate(async () => {
    const f = window.medcall.files.find((x) => x.direction === 'in' && x.name === 'Referral letter.pdf');
    const a = [...document.querySelectorAll('#chat-log li.file a')].find((x) => x.href === f.url);
    let hex = null, bytes = 0;
    if (f.url) {
      // The Blob behind the link (the page's CSP refuses fetch of blob: URLs).
      const buf = await f.blob.arrayBuffer();
      bytes = buf.byteLength;
      hex = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', buf)))
        .map((x) => x.toString(16).padStart(2, '0')).join('');
    }
    return { name: f.name, size: f.size, done: f.done, error: f.error, hex, bytes,
      link: a ? { download: a.download, text: a.textContent } : null };
  });
  log('page received', JSON.stringify(got));
  check(got.done && got.bytes === toPage.size && got.hex === toPage.hex,
    'the page got medcall\'s file byte-exact (SHA-256 of the Blob)', { got: got.hex, want: toPage.hex, bytes: got.bytes });
  check(got.name === 'Referral letter.pdf' && got.link && got.link.download === 'Referral letter.pdf' &&
    got.link.text === 'Referral letter.pdf', 'the chat log has a download link named after the file', got.link);
  await waitLine(/^file-sent: Referral letter.pdf /, 'medcall reports the file sent');
  check(lines(mc).includes(`file-sent: Referral letter.pdf ${toPage.size} bytes`), 'medcall: file-sent with its size');
  check(lines(mc).filter((l) => l.startsWith('file-failed: ')).length === 1, 'medcall: one file-failed line (the refused one)');

  // ---- a file from the page to medcall ----
  const input = await page.$('#file-input');
  await input.uploadFile(toApp.path);
  const fileLine = await lib.waitLine(mc, /^file: /, 'medcall saves the page\'s file', 60000);
  const m = /^file: (.*) (\d+) bytes saved (.*)$/.exec(fileLine);
  check(m && m[1] === 'lab results.pdf' && Number(m[2]) === toApp.size, 'medcall: file with its name and size', fileLine);
  const saved = m[3];
  check(path.dirname(saved) === downloads && path.basename(saved) === 'lab results.pdf',
    'saved in --download-dir under its own name', saved);
  check(sha256(fs.readFileSync(saved)) === toApp.hex, 'medcall saved the page\'s file byte-exact (SHA-256)', saved);
  await step('the page notes the file as sent', () => page.waitForFunction(
    () => window.medcall.files.some((f) => f.direction === 'out' && f.done), { timeout: STEP_MS, polling: 100 }));

  // ---- above 64 MiB: refused by the page, nothing sent ----
  const before = await page.evaluate(() => window.medcall.files.length);
  await input.uploadFile(huge);
  await step('the page refuses a file above 64 MiB', () => page.waitForFunction(
    () => [...document.querySelectorAll('#chat-log li.file')].some((li) => /larger than 64 MiB/.test(li.textContent)),
    { timeout: STEP_MS, polling: 100 }));
  check(await page.evaluate(() => window.medcall.files.length) === before, 'no transfer started for it', before);
  await new Promise((r) => setTimeout(r, 300));
  check(!lines(mc).some((l) => /^file(-failed)?: huge/.test(l)), 'medcall saw nothing of it');

  // ---- the chat log keeps its last 200 lines ----
  await page.evaluate(() => {
    for (let i = 0; i < 210; i++) {
      document.getElementById('chat-input').value = `line ${i}`;
      document.getElementById('chat-form').requestSubmit();
    }
  });
  const kept = await page.evaluate(() => ({ li: document.querySelectorAll('#chat-log li').length,
    chat: window.medcall.chat.length, last: window.medcall.chat[window.medcall.chat.length - 1].text }));
  check(kept.li === 200 && kept.chat === 200 && kept.last === 'line 209', 'the chat log keeps its last 200 lines', kept);

  await page.click('#hangup');
  mc.kill('SIGTERM');
  const ex = await lib.exitWithin(mc, STEP_MS);
  check(ex.code === 0, 'medcall ends with status 0', ex);
  await ctx.close().catch(() => {});
}

const cleanup = async () => { await lib.closeAll(browser); browser = null; };

lib.runTest(main, cleanup, 150000, 'medcall and the patient page: verification code, chat, state, files');
