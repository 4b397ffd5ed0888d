// Chromium-to-Chromium beside medcall (issue 13 item 6): a page reload in a
// call between two Chromium pages through the same medcall-server. The
// patient is the real patient page (assets/web, which resumes its session
// after a reload); the doctor is a page written from docs/signaling.md with
// Chromium's own RTCPeerConnection, in one of two modes:
//   fresh: it follows the protocol: peer-back with "fresh" makes it start a
//          new RTCPeerConnection and offer (what medcall does);
//   plain: it does what a WebRTC page does without that: it keeps its
//          RTCPeerConnection and restarts ICE on peer-back.
// Prints one line per run: "reload MODE ms=N" (reload to the doctor page
// decoding video again), or "reload MODE lost" after 30 s.
// Run: MEDCALL_SERVER=build/src/server/medcall-server MEDCALL_WEB_ROOT=assets/web \
//   bash tests/interop/run.sh ../../bench/reload_chromium.js   (inside a lo-only namespace)
// Env: MEDCALL_SERVER, MEDCALL_WEB_ROOT, CHROMIUM, RELOAD_RUNS (default 3).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');
const lib = require('../tests/interop/lib');

const puppeteer = createRequire(path.join(__dirname, '../tests/interop/package.json'))('puppeteer-core');

const { state, log } = lib;
const RUNS = Number(process.env.RELOAD_RUNS || 3);
const LOST_MS = 30000;
let browser = null;

function doctorPage(mode) {
  const D = window.D = { room: null, link: null, pc: null, decoded: 0, mode };
  const ws = new WebSocket('wss://' + location.host + '/ws');
  const send = (m) => { m.v = 1; ws.send(JSON.stringify(m)); };
  let ice = [];
  let local = null;
  async function newPc() {
    if (D.pc) D.pc.close();
    const pc = D.pc = new RTCPeerConnection({ iceServers: ice });
    if (!local) local = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    local.getTracks().forEach((t) => pc.addTrack(t, local));
    pc.createDataChannel('control', { negotiated: true, id: 1 });
    pc.createDataChannel('chat');
    pc.onicecandidate = (e) => send(e.candidate
      ? { type: 'candidate', candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }
      : { type: 'candidate', candidate: '' });
    await offer(false);
  }
  async function offer(restart) {
    await D.pc.setLocalDescription(await D.pc.createOffer({ iceRestart: restart }));
    send({ type: 'offer', sdp: D.pc.localDescription.sdp });
  }
  let chain = Promise.resolve();
  ws.onopen = () => send({ type: 'create' });
  ws.onmessage = (ev) => { chain = chain.then(async () => {
    const m = JSON.parse(ev.data);
    if (m.type === 'created') { D.room = m.room; D.link = m.link; }
    else if (m.type === 'knock') send({ type: 'admit', knock: m.knock });
    else if (m.type === 'admitted') { ice = m.ice_servers || []; await newPc(); }
    else if (m.type === 'peer-back' && D.pc) {
      if (m.fresh && D.mode === 'fresh') await newPc();
      else await offer(true);
    } else if (m.type === 'answer' && D.pc) await D.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }).catch(() => {});
    else if (m.type === 'candidate' && D.pc && m.candidate) await D.pc.addIceCandidate(m).catch(() => {});
  }); };
  setInterval(async () => {
    if (!D.pc) return;
    const stats = await D.pc.getStats();
    let n = 0;
    stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.framesDecoded || 0; });
    D.decoded = n;
  }, 50);
}

async function main() {
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-reload-bench-'));
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await lib.startCoturn(secret);
  const srv = await lib.startServer(process.env.MEDCALL_SERVER, process.env.MEDCALL_WEB_ROOT, turn.port, secret);
  browser = await lib.launchChromium(puppeteer, process.env.CHROMIUM || '/usr/bin/chromium', srv.spki,
    ['--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required']);
  for (const mode of ['fresh', 'plain']) {
    for (let i = 0; i < RUNS; i++) {
      const ctx = await browser.createBrowserContext();
      const doctor = await lib.newPage(ctx, 'doctor');
      await doctor.goto(`https://127.0.0.1:${srv.port}/`);
      await doctor.evaluate(doctorPage, mode);
      const link = await lib.until(() => doctor.evaluate(() => window.D.link), 10000, 'a room');
      const patient = await lib.newPage(ctx, 'patient');
      await patient.goto(link + '#name=Ana&autojoin=1');
      await lib.until(() => doctor.evaluate(() => window.D.decoded > 10), 20000, 'the first call');
      const before = await doctor.evaluate(() => window.D.decoded);
      const t0 = Date.now();
      await patient.reload();
      let ms = null;
      try {
        await lib.until(async () => {
          const d = await doctor.evaluate(() => window.D.decoded);
          // a new connection counts from 0; the old one from `before`
          return d > before + 3 || (d > 3 && d < before);
        }, LOST_MS, 'video again');
        ms = Date.now() - t0;
      } catch (e) { /* lost */ }
      console.log(`reload ${mode} ${ms === null ? 'lost' : 'ms=' + ms}`);
      await ctx.close().catch(() => {});
    }
  }
}

const cleanup = async () => { await lib.closeAll(browser); browser = null; };
lib.runTest(main, cleanup, 600000, 'Chromium-to-Chromium reload');
