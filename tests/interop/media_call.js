// Media interop (issue 5 item 6): the medcall program and headless Chromium
// through the real medcall-server, video and audio both ways, in both offer
// directions. Each side sends a moving picture with its capture time stamped
// in the top row (media_pages.js, src/media/stamp.c: the same stamp) and a
// tone (medcall 440 Hz, the page 660 Hz). Checked, on each side: at least
// 90% of the frames the other side sent were decoded, the stamps read back
// arrive in increasing order, and the other side's tone is the loudest
// frequency received. Glass-to-glass latency is printed, not asserted.
//
// Run by run.sh inside a private network namespace holding only lo. Env:
// MEDCALL_SERVER, MEDCALL_WEB_ROOT, MEDCALL_APP, CHROMIUM, INTEROP_SCENARIOS,
// INTEROP_MEDIA_SECONDS (20), INTEROP_KEEP=1.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');
const lib = require('./lib');
const { pagePeer } = require('./pages');
const { mediaHelpers } = require('./media_pages');

const { state, log, check, step, start, tail, until, startCoturn, pageHelpers } = lib;
const SERVER = process.env.MEDCALL_SERVER;
const WEB_ROOT = process.env.MEDCALL_WEB_ROOT;
const APP = process.env.MEDCALL_APP;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCENARIOS = (process.env.INTEROP_SCENARIOS || 'medcall-offers browser-offers').split(/\s+/).filter(Boolean);
const SECONDS = Number(process.env.INTEROP_MEDIA_SECONDS || 20);
const STEP_MS = 20000;
const MEDIA = { width: 640, height: 480, fps: 30, hz: 660 };

let browser = null;

const medcall = (name, args) => lib.startMedcall(APP, name, args);
const waitLine = (p, re, what) => lib.waitLine(p, re, what, STEP_MS);

const newPage = (ctx, who) => lib.newPage(ctx, who, [pageHelpers, mediaHelpers]);

// What the page sent and received, from getStats and its stamp reader.
async function pageMedia(page) {
  return page.evaluate(async () => {
    const stats = await window.P.pc.getStats();
    const out = { inVideo: null, outVideo: null, inAudio: null };
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') out.inVideo = { framesDecoded: s.framesDecoded, packetsLost: s.packetsLost, nackCount: s.nackCount, pliCount: s.pliCount, frameWidth: s.frameWidth };
      if (s.type === 'outbound-rtp' && s.kind === 'video') out.outVideo = { framesEncoded: s.framesEncoded, framesSent: s.framesSent, frameWidth: s.frameWidth };
      if (s.type === 'inbound-rtp' && s.kind === 'audio') out.inAudio = { packetsReceived: s.packetsReceived, packetsLost: s.packetsLost };
    });
    const M = window.M;
    let inOrder = 0, outOfOrder = 0;
    for (let i = 1; i < M.stamps.length; i++) {
      // An equal stamp is a repeated picture, not disorder.
      if (((M.stamps[i].t - M.stamps[i - 1].t) | 0) >= 0) inOrder++; else outOfOrder++;
    }
    const lat = M.stamps.map((s) => (s.at - s.t) | 0).filter((x) => x >= 0 && x < 60000).sort((a, b) => a - b);
    out.stamps = { read: M.stamps.length, bad: M.bad, frames: M.frames, inOrder, outOfOrder,
                   p50: lat[Math.floor(lat.length / 2)], p95: lat[Math.floor(lat.length * 0.95)] };
    out.peak = M.analyser ? M.peak() : null;
    return out;
  });
}

function checkBoth(what, pm, mcStats) {
  const mv = mcStats.video, ma = mcStats.audio;
  const mcVideoOut = mcStats.tracks.find((t) => t.kind === 'video' && t.sending) || {};
  log(`figure: ${what}: medcall->Chromium glass-to-glass p50 ${pm.stamps.p50} ms p95 ${pm.stamps.p95} ms;`,
    `Chromium->medcall p50 ${mv.glassToGlassP50Ms} ms p95 ${mv.glassToGlassP95Ms} ms`);
  // medcall -> Chromium
  check(pm.inVideo && pm.inVideo.framesDecoded >= 0.9 * mcVideoOut.framesSent,
    `${what}: Chromium decoded at least 90% of the frames medcall sent`, { decoded: pm.inVideo, sent: mcVideoOut.framesSent });
  check(pm.stamps.read >= 0.9 * pm.stamps.frames && pm.stamps.read > 0 && pm.stamps.outOfOrder === 0,
    `${what}: Chromium read medcall's stamps back, in increasing order`, pm.stamps);
  check(pm.peak && Math.abs(pm.peak.hz - 440) < 12, `${what}: Chromium hears medcall's 440 Hz tone`, pm.peak);
  // Chromium -> medcall
  const sentByPage = pm.outVideo ? pm.outVideo.framesSent : 0;
  check(mv.framesDecoded >= 0.9 * sentByPage && sentByPage > 0,
    `${what}: medcall decoded at least 90% of the frames Chromium sent`, { decoded: mv.framesDecoded, sent: sentByPage });
  check(mv.stampsRead >= 0.9 * mv.framesDecoded && mv.stampsOutOfOrder === 0,
    `${what}: medcall read Chromium's stamps back, in increasing order`, { read: mv.stampsRead, errors: mv.stampErrors, outOfOrder: mv.stampsOutOfOrder });
  check(Math.abs(ma.dominantHz - 660) < 12, `${what}: medcall hears Chromium's 660 Hz tone`, ma);
}

async function run(srv, medcallOffers) {
  const what = medcallOffers ? 'medcall offers' : 'Chromium offers';
  const ctx = await browser.createBrowserContext();
  const statsFile = path.join(state.tmp, (medcallOffers ? 'doctor' : 'patient') + '-media.json');
  const mediaArgs = ['--headless', '--video-source', 'pattern', '--audio-source', 'tone:440',
    '--stats-json', statsFile, '--insecure'];
  let mc = null;
  try {
    const page = await newPage(ctx, medcallOffers ? 'patient' : 'doctor');
    await page.goto(`https://127.0.0.1:${srv.port}/`);
    await page.evaluate(pagePeer, { media: MEDIA });
    if (medcallOffers) {
      mc = medcall('medcall-doctor', ['call', '--server', `wss://127.0.0.1:${srv.port}/ws`, ...mediaArgs]);
      const link = (await waitLine(mc, /^link: /, 'the link')).slice(6).trim();
      await page.evaluate((r) => window.P.send({ type: 'join', room: r, name: 'Chromium' }), link.split('/r/')[1]);
    } else {
      await page.evaluate(() => window.P.send({ type: 'create' }));
      await page.waitForFunction(() => window.P.msgs.some((m) => m.type === 'created'), { timeout: STEP_MS, polling: 100 });
      const link = await page.evaluate(() => window.P.msgs.find((m) => m.type === 'created').link);
      mc = medcall('medcall-patient', ['join', link, ...mediaArgs]);
    }
    await step(`${what}: connected`, () => page.waitForFunction(() => window.P.state === 'connected',
      { timeout: STEP_MS, polling: 100 }));
    await waitLine(mc, /^state: connected/, 'medcall connected');
    // Media flows for SECONDS; then medcall hangs up and writes its figures.
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const pm = await pageMedia(page);
    mc.kill('SIGTERM');
    const ex = await lib.exitWithin(mc, STEP_MS);
    check(ex.code === 0, `${what}: medcall ends with status 0`, ex);
    const mcStats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
    log(what, 'page:', JSON.stringify(pm));
    log(what, 'medcall:', JSON.stringify({ video: mcStats.video, audio: mcStats.audio }));
    checkBoth(what, pm, mcStats);
  } finally {
    if (mc && mc.exitCode === null) mc.kill('SIGKILL');
    await ctx.close().catch(() => {});
  }
}

const cleanup = async () => { await lib.closeAll(browser); browser = null; };

async function main() {
  if (!SERVER || !WEB_ROOT || !APP) throw new Error('MEDCALL_SERVER, MEDCALL_WEB_ROOT and MEDCALL_APP must be set');
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-media-'));
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await startCoturn(secret);
  const srv = await lib.startServer(SERVER, WEB_ROOT, turn.port, secret);
  browser = await lib.launchChromium(puppeteer, CHROMIUM, srv.spki, ['--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required']);
  for (const s of SCENARIOS) {
    log('--- scenario', s);
    if (s === 'medcall-offers') await run(srv, true);
    else if (s === 'browser-offers') await run(srv, false);
    else throw new Error('unknown scenario ' + s);
  }
}

lib.runTest(main, cleanup, 240000, SCENARIOS.join(' '));
