// The patient of the lab's page-call test (tests/lab/page_call.sh): headless
// Chromium opens the doctor's link in the real patient page (assets/web/room.html
// served by medcall-server) with #name=...&autojoin=1, inside the patient's
// network namespace behind a symmetric NAT. The page's camera and microphone
// are the interop suite's stamped canvas and a 660 Hz oscillator
// (tests/interop/media_pages.js): getUserMedia is replaced before the page's
// scripts run, nothing else of the page is touched. medcall's video (its
// stamped pattern) is read back from the page's own remote <video>, its
// 440 Hz tone found in the remote stream.
//
// Checked here: the page reaches 'call', the peer connection 'connected', the
// page shows "relayed", the selected pair (getStats) succeeded with a relay
// candidate; inbound video framesDecoded grows between two samples and
// passes PAGE_MIN_FRAMES, the stamps read from #remote are increasing, the
// inbound audio has samples and energy and its loudest frequency is 440 Hz;
// when the doctor hangs up the page ends with the doctor's reason. Written
// to RESULT (JSON) for the shell: the page's verification code (if room.js
// shows one) and the frames it had sent when the call ended.
//
// argv: LINK. Env: CHROMIUM, RESULT, SERVER_CERT (the server's cert.pem, to
// trust exactly its key), WORK (a directory for the profile), WEB_ROOT
// (to see whether room.js shows a verification code), PAGE_SAMPLE_SECONDS
// (18), PAGE_MIN_FRAMES (250), PAGE_EXPECT_PATH: relay (the default: the
// page shows "relayed", a relay candidate in its pair) or tcp (ICE-TCP, no
// TURN: the page shows "direct", its pair's candidates are tcp ones).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const interop = path.join(__dirname, '..', 'interop');
const puppeteer = require(path.join(interop, 'node_modules', 'puppeteer-core'));
const lib = require(path.join(interop, 'lib'));
const { mediaHelpers } = require(path.join(interop, 'media_pages'));

const { state, log, check, step } = lib;
const LINK = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SAMPLE_S = Number(process.env.PAGE_SAMPLE_SECONDS || 18);
const MIN_FRAMES = Number(process.env.PAGE_MIN_FRAMES || 250);
const EXPECT = process.env.PAGE_EXPECT_PATH || 'relay';
const SHOWN = EXPECT === 'tcp' ? 'direct' : 'relayed';
const STEP_MS = 30000; // liveness bound, not a performance target
const MEDIA = { width: 640, height: 480, fps: 30, hz: 660 };

let browser = null;
const result = {};

// Runs in the page before its scripts: the camera and microphone become the
// stamped canvas and the tone of media_pages.js.
function stampedDevices(media) {
  navigator.mediaDevices.getUserMedia = async () =>
    window.M.stream(media.width, media.height, media.fps, media.hz);
}

// What the page receives and sends, from getStats() and the stamp reader.
async function sample(page) {
  return page.evaluate(async () => {
    const pc = window.medcall.pc;
    const stats = await pc.getStats();
    const out = { at: Date.now(), connectionState: pc.connectionState, inVideo: null, inAudio: null, outVideo: null };
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.inVideo = { framesDecoded: s.framesDecoded || 0, framesReceived: s.framesReceived, framesDropped: s.framesDropped,
                        keyFramesDecoded: s.keyFramesDecoded, frameWidth: s.frameWidth || 0, packetsReceived: s.packetsReceived,
                        packetsLost: s.packetsLost, nackCount: s.nackCount, pliCount: s.pliCount, firCount: s.firCount,
                        freezeCount: s.freezeCount, totalFreezesDuration: s.totalFreezesDuration,
                        codec: s.codecId && stats.get(s.codecId) && stats.get(s.codecId).mimeType };
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.inAudio = { packetsReceived: s.packetsReceived || 0, totalSamplesReceived: s.totalSamplesReceived || 0,
                        audioLevel: s.audioLevel || 0, totalAudioEnergy: s.totalAudioEnergy || 0,
                        codec: s.codecId && stats.get(s.codecId) && stats.get(s.codecId).mimeType };
      }
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.outVideo = { framesEncoded: s.framesEncoded || 0, framesSent: s.framesSent || 0, frameWidth: s.frameWidth || 0 };
      }
    });
    const M = window.M;
    let outOfOrder = 0;
    // An equal stamp is a repeated picture, not disorder.
    for (let i = 1; i < M.stamps.length; i++) if (((M.stamps[i].t - M.stamps[i - 1].t) | 0) < 0) outOfOrder++;
    const lat = M.stamps.map((s) => (s.at - s.t) | 0).filter((x) => x >= 0 && x < 60000).sort((a, b) => a - b);
    out.stamps = { frames: M.frames, read: M.stamps.length, bad: M.bad, outOfOrder,
                   first: M.stamps.length ? M.stamps[0].t : null, last: M.stamps.length ? M.stamps[M.stamps.length - 1].t : null,
                   p50: lat[Math.floor(lat.length / 2)], p95: lat[Math.floor(lat.length * 0.95)] };
    out.peak = M.analyser ? M.peak() : null;
    out.pair = await window.__t.pair(pc);
    return out;
  });
}

function verificationExpected() {
  try {
    const js = fs.readFileSync(path.join(process.env.WEB_ROOT, 'room.js'), 'utf8');
    return /verify-code|verification/.test(js);
  } catch (e) { return false; }
}

async function main() {
  if (!LINK || !/^https:\/\/[^/]+\/r\/[A-Za-z0-9_-]+$/.test(LINK)) throw new Error('usage: page_call.js LINK (https://HOST/r/ROOM)');
  state.tmp = fs.mkdtempSync(path.join(process.env.WORK || '/tmp', 'page-'));
  const cert = new crypto.X509Certificate(fs.readFileSync(process.env.SERVER_CERT, 'utf8'));
  const spki = crypto.createHash('sha256')
    .update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  // Host candidates as addresses (not mDNS names medcall cannot resolve),
  // audio playing without a user gesture (the remote <video> is not muted).
  browser = await lib.launchChromium(puppeteer, CHROMIUM, spki,
    ['--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required']);
  const ctx = await browser.createBrowserContext();
  const page = await lib.newPage(ctx, 'patient', [lib.pageHelpers, mediaHelpers]);
  await page.evaluateOnNewDocument(stampedDevices, MEDIA);

  const resp = await page.goto(LINK + '#name=Patient&autojoin=1');
  check(resp.status() === 200, 'the room link serves the patient page', { status: resp.status() });
  await step('the page reaches the call', () => page.waitForFunction(
    () => window.medcall && window.medcall.state === 'call', { timeout: STEP_MS, polling: 100 }));
  await step('the peer connection connects', () => page.waitForFunction(
    () => window.medcall.pc && window.medcall.pc.connectionState === 'connected', { timeout: STEP_MS, polling: 100 }));
  const tConnected = Date.now();
  // The page's own remote <video>: read medcall's stamps from it, and find
  // the loudest frequency of the stream it plays.
  await step('the remote video has a stream', () => page.waitForFunction(() => {
    const v = document.getElementById('remote');
    const s = v && v.srcObject;
    if (!s || !s.getVideoTracks().length || !s.getAudioTracks().length) return false;
    window.M.watch(v);
    window.M.listen(s);
    return true;
  }, { timeout: STEP_MS, polling: 100 }));
  await step(`the page shows "${SHOWN}"`, () => page.waitForFunction(
    (want) => window.medcall.connection === want, { timeout: STEP_MS, polling: 200 }, SHOWN));
  // A selected pair reads in-progress while a check on it is outstanding.
  await page.waitForFunction(() => window.__t.pair(window.medcall.pc).then((p) => p && p.state === 'succeeded'),
    { timeout: STEP_MS, polling: 200 }).catch(() => {});

  if (verificationExpected()) {
    result.verify = await step('the page shows a verification code', async () => {
      await page.waitForFunction(() => {
        const e = document.getElementById('verify-code');
        return (e && /\d/.test(e.textContent)) || /\d/.test(String(window.medcall.verification || ''));
      }, { timeout: STEP_MS, polling: 200 });
      return page.evaluate(() => {
        const e = document.getElementById('verify-code');
        return { shown: e ? e.textContent : null, visible: !!(e && e.offsetParent), api: window.medcall.verification || null };
      });
    });
    log('page verification code', JSON.stringify(result.verify));
  } else {
    result.verify = null;
    log('room.js shows no verification code: not compared');
  }

  await new Promise((r) => setTimeout(r, Math.max(0, tConnected + 3000 - Date.now())));
  const s1 = await sample(page);
  await new Promise((r) => setTimeout(r, Math.max(0, tConnected + SAMPLE_S * 1000 - Date.now())));
  const s2 = await sample(page);
  result.first = s1;
  result.last = s2;
  result.sentBeforeEnd = s2.outVideo ? s2.outVideo.framesSent : 0;
  log('sample at 3 s:', JSON.stringify(s1));
  log(`sample at ${SAMPLE_S} s:`, JSON.stringify(s2));
  log(`figure: medcall->page glass-to-glass p50 ${s2.stamps.p50} ms p95 ${s2.stamps.p95} ms,`,
    `frames decoded ${s2.inVideo && s2.inVideo.framesDecoded} in ${((s2.at - tConnected) / 1000).toFixed(1)} s`);

  // Chromium shows the selected pair in-progress while a consent check on it
  // is outstanding (more often through a relay): look again for a while.
  let p = s2.pair;
  for (let i = 0; i < 40 && !(p && p.state === 'succeeded'); i++) {
    await new Promise((r) => setTimeout(r, 250));
    p = await page.evaluate(() => window.__t.pair(window.medcall.pc));
  }
  result.pair = p;
  const relayIn = p && [p.local, p.remote].some((c) => c && c.type === 'relay');
  const tcpBoth = p && [p.local, p.remote].every((c) => c && c.protocol === 'tcp');
  check(s2.connectionState === 'connected', 'the page is still connected at the second sample', s2.connectionState);
  if (EXPECT === 'tcp') {
    check(p && p.state === 'succeeded' && tcpBoth && !relayIn, 'the page\'s selected pair succeeded over TCP, no relay', p);
  } else {
    check(p && p.state === 'succeeded' && relayIn, 'the page\'s selected pair succeeded and has a relay candidate', p);
  }
  // The first sample may come before the first frame or packet: absent is 0.
  const n = (o, k) => (o && o[k]) || 0;
  check(s2.inVideo && s2.inVideo.framesDecoded > n(s1.inVideo, 'framesDecoded') &&
    s2.inVideo.framesDecoded >= MIN_FRAMES, `the page decodes medcall's video (grows, >= ${MIN_FRAMES})`,
  { first: s1.inVideo, last: s2.inVideo });
  check(s2.stamps.read >= 0.9 * s2.stamps.frames && s2.stamps.read >= MIN_FRAMES / 2 && s2.stamps.outOfOrder === 0 &&
    (s1.stamps.last === null || ((s2.stamps.last - s1.stamps.last) | 0) > 0), 'the page\'s remote <video> shows medcall\'s stamps, increasing', s2.stamps);
  check(s2.inAudio && s2.inAudio.totalSamplesReceived > n(s1.inAudio, 'totalSamplesReceived') &&
    s2.inAudio.totalAudioEnergy > n(s1.inAudio, 'totalAudioEnergy') && s2.inAudio.audioLevel > 0,
  'the page receives medcall\'s audio (samples and energy grow, level > 0)', { first: s1.inAudio, last: s2.inAudio });
  check(s2.peak && Math.abs(s2.peak.hz - 440) < 12, 'the page hears medcall\'s 440 Hz tone', s2.peak);
  check(s2.outVideo && s2.outVideo.framesSent > n(s1.outVideo, 'framesSent'), 'the page sends video', s2.outVideo);

  // medcall hangs up after its --duration: the page must say so. Until then
  // follow the frames the page sends, for the shell to compare with what
  // medcall decoded over the whole call.
  const end = Date.now() + STEP_MS;
  for (;;) {
    const o = await page.evaluate(async () => {
      if (window.medcall.state === 'end' || window.medcall.pc.connectionState !== 'connected') return null;
      let sent = null;
      (await window.medcall.pc.getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') sent = s.framesSent || 0;
      });
      return { sent };
    });
    if (!o) break;
    if (o.sent !== null) result.sentBeforeEnd = o.sent;
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await step('the page ends when the doctor hangs up', () => page.waitForFunction(
    () => window.medcall.state === 'end', { timeout: STEP_MS, polling: 200 }));
  result.endText = await page.evaluate(() => document.getElementById('end-text').textContent);
  check(/doctor ended/.test(result.endText), 'the end screen gives the doctor\'s reason', result.endText);
}

const cleanup = async () => {
  result.failures = state.failures;
  if (process.env.RESULT) fs.writeFileSync(process.env.RESULT, JSON.stringify(result, null, 1));
  await lib.closeAll(browser);
  browser = null;
};

lib.runTest(main, cleanup, 150000, 'page-call (patient page)');
