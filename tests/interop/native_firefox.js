// Native interop with Firefox ESR: native_call.js's scenarios with headless
// Firefox (puppeteer-core over WebDriver BiDi) in place of Chromium, through
// the real medcall-server. Firefox speaks DTLS 1.3 to itself; medcall
// (OpenSSL 3.0) speaks DTLS 1.2 only, so every call here also checks that
// Firefox falls back to 1.2, as the DTLS client and as the server.
//
// Scenario "control": two peer connections inside Firefox negotiate DTLS 1.3
// (tlsVersion FEFC in getStats), so the 1.2 below is a real fallback.
// Scenario "medcall-offers": `medcall call` offers and opens "chat"; the
// Firefox page answers. Scenario "firefox-offers": the page offers and opens
// "chat"; `medcall join LINK` answers. In both, over "chat", the page sends
// INTEROP_MESSAGES (300) messages of random sizes up to INTEROP_MSG_MAX
// (64 KiB, never above the negotiated pc.sctp.maxMessageSize) through
// medcall's --echo, then a few of exactly that negotiated limit (our
// a=max-message-size of 256 KiB: Firefox's own is larger), all compared
// byte-exact and in order; medcall sends INTEROP_BULK_MB (10) MB on its own
// channel "bulk" (--send-bytes), checked by SHA-256 against the digest medcall
// prints. Firefox's getStats shows connectionState connected, a selected,
// succeeded host (or prflx) pair and tlsVersion FEFD (DTLS 1.2); medcall
// prints its pair and DTLS role, and its log names the cipher suite, which
// must be a TLS 1.2 one.
// Scenario "tampered": one fingerprint changed in transit, once each way
// (INTEROP_TAMPER, "remote own"): neither side connects, both fail closed.
// Scenario "legacy": the page's data m-line in the older DTLS/SCTP form, as
// Firefox's offer and as its answer (legacy_form.js).
//
// Run by run.sh inside a private network namespace holding only lo. Env:
// MEDCALL_SERVER, MEDCALL_WEB_ROOT, MEDCALL_APP, FIREFOX
// (/usr/bin/firefox-esr), INTEROP_SCENARIOS, INTEROP_KEEP=1,
// INTEROP_MEDCALL_LOG (medcall's MEDCALL_LOG, default info).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const lib = require('./lib');
const { pagePeer, echoTest, bulkReceived } = require('./pages');
const { legacyForm } = require('./legacy_form');

const { state, log, check, step, start, tail, until, startCoturn } = lib;
const SERVER = process.env.MEDCALL_SERVER;
const WEB_ROOT = process.env.MEDCALL_WEB_ROOT;
const APP = process.env.MEDCALL_APP;
const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
const SCENARIOS = (process.env.INTEROP_SCENARIOS || 'control medcall-offers firefox-offers tampered legacy')
  .split(/\s+/).filter(Boolean);
const TAMPER = (process.env.INTEROP_TAMPER || 'remote own').split(/\s+/).filter(Boolean);
const MESSAGES = Number(process.env.INTEROP_MESSAGES || 300);
const MSG_MAX = Number(process.env.INTEROP_MSG_MAX || 64 * 1024);
const OUR_MAX_MESSAGE = 256 * 1024; // medcall's a=max-message-size (docs/peer-connection.md)
const BULK = Number(process.env.INTEROP_BULK_MB || 10) * 1000 * 1000;
const MEDCALL_LOG = process.env.INTEROP_MEDCALL_LOG || 'info';
const STEP_MS = 20000; // liveness bound, not a performance target
const DATA_MS = 60000;

// Same rule as run.sh's `missing`: a failure in CI, a skip (77) elsewhere.
if (!fs.existsSync(FIREFOX)) {
  const ci = process.env.CI === 'true';
  console.error(`${ci ? 'FAIL' : 'SKIP'}: no Firefox at ${FIREFOX} (apt-get install firefox-esr)`);
  process.exit(ci ? 1 : 77);
}
const puppeteer = require('puppeteer-core');

let browser = null;

const medcall = (name, args) => lib.startMedcall(APP, name, args, ['MEDCALL_LOG=' + MEDCALL_LOG]);
const { waitLine, exitWithin } = lib;

// ---- page side (Firefox) ----

// Firefox has no RTCTransportStats: its candidate-pair stats carry a
// (non-standard) `selected` flag instead of transport.selectedCandidatePairId.
// Returns the connection state, the selected pair, the SCTP limit and the
// setup role in the local description, plus which stats types exist.
async function firefoxState() {
  const pc = window.P.pc;
  const stats = await pc.getStats();
  const types = new Set();
  let pair = null, transport = null;
  stats.forEach((s) => {
    types.add(s.type);
    if (s.type === 'transport') transport = s;
    if (s.type === 'candidate-pair' && (s.selected || (transport && transport.selectedCandidatePairId === s.id))) pair = s;
  });
  if (!pair && transport && transport.selectedCandidatePairId) pair = stats.get(transport.selectedCandidatePairId);
  const c = (id) => {
    const s = stats.get(id);
    return s && { type: s.candidateType, protocol: s.protocol, address: s.address, port: s.port };
  };
  const setup = (pc.localDescription && (pc.localDescription.sdp.match(/a=setup:(\w+)/) || [])[1]) || null;
  return {
    state: pc.connectionState, ice: pc.iceConnectionState,
    pair: pair && { state: pair.state, nominated: pair.nominated, local: c(pair.localCandidateId),
                    remote: c(pair.remoteCandidateId), bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived },
    maxMessageSize: pc.sctp ? pc.sctp.maxMessageSize : null,
    sctpState: pc.sctp ? pc.sctp.state : null,
    dtlsTransportState: pc.sctp && pc.sctp.transport ? pc.sctp.transport.state : null,
    localSetup: setup,
    localMaxMessageSize: Number((pc.localDescription && (pc.localDescription.sdp.match(/a=max-message-size:(\d+)/) || [])[1]) || 0),
    transport: transport && { dtlsState: transport.dtlsState, tlsVersion: transport.tlsVersion,
                              dtlsCipher: transport.dtlsCipher, srtpCipher: transport.srtpCipher },
    types: [...types].sort(),
  };
}

// Two peer connections in one page, connected to each other: the DTLS
// version Firefox negotiates with itself (the control for the fallback).
async function firefoxSelf() {
  await navigator.mediaDevices.getUserMedia({ audio: true }).then((st) => st.getTracks().forEach((t) => t.stop()));
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  a.createDataChannel('x');
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  const end = Date.now() + 10000;
  while ((a.connectionState !== 'connected' || b.connectionState !== 'connected') && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
  }
  let tlsVersion = null, dtlsCipher = null;
  (await a.getStats()).forEach((s) => { if (s.type === 'transport') { tlsVersion = s.tlsVersion; dtlsCipher = s.dtlsCipher; } });
  const out = { a: a.connectionState, b: b.connectionState, tlsVersion, dtlsCipher };
  a.close(); b.close();
  return out;
}

// ---- checks ----

// Firefox pages get no helpers before load: the checks read getStats directly.
const newPage = (ctx, who) => lib.newPage(ctx, who, []);

async function checkFirefoxStats(page, what) {
  const st = await page.evaluate(firefoxState);
  log(`${what}: Firefox state`, JSON.stringify(st));
  check(st.state === 'connected', `${what}: Firefox connectionState connected`, st.state);
  check(st.pair && st.pair.state === 'succeeded' && st.pair.local.type === 'host' && /^(host|prflx)$/.test(st.pair.remote.type),
    `${what}: Firefox's selected pair is direct (host to host or prflx) and succeeded`, st.pair);
  check(st.dtlsTransportState === 'connected', `${what}: Firefox's RTCDtlsTransport is connected`, st.dtlsTransportState);
  // RTCTransportStats.tlsVersion: FEFD is DTLS 1.2, FEFC DTLS 1.3.
  check(st.transport && st.transport.tlsVersion === 'FEFD' && st.transport.dtlsState === 'connected',
    `${what}: Firefox's getStats says DTLS 1.2 (tlsVersion FEFD)`, st.transport);
  return st;
}

// medcall's `dtls:` line proves the handshake completed and keys were
// exported; its log line `dtls: connected ... cipher=` names the suite, and
// a TLS 1.2 suite (ECDHE-...) rather than a 1.3 one (TLS_AES_...) proves
// Firefox fell back to DTLS 1.2.
async function checkMedcallConnected(mc, what) {
  const pair = await waitLine(mc, /^pair: /, 'the selected pair');
  check(/^pair: host (host|prflx)$/.test(pair), `${what}: medcall selected a direct pair`, pair);
  const dtls = await waitLine(mc, /^dtls: (client|server) /, 'the DTLS line');
  check(/SRTP_AEAD_AES_128_GCM$|SRTP_AES128_CM_SHA1_80$/.test(dtls), `${what}: medcall DTLS-SRTP keys exported`, dtls);
  const conn = await waitLine(mc, /dtls: connected role=/, 'the DTLS log line');
  const cipher = (conn.match(/cipher=(\S+)/) || [])[1] || '';
  check(/^ECDHE-ECDSA-/.test(cipher) && !/^TLS_/.test(cipher),
    `${what}: Firefox fell back to DTLS 1.2 (medcall negotiated the TLS 1.2 suite ${cipher})`, conn);
  log(`${what}: medcall`, dtls, '|', conn.replace(/^.*dtls: /, ''));
  return dtls;
}

// The echo and the bulk, the same in both directions.
async function dataChecks(page, mc, what) {
  const st = await page.evaluate(firefoxState);
  const limit = Math.min(st.maxMessageSize || 0, OUR_MAX_MESSAGE);
  check(st.maxMessageSize > 0 && st.maxMessageSize <= OUR_MAX_MESSAGE,
    `${what}: Firefox's pc.sctp.maxMessageSize respects our a=max-message-size (256 KiB)`, st.maxMessageSize);
  log(`${what}: Firefox announces a=max-message-size:${st.localMaxMessageSize}, pc.sctp.maxMessageSize ${st.maxMessageSize}`);
  const max = Math.min(MSG_MAX, limit);
  const echo = await step(`echo of ${MESSAGES} messages`, () => page.evaluate(echoTest, MESSAGES, max));
  check(echo.count === MESSAGES && echo.bad === 0,
    `${what}: ${MESSAGES} messages up to ${max} bytes came back byte-exact and in order`, echo);
  log(`figure: ${what}: echo`, (echo.bytes / 1e6).toFixed(1), 'MB each way in', echo.ms, 'ms');
  const edge = await step('echo at the negotiated limit', () => page.evaluate(echoTest, 4, limit));
  check(edge.count === 4 && edge.bad === 0,
    `${what}: messages of exactly pc.sctp.maxMessageSize (${limit} bytes) came back byte-exact`, edge);

  const sentLine = await waitLine(mc, /^sent: /, `medcall sending ${BULK} bytes`, DATA_MS);
  const t0 = Date.now();
  await step('the bulk channel delivers everything', () => page.waitForFunction(
    (n) => window.P.bulkBytes >= n, { timeout: DATA_MS, polling: 100 }, BULK));
  const got = await page.evaluate(bulkReceived, BULK);
  check(sentLine === `sent: ${BULK} bytes sha256 ${got.hex}` && got.bytes === BULK,
    `${what}: ${BULK / 1e6} MB from medcall's channel "bulk" arrived byte-exact (SHA-256)`, { sentLine, got });
  log(`figure: ${what}: bulk done`, Date.now() - t0, 'ms after medcall queued the last byte');
  const label = await page.evaluate(() => window.P.bulk && window.P.bulk.label);
  check(label === 'bulk', `${what}: medcall's in-band channel (DCEP) reached Firefox`, label);
}

// ---- scenarios ----

async function control(srv) {
  const ctx = await browser.createBrowserContext();
  try {
    const page = await newPage(ctx, 'control');
    await page.goto(`https://127.0.0.1:${srv.port}/`);
    const r = await page.evaluate(firefoxSelf);
    check(r.a === 'connected' && r.b === 'connected' && r.tlsVersion === 'FEFC',
      `control: Firefox negotiates DTLS 1.3 with itself (tlsVersion FEFC, ${r.dtlsCipher})`, r);
  } finally {
    await ctx.close().catch(() => {});
  }
}

async function medcallOffers(srv) {
  const ctx = await browser.createBrowserContext();
  let mc = null;
  try {
    mc = medcall('medcall-doctor', ['call', '--server', `wss://127.0.0.1:${srv.port}/ws`, '--insecure', '--echo',
      '--send-bytes', String(BULK), '--stats-json', path.join(state.tmp, 'doctor-stats.json')]);
    const link = (await waitLine(mc, /^link: https:\/\//, 'the room link')).slice('link: '.length).trim();
    const page = await newPage(ctx, 'patient');
    await page.goto(`https://127.0.0.1:${srv.port}/`);
    await page.evaluate(pagePeer, {});
    await page.evaluate((r) => window.P.send({ type: 'join', room: r, name: 'Firefox patient' }), link.split('/r/')[1]);
    await step('medcall admits and the call connects (Firefox answers)', () => page.waitForFunction(
      () => window.P.state === 'connected' && window.P.chat && window.P.chat.readyState === 'open',
      { timeout: STEP_MS, polling: 50 }));
    const st = await checkFirefoxStats(page, 'medcall offers');
    const dtls = await checkMedcallConnected(mc, 'medcall offers');
    const want = st.localSetup === 'active' ? 'server' : 'client';
    check(new RegExp('^dtls: ' + want).test(dtls),
      `medcall offered actpass, Firefox answered ${st.localSetup}: medcall is the DTLS ${want}`, dtls);
    await dataChecks(page, mc, 'medcall offers');

    await page.evaluate(() => { window.P.send({ type: 'leave' }); window.P.pc.close(); });
    // The doctor decides when a consultation ends: the room stays open for
    // the patient to come back, and medcall says so.
    const away = await lib.waitLine(mc, /^away: the patient (left|closed)/, 'medcall waits for the patient', STEP_MS);
    check(/waiting for .* to come back$/.test(away), 'medcall keeps the room when the patient leaves', away);
    check(mc.exitCode === null, 'medcall call is still running after the patient left', mc.exitCode);
    mc.kill('SIGTERM');
    const ex = await exitWithin(mc, STEP_MS);
    check(ex.code === 0, 'medcall call ends with status 0 when the doctor ends it', ex);
    const stats = JSON.parse(fs.readFileSync(path.join(state.tmp, 'doctor-stats.json'), 'utf8'));
    check(stats.selectedCandidatePair.localCandidateType === 'host' && stats.messagesReceived >= MESSAGES,
      'medcall --stats-json: selected pair and message counts', { pair: stats.selectedCandidatePair, received: stats.messagesReceived });
  } finally {
    if (mc && mc.exitCode === null) mc.kill('SIGKILL');
    await ctx.close().catch(() => {});
  }
}

async function firefoxOffers(srv) {
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
    await step('Firefox admits medcall and the call connects (medcall answers)', () => page.waitForFunction(
      () => window.P.state === 'connected' && window.P.chat && window.P.chat.readyState === 'open',
      { timeout: STEP_MS, polling: 50 }));
    const knock = await page.evaluate(() => window.P.msgs.find((m) => m.type === 'knock'));
    check(knock && knock.name === 'medcall patient', 'the doctor saw medcall knock with its name', knock);
    await checkFirefoxStats(page, 'Firefox offers');
    const dtls = await checkMedcallConnected(mc, 'Firefox offers');
    check(/^dtls: client /.test(dtls), 'Firefox offered actpass and medcall answered active: medcall is the DTLS client', dtls);
    await dataChecks(page, mc, 'Firefox offers');

    await page.evaluate(() => window.P.send({ type: 'end' }));
    const ex = await exitWithin(mc, STEP_MS);
    check(ex.code === 0, 'medcall join ends with status 0 when the doctor ends the room', ex);
  } finally {
    if (mc && mc.exitCode === null) mc.kill('SIGKILL');
    await ctx.close().catch(() => {});
  }
}

// "remote": the page alters medcall's fingerprint (Firefox must refuse
// medcall's certificate); "own": the page sends its own altered (medcall must
// refuse Firefox's).
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
    await step(`tampered (${which}): Firefox fails closed`, () => page.waitForFunction(
      () => window.P.state === 'failed', { timeout: 40000, polling: 100 }));
    const ex = await exitWithin(mc, 40000);
    const out = tail(mc.logPath, 200);
    check(ex.code === 1 && /the call failed/.test(out), `tampered (${which}): medcall fails closed (status 1)`,
      { code: ex.code, out: out.split('\n').filter((l) => /failed|state:|alert/.test(l)) });
    check(!/^state: connected/m.test(out), `tampered (${which}): medcall never reported connected`);
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
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-firefox-'));
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await startCoturn(secret);
  const srv = await lib.startServer(SERVER, WEB_ROOT, turn.port, secret);
  // puppeteer writes the profile's user.js: its defaults turn off updates,
  // safe browsing and data reporting; telemetry and the rest are added here.
  // The server's certificate is self-signed: acceptInsecureCerts (BiDi
  // session capability) lets the page and its WebSocket reach it.
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: path.join(state.tmp, 'firefox-profile'),
    acceptInsecureCerts: true,
    args: ['--no-remote'],
    env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1' },
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      'permissions.default.camera': 1,
      'permissions.default.microphone': 1,
      'media.peerconnection.ice.loopback': true,
      'app.update.auto': false,
      'app.update.enabled': false,
      'toolkit.telemetry.enabled': false,
      'toolkit.telemetry.unified': false,
      'toolkit.telemetry.archive.enabled': false,
      'toolkit.telemetry.server': '',
      'browser.ping-centre.telemetry': false,
      'browser.safebrowsing.provider.google4.updateURL': '',
      'browser.safebrowsing.provider.mozilla.updateURL': '',
      'browser.safebrowsing.update.enabled': false,
      'network.captive-portal-service.enabled': false,
      'network.connectivity-service.enabled': false,
      'dom.min_background_timeout_value': 4,
    },
  });
  log('firefox', await browser.version());
  for (const s of SCENARIOS) {
    log('--- scenario', s);
    if (s === 'control') await control(srv);
    else if (s === 'medcall-offers') await medcallOffers(srv);
    else if (s === 'firefox-offers') await firefoxOffers(srv);
    else if (s === 'tampered') { for (const w of TAMPER) await tampered(srv, w); }
    else if (s === 'legacy') { for (const offers of [true, false]) await legacyForm({ browser, newPage, medcall, srv, name: 'Firefox' }, offers); }
    else throw new Error('unknown scenario ' + s);
  }
}

lib.runTest(main, cleanup, 150000, 'firefox: ' + SCENARIOS.join(' '));
