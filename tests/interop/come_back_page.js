// Issue 13: the real patient page in headless Chromium rides out the
// interruptions of a consultation with the doctor's medcall (headless,
// pattern + tone) through the real medcall-server. In order:
// 1. the page is reloaded mid-call: it resumes its session (no new knock at
//    the doctor), gets a new connection, decodes video again;
// 2. a second tab opens the link (a stranger, or the patient twice): it
//    knocks and is declined (the headless doctor turns knocks away during a
//    call); a tab that duplicated the first one's sessionStorage does not
//    take the call either; the first tab's call goes on;
// 3. medcall-server is stopped (SIGTERM: goaway) and started again mid-call:
//    the media never stops, both resume, nobody reads "left";
// 4. medcall-server is killed and stays away 20 s (the page's WebSocket is
//    gone longer than the grace): the page keeps its RTCPeerConnection,
//    video keeps arriving, and it resumes once the server is back;
// 5. the patient hangs up by mistake and opens the link again: a returning
//    knock, admitted, video again; the doctor never ended the call.
// Each interruption (last video frame before to first after, as medcall
// and the page see it) is printed and bounded generously.
// Env: MEDCALL_SERVER, MEDCALL_WEB_ROOT, MEDCALL_APP, CHROMIUM, INTEROP_KEEP.
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
const STEP_MS = 30000;
const BOUND_MS = 25000; // a hang guard for a loaded CI machine, not a target: bench/ measures

let browser = null;
const lines = (p) => lib.tail(p.logPath, 100000).split('\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const figures = [];

// Video frames the page decoded so far (its current connection).
const decoded = (page) => page.evaluate(async () => {
  const pc = window.medcall.pc;
  if (!pc) return 0;
  const v = (await window.__t.inbound(pc)).video;
  return v ? v.framesDecoded : 0;
});

// Waits until the page decodes video again and returns how long its picture
// stood still: from `since` (ms, Date.now()) to the first newly decoded frame.
async function pageVideoAgain(page, since, what) {
  const start = await decoded(page).catch(() => 0);
  await step(what, () => lib.until(async () => {
    const n = await decoded(page).catch(() => 0);
    return n > start + 3 || (n > 3 && n < start); // a new connection counts from 0
  }, BOUND_MS, what));
  return Date.now() - since;
}

// medcall's "video: flowing again after N ms" lines: its own measure of
// each interruption of the video it receives (said when over 1 s).
const gapLines = (mc) => lines(mc).filter((x) => /^video: flowing again after \d+ ms/.test(x));
// A break in the media path shows as a freeze of seconds (3 s of silence
// before ICE calls it disconnected, then the repair). Chromium's sender on
// this machine sometimes pauses about a second on its own (1023 ms seen in
// a CI run while nothing was broken), so the checks that signaling going
// away breaks no media allow gaps up to MEDIA_BREAK_MS and print them.
const MEDIA_BREAK_MS = 3000;
const gapsOver = (mc, from, ms) => gapLines(mc).slice(from).filter((l) => Number(/after (\d+) ms/.exec(l)[1]) >= ms);

// The interruption after `before` gap lines, as medcall measured it; a
// shorter one (no line within 5 s of the page's video coming back) is
// reported as under 1 s.
async function doctorGap(mc, before, what) {
  let ms = null;
  try {
    const l = await lib.until(() => gapLines(mc)[before], 5000, what);
    ms = Number(/after (\d+) ms/.exec(l)[1]);
  } catch (e) { /* under a second */ }
  log(`interruption: ${what}: ${ms === null ? 'under 1000' : ms} ms at the doctor`);
  figures.push(`${what}=${ms === null ? '<1000' : ms}ms`);
  if (ms !== null) check(ms <= BOUND_MS, `${what}: video flowed again within ${BOUND_MS} ms`, ms);
  return ms;
}

async function main() {
  if (!SERVER || !WEB_ROOT || !APP) throw new Error('MEDCALL_SERVER, MEDCALL_WEB_ROOT and MEDCALL_APP must be set');
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-back-page-'));
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await startCoturn(secret);
  const srv = await lib.startServer(SERVER, WEB_ROOT, turn.port, secret);
  browser = await lib.launchChromium(puppeteer, CHROMIUM, srv.spki, ['--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required']);

  const mc = lib.startMedcall(APP, 'medcall-doctor', ['call', '--server', `wss://127.0.0.1:${srv.port}/ws`,
    '--insecure', '--headless', '--video-source', 'pattern', '--audio-source', 'tone', '--fps', '15',
    '--stats-json', path.join(state.tmp, 'doctor.json')], [`XDG_STATE_HOME=${path.join(state.tmp, 'doctor-state')}`]);
  const waitLine = (re, what) => lib.waitLine(mc, re, what, STEP_MS);
  const link = (await waitLine(/^link: /, 'the link')).slice(6).trim();
  const knocks = () => lines(mc).filter((l) => /^(knock|back): /.test(l)).length;
  const ended = () => lines(mc).filter((l) => /^ended: /.test(l));

  const ctx = await browser.createBrowserContext();
  const page = await lib.newPage(ctx, 'patient');
  await page.goto(link + '#name=Ana&autojoin=1');
  await step('the call connects', async () => {
    await page.waitForFunction(() => window.medcall.pc && window.medcall.pc.connectionState === 'connected',
      { timeout: STEP_MS, polling: 100 });
    await waitLine(/^state: connected/, 'medcall connected');
  });
  await pageVideoAgain(page, Date.now(), 'the page decodes the doctor\'s video');
  check(knocks() === 1, 'one knock so far', knocks());

  // ---- 1. reload ----
  let gapsBefore = gapLines(mc).length;
  let t0 = Date.now();
  await page.reload();
  await step('the reloaded page is in the call again', () => page.waitForFunction(
    () => document.body.dataset.state === 'call' && window.medcall.pc && window.medcall.pc.connectionState === 'connected',
    { timeout: STEP_MS, polling: 100 }));
  const reloadPage = await pageVideoAgain(page, t0, 'the reloaded page decodes video again');
  log(`interruption: page reload: ${reloadPage} ms at the page (reload to video)`);
  figures.push(`reload-page=${reloadPage}ms`);
  await doctorGap(mc, gapsBefore, 'page reload');
  check(knocks() === 1, 'the reload resumed its session: no new knock at the doctor', lines(mc).filter((l) => /^(knock|back)/.test(l)));
  check(lines(mc).some((l) => l === 'reconnecting: Ana started over'), 'medcall saw the patient start over', null);

  // ---- 2. a second tab, and a duplicated one ----
  const second = await lib.newPage(ctx, 'second tab');
  await second.goto(link + '#name=Ana&autojoin=1');
  await step('the second tab is turned away', () => second.waitForFunction(
    () => document.body.dataset.state === 'end', { timeout: STEP_MS, polling: 100 }));
  check(await second.$eval('#end-text', (e) => e.textContent) === 'The doctor could not let you in now.',
    'the second tab says the doctor did not let it in', null);
  check(lines(mc).some((l) => l === 'back: Ana is back') && lines(mc).some((l) => l === 'decline: Ana'),
    'medcall heard "Ana is back" and declined it during the call', lines(mc).filter((l) => /^(back|decline)/.test(l)));
  await second.close();
  const stored = await page.evaluate((k) => sessionStorage.getItem(k), 'medcall:' + link.split('/r/')[1]);
  const dup = await lib.newPage(ctx, 'duplicated tab');
  await dup.evaluateOnNewDocument((k, v) => { sessionStorage.setItem(k, v); }, 'medcall:' + link.split('/r/')[1], stored);
  await dup.goto(link + '#name=Ana');
  await step('a tab holding a copy of the session knocks instead of taking the call', () => dup.waitForFunction(
    () => document.body.dataset.state === 'check', { timeout: STEP_MS, polling: 100 }));
  await sleep(1000);
  const first = await page.evaluate(() => ({ state: document.body.dataset.state, pc: window.medcall.pc.connectionState }));
  check(first.state === 'call' && first.pc === 'connected', 'the first tab keeps its call', first);
  await dup.close();

  // ---- 3. the server restarts (SIGTERM, goaway) ----
  gapsBefore = gapLines(mc).length;
  const awayBefore = lines(mc).filter((l) => /^away: /.test(l)).length;
  let framesBefore = await decoded(page);
  srv.proc.kill('SIGTERM');
  await step('medcall hears goaway', () => waitLine(/^signaling: the server is restarting/, 'goaway'));
  await step('medcall-server drains and exits', () => lib.until(() => srv.proc.exitCode !== null, 15000, 'exit'));
  check(srv.proc.exitCode === 0, 'medcall-server exits 0 after the drain', srv.proc.exitCode);
  await lib.restartServer(srv, 'server-2.log');
  check(/1 room taken over/.test(lib.tail(srv.proc.logPath, 50)), 'the new server took the room over', null);
  await step('the page resumed on the new server', () => page.waitForFunction(
    () => window.medcall.ws && window.medcall.ws.readyState === 1, { timeout: STEP_MS, polling: 100 }));
  await step('medcall resumed on the new server', () => lib.until(
    () => lines(mc).filter((l) => l === 'signaling: resumed').length >= 1, STEP_MS, 'resumed'));
  await sleep(2000);
  log('gaps over 1 s at the doctor across the restart:', JSON.stringify(gapLines(mc).slice(gapsBefore)));
  check(gapsOver(mc, gapsBefore, MEDIA_BREAK_MS).length === 0,
    'medcall\'s video was not broken across the restart (no freeze of seconds)', gapLines(mc));
  check(await decoded(page) > framesBefore + 20, 'the page kept decoding across the restart', null);
  check(lines(mc).filter((l) => /^away: /.test(l)).length === awayBefore && ended().length === 0,
    'nobody read that anyone left', lines(mc).filter((l) => /^(away|ended): /.test(l)));

  // ---- 4. the server dies and stays away 20 s ----
  gapsBefore = gapLines(mc).length;
  framesBefore = await decoded(page);
  srv.proc.kill('SIGKILL');
  await sleep(20000);
  const during = await page.evaluate(() => ({ pc: window.medcall.pc.connectionState, state: document.body.dataset.state,
    notice: document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent }));
  check(during.pc === 'connected' && during.state === 'call', 'without the server for 20 s the page keeps its call', during);
  check(/Reconnecting to the server/.test(during.notice), 'the page says it is reconnecting to the server', during.notice);
  check(await decoded(page) > framesBefore + 150, 'video kept arriving while the server was gone', null);
  await lib.restartServer(srv, 'server-3.log');
  await step('the page resumes once the server is back', () => page.waitForFunction(
    () => window.medcall.ws && window.medcall.ws.readyState === 1 && document.getElementById('notice').hidden,
    { timeout: STEP_MS, polling: 100 }));
  log('gaps over 1 s at the doctor while the server was gone:', JSON.stringify(gapLines(mc).slice(gapsBefore)));
  check(gapsOver(mc, gapsBefore, MEDIA_BREAK_MS).length === 0,
    'medcall\'s video was not broken while the server was gone (no freeze of seconds)', gapLines(mc));

  // ---- 5. hung up by mistake, back through the link ----
  gapsBefore = gapLines(mc).length;
  await page.click('#hangup');
  await step('medcall keeps the room for the patient', () => waitLine(/^away: the patient (left|closed)/, 'away'));
  t0 = Date.now();
  await page.goto('about:blank'); // the link opened again, not a jump inside the same page
  await page.goto(link + '#name=Ana&autojoin=1');
  await step('the returning patient is admitted', () => waitLine(/^admit: Ana$/, 'admit'));
  const back = await pageVideoAgain(page, t0, 'the returning patient decodes video');
  log(`interruption: hung up and came back: ${back} ms at the page (link opened to video)`);
  figures.push(`back-page=${back}ms`);
  await doctorGap(mc, gapsBefore, 'hung up and came back');
  check(ended().length === 0, 'medcall never ended the call by itself', ended());

  log('figures:', figures.join(' '));
  mc.kill('SIGTERM');
  const ex = await lib.exitWithin(mc, STEP_MS);
  check(ex.code === 0, 'the doctor ends the consultation (status 0)', ex);
  await step('the page shows the end', () => page.waitForFunction(
    () => document.body.dataset.state === 'end', { timeout: STEP_MS, polling: 100 }));
  await ctx.close().catch(() => {});
}

const cleanup = async () => { await lib.closeAll(browser); browser = null; };

lib.runTest(main, cleanup, 240000, 'the patient page rides out reloads, tabs, server restarts and a hang-up');
