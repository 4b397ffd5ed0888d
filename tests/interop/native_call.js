// Native interop (issue 4 item 6): the medcall program and headless Chromium
// through the real medcall-server, in both offer directions.
//
// Scenario "medcall-offers": `medcall call` is the doctor (it offers and
// opens "chat"); a Chromium page is the patient, written from
// docs/signaling.md in page JS. Over "chat" the page sends 1,000 messages of
// random sizes up to 256 KiB (text and binary) and medcall (--echo) sends
// each back; every one must come back byte-exact and in order. Then 50 MB
// through the echo with backpressure on the page's side (bufferedAmountLow).
// Scenario "browser-offers": the page is the doctor (it offers, opens
// "chat"); `medcall join LINK` answers, echoes, and opens a channel "bulk" on
// which it sends 50 MB with its own backpressure (--send-bytes); the page
// checks the SHA-256 of what arrived against the one medcall printed.
// In both: Chromium's getStats shows connectionState connected and a
// selected host pair; medcall prints the pair and its DTLS role.
// Scenario "tampered": one fingerprint changed in transit, once each way:
// neither side connects, both fail closed.
// Scenario "legacy" (issue 16): the page sends its data m-line in the older
// form (DTLS/SCTP, the SCTP port as format, a=sctpmap), once as Chromium's
// offer to `medcall join` and once as Chromium's answer to `medcall call`:
// medcall answers an older-form offer in that form, takes an older-form
// answer, and "chat" carries an echo in both (legacy_form.js, shared with
// native_firefox.js).
//
// Run by run.sh inside a private network namespace holding only lo. Env:
// MEDCALL_SERVER, MEDCALL_WEB_ROOT, MEDCALL_APP (the medcall binary),
// CHROMIUM, INTEROP_SCENARIOS, INTEROP_KEEP=1, INTEROP_MESSAGES (1000),
// INTEROP_BULK_MB (50).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');
const lib = require('./lib');
const { pagePeer, echoTest, bulkEcho, bulkReceived } = require('./pages');
const { legacyForm } = require('./legacy_form');

const { state, log, check, step, start, tail, until, startCoturn, pageHelpers } = lib;
const SERVER = process.env.MEDCALL_SERVER;
const WEB_ROOT = process.env.MEDCALL_WEB_ROOT;
const APP = process.env.MEDCALL_APP;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCENARIOS = (process.env.INTEROP_SCENARIOS || 'medcall-offers browser-offers tampered legacy')
  .split(/\s+/).filter(Boolean);
const MESSAGES = Number(process.env.INTEROP_MESSAGES || 1000);
const BULK = Number(process.env.INTEROP_BULK_MB || 50) * 1000 * 1000;
const STEP_MS = 20000; // liveness bound, not a performance target
const DATA_MS = 150000;

let browser = null;

const medcall = (name, args) => lib.startMedcall(APP, name, args);
const { waitLine } = lib;

// ---- scenarios ----

const newPage = (ctx, who) => lib.newPage(ctx, who);

async function checkBrowserStats(page, what) {
  // Chromium may switch its selected pair when a trickled candidate turns a
  // peer-reflexive pair into a host one; the new pair reads "in-progress"
  // until its first check returns. Look again for a few seconds.
  const read = () => page.evaluate(async () => ({ state: window.P.pc.connectionState, pair: await window.__t.pair(window.P.pc) }));
  let st = await read();
  for (let i = 0; i < 50 && !(st.pair && st.pair.state === 'succeeded'); i++) {
    await new Promise((r) => setTimeout(r, 100));
    st = await read();
  }
  check(st.state === 'connected', `${what}: Chromium connectionState connected`, st.state);
  // The remote side may be peer-reflexive: a check can arrive before its trickled candidate.
  check(st.pair && st.pair.state === 'succeeded' && st.pair.local.type === 'host' && /^(host|prflx)$/.test(st.pair.remote.type),
    `${what}: Chromium's selected pair is direct (host to host or prflx) and succeeded`, st.pair);
}

async function checkMedcallConnected(mc, what) {
  const pair = await waitLine(mc, /^pair: /, 'the selected pair');
  check(/^pair: host (host|prflx)$/.test(pair), `${what}: medcall selected a direct pair`, pair);
  const dtls = await waitLine(mc, /^dtls: /, 'the DTLS line');
  // The DTLS server picks the SRTP profile: medcall picks AES-GCM; Chromium
  // as the server picks by its own order.
  const want = /server/.test(dtls) ? /SRTP_AEAD_AES_128_GCM$/ : /(SRTP_AEAD_AES_128_GCM|SRTP_AES128_CM_SHA1_80)$/;
  check(want.test(dtls), `${what}: medcall DTLS-SRTP keys exported (${/server/.test(dtls) ? 'medcall chose AES-GCM' : 'a profile Chromium chose'})`, dtls);
  return dtls;
}

async function medcallOffers(srv) {
  const ctx = await browser.createBrowserContext();
  let mc = null;
  try {
    mc = medcall('medcall-doctor', ['call', '--server', `wss://127.0.0.1:${srv.port}/ws`, '--insecure', '--echo',
      '--stats-json', path.join(state.tmp, 'doctor-stats.json')]);
    const linkLine = await waitLine(mc, /^link: https:\/\//, 'the room link');
    const link = linkLine.slice('link: '.length).trim();
    check(new RegExp(`^https://127\\.0\\.0\\.1:${srv.port}/r/[A-Za-z0-9_-]{22}$`).test(link),
      'medcall call prints the room link', link.replace(/[A-Za-z0-9_-]{22}$/, '<room>'));
    const page = await newPage(ctx, 'patient');
    await page.goto(`https://127.0.0.1:${srv.port}/`);
    await page.evaluate(pagePeer, {});
    const room = link.split('/r/')[1];
    await page.evaluate((r) => window.P.send({ type: 'join', room: r, name: 'Chromium patient' }), room);
    await step('medcall admits and the call connects (Chromium answers)', () => page.waitForFunction(
      () => window.P.state === 'connected' && window.P.chat && window.P.chat.readyState === 'open', { timeout: STEP_MS }));
    await checkBrowserStats(page, 'medcall offers');
    const dtls = await checkMedcallConnected(mc, 'medcall offers');
    check(/server/.test(dtls), 'medcall offered actpass and Chromium chose active: medcall is the DTLS server', dtls);

    const echo = await step(`echo of ${MESSAGES} messages`, () => page.evaluate(echoTest, MESSAGES));
    check(echo.count === MESSAGES && echo.bad === 0, `${MESSAGES} messages up to 256 KiB came back byte-exact and in order`, echo);
    log('figure: echo', (echo.bytes / 1e6).toFixed(1), 'MB each way in', echo.ms, 'ms');
    const bulk = await step(`${BULK / 1e6} MB through the echo`, () => page.evaluate(bulkEcho, BULK));
    check(bulk.backBytes === BULK && bulk.sent === bulk.back, `${BULK / 1e6} MB echoed byte-exact (SHA-256)`, bulk);
    check(bulk.waits > 0, 'the page waited for bufferedamountlow (backpressure engaged)', bulk);
    log('figure: bulk echo', bulk.mbps, 'Mbit/s (both directions counted)');

    // The patient hangs up.
    await page.evaluate(() => { window.P.send({ type: 'leave' }); window.P.pc.close(); });
    // The doctor decides when a consultation ends: the room stays open for
    // the patient to come back, and medcall says so.
    const away = await lib.waitLine(mc, /^away: the patient (left|closed)/, 'medcall waits for the patient', STEP_MS);
    check(/waiting for .* to come back$/.test(away), 'medcall keeps the room when the patient leaves', away);
    check(mc.exitCode === null, 'medcall call is still running after the patient left', mc.exitCode);
    mc.kill('SIGTERM');
    const ex = await lib.exitWithin(mc, STEP_MS);
    check(ex.code === 0, 'medcall call ends with status 0 when the doctor ends it', ex);
    const stats = JSON.parse(fs.readFileSync(path.join(state.tmp, 'doctor-stats.json'), 'utf8'));
    check(stats.selectedCandidatePair.localCandidateType === 'host' && stats.messagesReceived >= MESSAGES,
      'medcall --stats-json: selected pair and message counts', { pair: stats.selectedCandidatePair, received: stats.messagesReceived });
  } finally {
    if (mc && mc.exitCode === null) mc.kill('SIGKILL');
    await ctx.close().catch(() => {});
  }
}

async function browserOffers(srv) {
  const ctx = await browser.createBrowserContext();
  let mc = null;
  try {
    const page = await newPage(ctx, 'doctor');
    await page.goto(`https://127.0.0.1:${srv.port}/`);
    await page.evaluate(pagePeer, {});
    await page.evaluate(() => window.P.send({ type: 'create' }));
    await page.waitForFunction(() => window.P.msgs.some((m) => m.type === 'created'), { timeout: STEP_MS });
    const link = await page.evaluate(() => window.P.msgs.find((m) => m.type === 'created').link);
    mc = medcall('medcall-patient', ['join', link, '--insecure', '--name', 'medcall patient', '--echo',
      '--send-bytes', String(BULK)]);
    await step('Chromium admits medcall and the call connects (medcall answers)', () => page.waitForFunction(
      () => window.P.state === 'connected' && window.P.chat && window.P.chat.readyState === 'open', { timeout: STEP_MS }));
    const knock = await page.evaluate(() => window.P.msgs.find((m) => m.type === 'knock'));
    check(knock && knock.name === 'medcall patient', 'the doctor saw medcall knock with its name', knock);
    await checkBrowserStats(page, 'Chromium offers');
    const dtls = await checkMedcallConnected(mc, 'Chromium offers');
    check(/client/.test(dtls), 'Chromium offered actpass and medcall answered active: medcall is the DTLS client', dtls);

    const echo = await step(`echo of ${MESSAGES} messages`, () => page.evaluate(echoTest, MESSAGES));
    check(echo.count === MESSAGES && echo.bad === 0, `${MESSAGES} messages up to 256 KiB came back byte-exact and in order`, echo);
    const sentLine = await waitLine(mc, /^sent: /, `medcall sending ${BULK} bytes`, DATA_MS);
    await step('the bulk channel delivers everything', () => page.waitForFunction(
      (n) => window.P.bulkBytes >= n, { timeout: DATA_MS }, BULK));
    const got = await page.evaluate(bulkReceived, BULK);
    check(sentLine === `sent: ${BULK} bytes sha256 ${got.hex}` && got.bytes === BULK,
      `${BULK / 1e6} MB from medcall's own channel arrived byte-exact (SHA-256)`, { sentLine, got });
    const bulkLabel = await page.evaluate(() => window.P.bulk && window.P.bulk.label);
    check(bulkLabel === 'bulk', 'medcall opened its own channel in-band (DCEP) as the answerer', bulkLabel);

    // The doctor ends the room: medcall leaves with status 0.
    await page.evaluate(() => window.P.send({ type: 'end' }));
    const ex = await lib.exitWithin(mc, STEP_MS);
    check(ex.code === 0, 'medcall join ends with status 0 when the doctor ends the room', ex);
  } finally {
    if (mc && mc.exitCode === null) mc.kill('SIGKILL');
    await ctx.close().catch(() => {});
  }
}

// One fingerprint altered in transit: in "remote" the page changes medcall's
// (so Chromium refuses medcall's certificate), in "own" the page sends its own
// altered (so medcall refuses Chromium's).
async function tampered(srv, which) {
  const ctx = await browser.createBrowserContext();
  let mc = null;
  try {
    mc = medcall('medcall-tamper-' + which, ['call', '--server', `wss://127.0.0.1:${srv.port}/ws`, '--insecure', '--echo']);
    const link = (await waitLine(mc, /^link: https:\/\//, 'the room link')).slice('link: '.length).trim();
    const page = await newPage(ctx, 'patient');
    await page.goto(`https://127.0.0.1:${srv.port}/`);
    await page.evaluate(pagePeer, which === 'own' ? { tamperOwn: true } : { tamperRemote: true });
    await page.evaluate((r) => window.P.send({ type: 'join', room: r, name: 'tamper' }), link.split('/r/')[1]);
    await step(`tampered (${which}): Chromium fails closed`, () => page.waitForFunction(
      () => window.P.state === 'failed', { timeout: 40000 }));
    const ex = await lib.exitWithin(mc, 40000);
    const out = tail(mc.logPath, 200);
    check(ex.code === 1 && /the call failed/.test(out), `tampered (${which}): medcall fails closed (status 1)`, { code: ex.code, out: out.split('\n').filter((l) => /failed|state/.test(l)) });
    check(!/state: connected/.test(out), `tampered (${which}): medcall never reported connected`);
    const chatOpened = await page.evaluate(() => !!(window.P.chat && window.P.chat.readyState === 'open'));
    check(!chatOpened, `tampered (${which}): no data channel opened`);
    if (which === 'own') check(/fingerprint/.test(out), 'medcall says the certificate did not match the fingerprint',
      out.split('\n').filter((l) => /fingerprint/.test(l)));
  } finally {
    if (mc && mc.exitCode === null) mc.kill('SIGKILL');
    await ctx.close().catch(() => {});
  }
}

const cleanup = async () => { await lib.closeAll(browser); browser = null; };

async function main() {
  if (!SERVER || !WEB_ROOT || !APP) throw new Error('MEDCALL_SERVER, MEDCALL_WEB_ROOT and MEDCALL_APP must be set');
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-native-'));
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await startCoturn(secret);
  const srv = await lib.startServer(SERVER, WEB_ROOT, turn.port, secret);
  browser = await lib.launchChromium(puppeteer, CHROMIUM, srv.spki, ['--disable-features=WebRtcHideLocalIpsWithMdns']);
  for (const s of SCENARIOS) {
    log('--- scenario', s);
    if (s === 'medcall-offers') await medcallOffers(srv);
    else if (s === 'browser-offers') await browserOffers(srv);
    else if (s === 'tampered') { await tampered(srv, 'remote'); await tampered(srv, 'own'); }
    else if (s === 'legacy') { for (const offers of [true, false]) await legacyForm({ browser, newPage, medcall, srv, name: 'Chromium' }, offers); }
    else throw new Error('unknown scenario ' + s);
  }
}

lib.runTest(main, cleanup, 400000, SCENARIOS.join(' '));
