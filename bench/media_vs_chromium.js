// Benchmark (issue 5 item 7): a media call on loopback, medcall against
// Chromium, each figure beside the same one for Chromium to Chromium
// measured in the same run, at the same picture size, frame rate and bit
// rate. Prints a table; never fails on a figure.
//
//   bash tests/interop/run.sh ../../bench/media_vs_chromium.js
// with MEDCALL_SERVER, MEDCALL_WEB_ROOT, MEDCALL_APP set (bench/README.md).
// Runs inside a private network namespace holding only lo (run.sh).
//
// Three pairs, each one call with stamped video and a tone both ways
// through the real medcall-server: medcall-medcall (`call` and `join`),
// medcall-Chromium (medcall offers, a page joins), Chromium-Chromium (two
// pages in two separate browsers, so that each endpoint is one browser's
// process tree). Per call: BENCH_WARM seconds (3) after both sides are
// connected, then BENCH_SECONDS (15) measured.
//
// Figures, per direction A->B: glass-to-glass latency p50/p95 (capture time
// stamped in the top row of each frame; medcall reads it after decoding,
// the page at requestVideoFrameCallback, i.e. after render), frames decoded
// per second at B, the video bit rate achieved; per endpoint: CPU (percent
// of one core, utime+stime from /proc/PID/stat over the measured window;
// for Chromium summed over its browser's whole process tree) and PSS (and
// RSS) from /proc/PID/smaps_rollup at the end of the window.
//
// Env: BENCH_SIZES (640x480,1280x720), BENCH_FPS (30), BENCH_KBPS (1500),
// BENCH_WARM (3), BENCH_SECONDS (15), BENCH_PAIRS (e.g.
// "medcall-Chromium,Chromium-Chromium"), BENCH_PIN_RATE=1 (also
// x-google-min-bitrate, holding Chromium's estimate at the target),
// BENCH_PAGE_SOURCE=flat (the pages send media_pages.js M.stream's flat
// picture instead of medcall's pattern), BENCH_KEEP=1 (keep logs), CHROMIUM.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');
const lib = require('../tests/interop/lib');
const { mediaHelpers } = require('../tests/interop/media_pages');

const puppeteer = createRequire(path.join(__dirname, '../tests/interop/package.json'))('puppeteer-core');
const { state, log, start, tail, until, startCoturn, pageHelpers } = lib;
const APP = process.env.MEDCALL_APP;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SIZES = (process.env.BENCH_SIZES || '640x480,1280x720').split(',').filter(Boolean);
const FPS = Number(process.env.BENCH_FPS || 30);
const KBPS = Number(process.env.BENCH_KBPS || 1500);
const WARM_S = Number(process.env.BENCH_WARM || 3);
const MEASURE_S = Number(process.env.BENCH_SECONDS || 15);
const PIN = process.env.BENCH_PIN_RATE === '1';
const FLAT = process.env.BENCH_PAGE_SOURCE === 'flat';
const STEP_MS = 30000;
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux
const PAGE_HZ = 660;

// ---- page side: a peer written from docs/signaling.md, with media ----

// Like tests/interop/pages.js pagePeer with opts.media, plus what a
// fixed-rate comparison needs: the VP8 sender capped at opts.kbps with
// maintain-resolution, and the estimate started there (Chromium starts at
// 300 kbit/s) through x-google-start-bitrate in the VP8 fmtp of both the
// description we apply and the one we send. Received video is watched at
// requestVideoFrameCallback; received audio plays through an <audio>.
function benchMediaPeer(opts) {
  const P = window.P = { msgs: [], pc: null, state: 'new', errors: [], sender: null, tuned: null };
  const M = window.M;
  M.rx = [];
  const ws = P.ws = new WebSocket('wss://' + location.host + '/ws');
  const send = P.send = (m) => { m.v = 1; ws.send(JSON.stringify(m)); };
  const munge = (sdp) => {
    const vp8 = new Set();
    let video = false;
    for (const l of sdp.split('\r\n')) {
      if (l.startsWith('m=')) video = l.startsWith('m=video');
      const r = video && l.match(/^a=rtpmap:(\d+) VP8\/90000/i);
      if (r) vp8.add(r[1]);
    }
    const extra = `x-google-start-bitrate=${opts.kbps}` + (opts.pin ? `;x-google-min-bitrate=${opts.kbps}` : '');
    const out = [];
    for (const l of sdp.split('\r\n')) {
      const f = l.match(/^a=fmtp:(\d+) (.*)$/);
      if (f && vp8.has(f[1])) { out.push(l.includes('x-google-start-bitrate') ? l : l + ';' + extra); continue; }
      out.push(l);
      const r = l.match(/^a=rtpmap:(\d+) VP8\/90000/i);
      if (r && vp8.has(r[1]) && !new RegExp(`^a=fmtp:${r[1]} `, 'm').test(sdp)) out.push(`a=fmtp:${r[1]} ${extra}`);
    }
    return out.join('\r\n');
  };
  P.tune = async () => {
    const s = P.sender;
    if (!s) return null;
    const p = s.getParameters();
    p.degradationPreference = 'maintain-resolution';
    if (p.encodings && p.encodings.length) p.encodings[0].maxBitrate = opts.kbps * 1000;
    try { await s.setParameters(p); } catch (e) { P.errors.push('setParameters: ' + e.message); }
    const q = s.getParameters();
    P.tuned = { degradationPreference: q.degradationPreference,
                maxBitrate: q.encodings && q.encodings[0] && q.encodings[0].maxBitrate };
    return P.tuned;
  };
  // The stamp of each rendered frame, read from the top strip only (a
  // full-frame readback would make the page pay for the measurement).
  const watch = (video) => {
    const cv = document.createElement('canvas');
    const g = cv.getContext('2d', { willReadFrequently: true });
    const onFrame = (now, md) => {
      const at = Date.now();
      const w = video.videoWidth;
      if (w) {
        const sq = Math.floor(w / 40);
        if (cv.width !== w || cv.height !== sq) { cv.width = w; cv.height = sq; }
        g.drawImage(video, 0, 0, w, sq, 0, 0, w, sq);
        const t = M.readStamp(g.getImageData(0, 0, w, sq), w);
        M.frames++;
        if (t === null) M.bad++;
        else {
          const o = performance.timeOrigin;
          M.rx.push({ t, at: at >>> 0, pres: md.presentationTime !== undefined ? (o + md.presentationTime) >>> 0 : null,
                      rcv: md.receiveTime !== undefined ? (o + md.receiveTime) >>> 0 : null });
        }
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  function setupPc() {
    const pc = P.pc = new RTCPeerConnection({ iceServers: [] });
    pc.onconnectionstatechange = () => { P.state = pc.connectionState; if (P.state === 'connected') P.tune(); };
    pc.onicecandidate = (e) => send(e.candidate
      ? { type: 'candidate', candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }
      : { type: 'candidate', candidate: '' });
    const local = (opts.flat ? M.stream : M.patternStream)(opts.width, opts.height, opts.fps, opts.hz);
    local.getTracks().forEach((t) => {
      const s = pc.addTrack(t, local);
      if (t.kind === 'video') { P.sender = s; P.tune(); }
    });
    pc.ontrack = (e) => {
      if (e.track.kind === 'video') {
        const video = document.createElement('video');
        video.autoplay = true; video.muted = true; video.playsInline = true;
        video.srcObject = new MediaStream([e.track]);
        document.body.append(video);
        watch(video);
      } else {
        const audio = document.createElement('audio');
        audio.autoplay = true;
        audio.srcObject = new MediaStream([e.track]);
        document.body.append(audio);
      }
    };
    return pc;
  }
  const setLocal = async (desc) => {
    const munged = { type: desc.type, sdp: munge(desc.sdp) };
    try { await P.pc.setLocalDescription(munged); } catch (e) {
      P.errors.push('munged setLocalDescription: ' + e.message);
      await P.pc.setLocalDescription(desc);
    }
    return munged.sdp;
  };
  let chain = Promise.resolve();
  ws.onmessage = (ev) => { chain = chain.then(() => handle(ev)); };
  const handle = async (ev) => {
    const m = JSON.parse(ev.data);
    P.msgs.push(m);
    try {
      if (m.type === 'knock') send({ type: 'admit' });
      else if (m.type === 'admitted' && m.offerer) {
        const pc = setupPc();
        send({ type: 'offer', sdp: await setLocal(await pc.createOffer()) });
      } else if (m.type === 'admitted') setupPc();
      else if (m.type === 'offer') {
        await P.pc.setRemoteDescription({ type: 'offer', sdp: munge(m.sdp) });
        send({ type: 'answer', sdp: await setLocal(await P.pc.createAnswer()) });
      } else if (m.type === 'answer') {
        await P.pc.setRemoteDescription({ type: 'answer', sdp: munge(m.sdp) });
      } else if (m.type === 'candidate' && m.candidate && P.pc) {
        await P.pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex });
      }
    } catch (e) { P.errors.push(m.type + ': ' + e.message); }
  };
  // A media grant makes Chromium offer its host addresses (127.0.0.1 here).
  const opened = new Promise((resolve, reject) => { ws.onopen = () => resolve(true); ws.onerror = () => reject(new Error('ws error')); });
  return navigator.mediaDevices.getUserMedia({ audio: true })
    .then((s) => s.getTracks().forEach((t) => t.stop())).then(() => opened);
}

// M.patternStream: like M.stream (media_pages.js) but with the content of
// medcall's pattern source (src/media/pattern.c: a luma sawtooth scrolling
// at 120 px/s, diagonal bars in four hues at 90 px/s, a box of 4x4-block
// noise bouncing at 230/170 px/s), so both encoders code pictures of the
// same difficulty; M.stream's flat fill would need a fifth of the bit rate.
// Drawn as three blits of layers made once.
function installPattern() {
  const M = window.M;
  M.patternStream = (w, h, fps, hz) => {
    const layer = (lw, lh, px) => {
      const c = document.createElement('canvas');
      c.width = lw; c.height = lh;
      const x2 = c.getContext('2d');
      const img = x2.createImageData(lw, lh);
      for (let y = 0; y < lh; y++) {
        for (let x = 0; x < lw; x++) {
          const i = (y * lw + x) * 4;
          const [r, g, b] = px(x, y);
          img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = b; img.data[i + 3] = 255;
        }
      }
      x2.putImageData(img, 0, 0);
      return c;
    };
    const grad = layer(w + 256, 1, (x) => { const v = 32 + (((x & 255) * 3) >> 2); return [v, v, v]; });
    const tint = [[0, 24, 60], [60, 0, 24], [24, 60, 0], [40, 40, 40]];
    const bars = layer(w + 256, h, (x, y) => {
      const k = ((x + y) >> 6) & 3;
      const lift = k & 1 ? 24 : 0;
      return [tint[k][0] + lift, tint[k][1] + lift, tint[k][2] + lift];
    });
    const bs = Math.max(2, Math.floor(Math.min(w, h) / 5));
    const hash = (v) => { v ^= v >>> 16; v = Math.imul(v, 0x7feb352d); v ^= v >>> 15; v = Math.imul(v, 0x846ca68b); v ^= v >>> 16; return v >>> 0; };
    const box = layer(bs, bs, (x, y) => { const v = 60 + (hash(((y >> 2) * 4099 + (x >> 2)) >>> 0) & 0x7f) + Math.floor((x * 40) / bs); return [v, Math.max(0, v - 40), Math.min(255, v + 50)]; });
    const bounce = (d, range) => { if (range <= 0) return 0; const m = d % (2 * range); return m <= range ? m : 2 * range - m; };
    const cv = document.createElement('canvas');
    cv.width = w; cv.height = h;
    const g = cv.getContext('2d');
    let n = 0;
    const draw = () => {
      const gshift = Math.floor((n * 120) / fps) & 255, bshift = Math.floor((n * 90) / fps) & 255;
      g.globalCompositeOperation = 'copy';
      g.drawImage(grad, gshift, 0, w, 1, 0, 0, w, h);
      g.globalCompositeOperation = 'lighter';
      g.drawImage(bars, bshift, 0, w, h, 0, 0, w, h);
      g.globalCompositeOperation = 'source-over';
      g.drawImage(box, bounce(Math.floor((n * 230) / fps), w - bs), bounce(Math.floor((n * 170) / fps), h - bs));
      M.writeStamp(g, w, Date.now());
      M.sent++;
      n++;
    };
    draw();
    M.timer = setInterval(draw, 1000 / fps);
    const video = cv.captureStream(fps).getVideoTracks()[0];
    const ac = M.ac = new AudioContext({ sampleRate: 48000 });
    const osc = ac.createOscillator();
    osc.frequency.value = hz;
    const dest = ac.createMediaStreamDestination();
    osc.connect(dest);
    osc.start();
    return new MediaStream([video, dest.stream.getAudioTracks()[0]]);
  };
}

// A snapshot of the page's counters (W3C webrtc-stats) and its stamp log.
async function pageSnap() {
  const stats = await window.P.pc.getStats();
  const o = { now: Date.now(), rxIndex: window.M.rx.length, frames: window.M.frames, bad: window.M.bad,
              inV: null, outV: null, pair: null };
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      o.inV = { framesDecoded: s.framesDecoded || 0, bytesReceived: s.bytesReceived || 0, framesDropped: s.framesDropped || 0,
                frameWidth: s.frameWidth, frameHeight: s.frameHeight, packetsLost: s.packetsLost || 0,
                nackCount: s.nackCount || 0, pliCount: s.pliCount || 0, freezeCount: s.freezeCount || 0,
                totalDecodeTime: s.totalDecodeTime || 0, totalProcessingDelay: s.totalProcessingDelay || 0,
                jitterBufferDelay: s.jitterBufferDelay || 0, jitterBufferEmittedCount: s.jitterBufferEmittedCount || 0,
                decoder: s.decoderImplementation };
    }
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      o.outV = { framesEncoded: s.framesEncoded || 0, bytesSent: s.bytesSent || 0, frameWidth: s.frameWidth,
                 frameHeight: s.frameHeight, framesPerSecond: s.framesPerSecond, targetBitrate: s.targetBitrate,
                 qualityLimitationReason: s.qualityLimitationReason, totalEncodeTime: s.totalEncodeTime || 0,
                 encoder: s.encoderImplementation };
    }
    if (s.type === 'transport' && s.selectedCandidatePairId) {
      const p = stats.get(s.selectedCandidatePairId);
      const c = p && stats.get(p.localCandidateId);
      const bwe = p && p.availableOutgoingBitrate;
      o.pair = { local: c && c.candidateType, availableOutgoingBitrate: bwe };
    }
  });
  o.tuned = window.P.tuned;
  o.errors = window.P.errors.slice(0, 5);
  return o;
}

// Stamps read in [from, to) of the page's log: latencies at the callback,
// at submission for composition and at the last packet's arrival.
function pageLatency(from, to) {
  const rx = window.M.rx.slice(from, to);
  const pct = (xs, q) => { const s = xs.filter((x) => x >= 0 && x < 60000).sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * q))] : null; };
  const lat = (k) => rx.filter((r) => r[k] !== null).map((r) => (r[k] - r.t) | 0);
  let outOfOrder = 0;
  for (let i = 1; i < rx.length; i++) if (((rx[i].t - rx[i - 1].t) | 0) <= 0) outOfOrder++;
  const gaps = [];
  for (let i = 1; i < rx.length; i++) gaps.push((rx[i].at - rx[i - 1].at) | 0);
  return { n: rx.length, outOfOrder, p50: pct(lat('at'), 0.5), p95: pct(lat('at'), 0.95),
           presP50: pct(lat('pres'), 0.5), presP95: pct(lat('pres'), 0.95), rcvP50: pct(lat('rcv'), 0.5),
           maxGap: gaps.length ? Math.max(...gaps) : null };
}

// ---- /proc ----

function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch (e) { return null; }
}
function cmdline(pid) {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '); } catch (e) { return ''; }
}
function memKb(pid) {
  const o = { rss: 0, pss: 0, uss: 0 };
  try {
    for (const l of fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
      const m = l.match(/^(\w+):\s+(\d+) kB/);
      if (!m) continue;
      if (m[1] === 'Rss') o.rss += Number(m[2]);
      else if (m[1] === 'Pss') o.pss += Number(m[2]);
      else if (m[1] === 'Private_Clean' || m[1] === 'Private_Dirty') o.uss += Number(m[2]);
    }
  } catch (e) { /* gone */ }
  return o;
}
function procType(pid) {
  const c = cmdline(pid);
  const t = (c.match(/--type=(\S+)/) || [])[1];
  if (!t) return 'browser';
  if (t === 'utility') {
    const sub = (c.match(/--utility-sub-type=(\S+)/) || [])[1] || '';
    return 'utility:' + sub.replace(/\.mojom\..*/, '').replace(/^.*\./, '');
  }
  return t;
}
// The browser's process tree, plus any process that names its profile
// directory (crashpad's handler leaves the tree).
function browserPids(root, profile) {
  const kids = new Map();
  const all = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  for (const pid of all) {
    const st = procStat(pid);
    if (!st) continue;
    if (!kids.has(st.ppid)) kids.set(st.ppid, []);
    kids.get(st.ppid).push(pid);
  }
  const out = new Set([root]);
  const todo = [root];
  while (todo.length) for (const k of kids.get(todo.pop()) || []) if (!out.has(k)) { out.add(k); todo.push(k); }
  for (const pid of all) if (!out.has(pid) && profile && cmdline(pid).includes(profile)) out.add(pid);
  return [...out];
}

// An endpoint: a medcall process, or one browser (all its processes).
function cpuSnap(ep) {
  const pids = ep.kind === 'medcall' ? [ep.proc.pid] : browserPids(ep.browser.process().pid, ep.profile);
  const m = new Map();
  for (const pid of pids) { const s = procStat(pid); if (s) m.set(pid, s.ticks); }
  return { at: process.hrtime.bigint(), ticks: m };
}
function cpuUse(ep, a, b) {
  const secs = Number(b.at - a.at) / 1e9;
  const byType = {};
  let total = 0;
  for (const [pid, t] of b.ticks) {
    const d = t - (a.ticks.get(pid) || 0);
    total += d;
    if (ep.kind !== 'medcall') { const ty = procType(pid); byType[ty] = (byType[ty] || 0) + d; }
  }
  const pc = (x) => +((x / CLK_TCK / secs) * 100).toFixed(1);
  const types = {};
  for (const k of Object.keys(byType)) types[k] = pc(byType[k]);
  return { pct: pc(total), types, procs: b.ticks.size };
}
function memUse(ep) {
  const pids = ep.kind === 'medcall' ? [ep.proc.pid] : browserPids(ep.browser.process().pid, ep.profile);
  const o = { rss: 0, pss: 0, uss: 0, procs: 0 };
  for (const pid of pids) { const m = memKb(pid); o.rss += m.rss; o.pss += m.pss; o.uss += m.uss; if (m.rss) o.procs++; }
  const mb = (kb) => +(kb / 1024).toFixed(1);
  return { rss: mb(o.rss), pss: mb(o.pss), uss: mb(o.uss), procs: o.procs };
}

// ---- processes ----

let seq = 0;
function medcall(name, args) {
  return start(name, ['stdbuf', '-oL', APP, ...args], path.join(state.tmp, `${++seq}-${name}.log`));
}
async function waitLine(p, re, ms = STEP_MS) {
  return until(() => {
    const l = tail(p.logPath, 100000).split('\n').find((x) => re.test(x));
    if (l) return l;
    if (p.exitCode !== null) throw new Error(`${p.name} exited: ` + tail(p.logPath));
    return null;
  }, ms, `${p.name}: ${re}`);
}
async function stop(p) {
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  const r = await Promise.race([p.exited, new Promise((res) => setTimeout(() => res(null), 10000))]);
  if (!r) p.kill('SIGKILL');
  return r;
}
function mediaArgs(size, statsFile) {
  return ['--insecure', '--headless', '--video-source', 'pattern', '--audio-source', 'tone:440', '--video-size', size,
    '--fps', String(FPS), '--bitrate', String(KBPS), '--stats-json', statsFile];
}
function readStats(file) {
  try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { return null; }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let srvInfo = null;
let version = '';
async function launchBrowser(tag) {
  const profile = path.join(state.tmp, `profile-${tag}-${++seq}`);
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
      `--ignore-certificate-errors-spki-list=${srvInfo.spki}`, '--autoplay-policy=no-user-gesture-required',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows'],
  });
  if (!version) version = await browser.version().catch(() => '');
  return { kind: 'chromium', browser, profile };
}
async function openPage(ep, size) {
  const [w, h] = size.split('x').map(Number);
  const page = await ep.browser.newPage();
  page.on('pageerror', (e) => log('page error:', e.message));
  await page.evaluateOnNewDocument(pageHelpers);
  await page.evaluateOnNewDocument(mediaHelpers);
  await page.evaluateOnNewDocument(installPattern);
  await page.goto(`https://127.0.0.1:${srvInfo.port}/`);
  await page.evaluate(benchMediaPeer, { width: w, height: h, fps: FPS, hz: PAGE_HZ, kbps: KBPS, pin: PIN, flat: FLAT });
  ep.page = page;
  return page;
}
const pageConnected = (page) => page.waitForFunction(() => window.P.state === 'connected', { timeout: STEP_MS, polling: 100 });

// The common measured window: warm-up, then CPU and page counters at both
// ends of MEASURE_S, memory at its end.
async function measure(eps) {
  await sleep(WARM_S * 1000);
  const pages = eps.filter((e) => e.page);
  const c0 = eps.map(cpuSnap);
  const s0 = await Promise.all(pages.map((e) => e.page.evaluate(pageSnap)));
  await sleep(MEASURE_S * 1000);
  const c1 = eps.map(cpuSnap);
  const s1 = await Promise.all(pages.map((e) => e.page.evaluate(pageSnap)));
  const mem = eps.map(memUse);
  eps.forEach((e, i) => { e.cpu = cpuUse(e, c0[i], c1[i]); e.mem = mem[i]; });
  for (let i = 0; i < pages.length; i++) {
    const e = pages[i], a = s0[i], b = s1[i];
    const secs = (b.now - a.now) / 1000;
    e.snap = b;
    e.lat = await e.page.evaluate(pageLatency, a.rxIndex, b.rxIndex);
    e.rxFps = a.inV && b.inV ? (b.inV.framesDecoded - a.inV.framesDecoded) / secs : null;
    e.rxKbps = a.inV && b.inV ? ((b.inV.bytesReceived - a.inV.bytesReceived) * 8) / secs / 1000 : null;
    e.txKbps = a.outV && b.outV ? ((b.outV.bytesSent - a.outV.bytesSent) * 8) / secs / 1000 : null;
    e.txFps = a.outV && b.outV ? (b.outV.framesEncoded - a.outV.framesEncoded) / secs : null;
    if (b.inV && a.inV) {
      const n = b.inV.framesDecoded - a.inV.framesDecoded;
      const emitted = b.inV.jitterBufferEmittedCount - a.inV.jitterBufferEmittedCount;
      e.rxDetail = { decodeMs: n ? +(((b.inV.totalDecodeTime - a.inV.totalDecodeTime) / n) * 1000).toFixed(1) : null,
                     processingMs: n ? +(((b.inV.totalProcessingDelay - a.inV.totalProcessingDelay) / n) * 1000).toFixed(1) : null,
                     jitterBufferMs: emitted ? +(((b.inV.jitterBufferDelay - a.inV.jitterBufferDelay) / emitted) * 1000).toFixed(1) : null };
    }
  }
}

// medcall's own figures cover its whole call (connected to hang-up): it
// writes them once, at the end.
function medcallRx(st, secs) {
  if (!st || !st.video) return { p50: null, p95: null, fps: null };
  const v = st.video;
  return { p50: v.glassToGlassP50Ms, p95: v.glassToGlassP95Ms, fps: v.framesDecoded / secs, n: v.stampsRead,
           detail: { framesDecoded: v.framesDecoded, stampsRead: v.stampsRead, stampErrors: v.stampErrors,
                     outOfOrder: v.stampsOutOfOrder, size: `${v.frameWidth}x${v.frameHeight}`, maxGapMs: v.maxFrameGapMs,
                     freezes: v.freezeCount, decodeErrors: v.decodeErrors } };
}
function medcallTxKbps(st, secs) {
  const t = st && st.tracks && st.tracks.find((x) => x.kind === 'video' && x.sending);
  return t ? (t.bytesSent * 8) / secs / 1000 : null;
}
function medcallRxTrack(st) {
  const t = st && st.tracks && st.tracks.find((x) => x.kind === 'video' && x.receiving);
  return t ? { packetsLost: t.packetsLost, nackCount: t.nackCount, pliCount: t.pliCount, framesDropped: t.framesDropped } : null;
}

// ---- the pairs ----

async function medcallMedcall(size) {
  const fa = path.join(state.tmp, `mm-doc-${size}.json`), fb = path.join(state.tmp, `mm-pat-${size}.json`);
  const a = { kind: 'medcall', name: 'medcall', proc: medcall('mm-doc', ['call', '--server', `wss://127.0.0.1:${srvInfo.port}/ws`, ...mediaArgs(size, fa)]) };
  let b = null;
  try {
    const link = (await waitLine(a.proc, /^link: /)).slice(6).trim();
    b = { kind: 'medcall', name: 'medcall', proc: medcall('mm-pat', ['join', link, ...mediaArgs(size, fb)]) };
    await waitLine(a.proc, /^state: connected/);
    await waitLine(b.proc, /^state: connected/);
    const t0 = Date.now();
    await measure([a, b]);
    const secs = (Date.now() - t0) / 1000;
    await Promise.all([stop(a.proc), stop(b.proc)]);
    const sa = readStats(fa), sb = readStats(fb);
    return { a, b, ab: { ...medcallRx(sb, secs), kbps: medcallTxKbps(sa, secs), rxTrack: medcallRxTrack(sb) },
             ba: { ...medcallRx(sa, secs), kbps: medcallTxKbps(sb, secs), rxTrack: medcallRxTrack(sa) },
             pair: [tail(a.proc.logPath, 100).match(/^pair: .*$/m), tail(b.proc.logPath, 100).match(/^pair: .*$/m)].map((x) => x && x[0]) };
  } finally { await stop(a.proc); if (b) await stop(b.proc); }
}

// medcall offers (`call`); the page joins.
async function medcallChromium(size) {
  const fa = path.join(state.tmp, `mc-doc-${size}.json`);
  const b = await launchBrowser('mc');
  b.name = 'Chromium';
  let a = null;
  try {
    const page = await openPage(b, size);
    a = { kind: 'medcall', name: 'medcall', proc: medcall('mc-doc', ['call', '--server', `wss://127.0.0.1:${srvInfo.port}/ws`, ...mediaArgs(size, fa)]) };
    const link = (await waitLine(a.proc, /^link: /)).slice(6).trim();
    await page.evaluate((r) => window.P.send({ type: 'join', room: r, name: 'bench' }), link.split('/r/')[1]);
    await pageConnected(page);
    await waitLine(a.proc, /^state: connected/);
    const t0 = Date.now();
    await measure([a, b]);
    const secs = (Date.now() - t0) / 1000;
    await stop(a.proc);
    const sa = readStats(fa);
    return { a, b, ab: { ...b.lat, fps: b.rxFps, kbps: b.rxKbps, chrome: b.rxDetail },
             ba: { ...medcallRx(sa, secs), kbps: b.txKbps, rxTrack: medcallRxTrack(sa) },
             pair: [tail(a.proc.logPath, 100).match(/^pair: .*$/m), b.snap.pair].map((x) => x && (x[0] || x)) };
  } finally { if (a) await stop(a.proc); await b.browser.close().catch(() => {}); }
}

// Page A creates the room (offerer), page B joins; one browser each.
async function chromiumChromium(size) {
  const a = await launchBrowser('A'), b = await launchBrowser('B');
  a.name = b.name = 'Chromium';
  try {
    const pa = await openPage(a, size), pb = await openPage(b, size);
    await pa.evaluate(() => window.P.send({ type: 'create' }));
    await pa.waitForFunction(() => window.P.msgs.some((m) => m.type === 'created'), { timeout: STEP_MS, polling: 100 });
    const room = await pa.evaluate(() => window.P.msgs.find((m) => m.type === 'created').room);
    await pb.evaluate((r) => window.P.send({ type: 'join', room: r, name: 'bench' }), room);
    await pageConnected(pa);
    await pageConnected(pb);
    await measure([a, b]);
    return { a, b, ab: { ...b.lat, fps: b.rxFps, kbps: a.txKbps, chrome: b.rxDetail },
             ba: { ...a.lat, fps: a.rxFps, kbps: b.txKbps, chrome: a.rxDetail }, pair: [a.snap.pair, b.snap.pair] };
  } finally { await a.browser.close().catch(() => {}); await b.browser.close().catch(() => {}); }
}

// ---- output ----

const f0 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Math.round(x).toString());
const f1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));
function table(head, lines) {
  const wd = head.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const fmt = (l) => '| ' + l.map((c, i) => String(c).padEnd(wd[i])).join(' | ') + ' |';
  console.log(fmt(head));
  console.log('|' + wd.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const l of lines) console.log(fmt(l));
}

function printTables(rows) {
  const ok = rows.filter((r) => !r.error);
  table(['pair (A-B)', 'size', 'A->B g2g p50/p95', 'fps', 'kbit/s', 'B->A g2g p50/p95', 'fps', 'kbit/s',
    'CPU % A', 'CPU % B', 'PSS MB A', 'PSS MB B'], rows.map((r) => (r.error
    ? [r.pair, r.size, 'error: ' + r.error, '', '', '', '', '', '', '', '', '']
    : [r.pair, r.size, `${f0(r.ab.p50)}/${f0(r.ab.p95)}`, f1(r.ab.fps), f0(r.ab.kbps),
      `${f0(r.ba.p50)}/${f0(r.ba.p95)}`, f1(r.ba.fps), f0(r.ba.kbps),
      f0(r.a.cpu && r.a.cpu.pct), f0(r.b.cpu && r.b.cpu.pct), f0(r.a.mem && r.a.mem.pss), f0(r.b.mem && r.b.mem.pss)])));
  console.log('\nper endpoint (CPU % of one core over the window; memory at its end; Chromium: its processes by type):');
  const eps = [];
  for (const r of ok) {
    for (const [side, e] of [['A', r.a], ['B', r.b]]) {
      const types = e.cpu && Object.keys(e.cpu.types).length
        ? Object.entries(e.cpu.types).filter(([, v]) => v >= 0.5).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${f0(v)}`).join(', ')
        : '';
      eps.push([r.pair, r.size, `${side} ${e.name}`, f1(e.cpu && e.cpu.pct), types, f0(e.mem && e.mem.pss), f0(e.mem && e.mem.rss),
        f0(e.mem && e.mem.uss), e.mem ? e.mem.procs : '-']);
    }
  }
  table(['pair', 'size', 'endpoint', 'CPU %', 'by process', 'PSS MB', 'RSS MB', 'USS MB', 'procs'], eps);
  console.log('\nChromium as receiver: g2g at rVFC, at the frame\'s presentationTime (submitted for composition), ' +
    'and its own per-frame jitter-buffer and decode times (getStats):');
  const rx = [];
  for (const r of ok) {
    for (const [dir, d] of [['A->B', r.ab], ['B->A', r.ba]]) {
      if (!d.chrome) continue;
      rx.push([r.pair, r.size, dir, `${f0(d.p50)}/${f0(d.p95)}`, `${f0(d.presP50)}/${f0(d.presP95)}`, f0(d.rcvP50),
        f1(d.chrome.jitterBufferMs), f1(d.chrome.decodeMs), f0(d.maxGap), `${d.n}`]);
    }
  }
  table(['pair', 'size', 'dir', 'g2g rVFC p50/p95', 'g2g presented p50/p95', 'last packet p50', 'jitter buf ms',
    'decode ms', 'max gap ms', 'stamps'], rx);
}

async function main() {
  if (!process.env.MEDCALL_SERVER || !process.env.MEDCALL_WEB_ROOT || !APP) {
    throw new Error('MEDCALL_SERVER, MEDCALL_WEB_ROOT and MEDCALL_APP must be set');
  }
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-mediabench-'));
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await startCoturn(secret);
  srvInfo = await lib.startServer(process.env.MEDCALL_SERVER, process.env.MEDCALL_WEB_ROOT, turn.port, secret);
  const load0 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const pairs = [['medcall-medcall', medcallMedcall], ['medcall-Chromium', medcallChromium], ['Chromium-Chromium', chromiumChromium]];
  const only = process.env.BENCH_PAIRS;
  const rows = [];
  for (const size of SIZES) {
    for (const [name, fn] of pairs.filter(([n]) => !only || only.split(',').includes(n))) {
      const t = Date.now();
      let r;
      try { r = await fn(size); } catch (e) {
        log(`${name} ${size} failed:`, e.message);
        for (const p of state.children.slice(-2)) log(`--- ${p.name}:\n` + tail(p.logPath, 15));
        r = { error: e.message.split('\n')[0].slice(0, 80) };
      }
      r.pair = name; r.size = size;
      rows.push(r);
      if (!r.error) {
        const ep = (e) => ({ cpu: e.cpu, mem: e.mem, tx: e.snap && e.snap.outV, rx: e.snap && e.snap.inV, tuned: e.snap && e.snap.tuned, errors: e.snap && e.snap.errors });
        log(`${name} ${size} (${((Date.now() - t) / 1000).toFixed(0)} s): A->B`, JSON.stringify(r.ab), 'B->A', JSON.stringify(r.ba));
        log(`${name} ${size}: A`, JSON.stringify(ep(r.a)), 'B', JSON.stringify(ep(r.b)), 'pair', JSON.stringify(r.pair));
      }
    }
  }
  const load1 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`\nloopback media call, VP8 ${FPS} fps ${KBPS} kbit/s target, Opus tone both ways; ${WARM_S} s warm-up, ` +
    `${MEASURE_S} s measured; ${os.cpus().length} cores, load average ${load0} -> ${load1}; ${version || 'Chromium'}`);
  console.log('A->B: A sends, B receives. g2g ms: medcall at decode, Chromium at requestVideoFrameCallback (after render).');
  console.log('CPU: % of one core (Chromium: whole browser process tree). medcall g2g/fps/kbit/s cover its whole call.');
  printTables(rows);
}

const overall = setTimeout(() => { log('overall timeout'); process.exit(1); }, 15 * 60 * 1000);
main().then(() => 0, (e) => { log('bench failed:', e.message); return 1; }).then(async (code) => {
  clearTimeout(overall);
  for (const p of state.children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  if (!process.env.BENCH_KEEP) fs.rmSync(state.tmp, { recursive: true, force: true });
  else log('kept', state.tmp);
  process.exit(code);
});
