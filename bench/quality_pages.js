// The Chromium side of bench/quality_vs_chromium.sh (issue 7 item 5), and
// the table it prints. Three modes:
//
//   node quality_pages.js doctor   a page speaking the signaling protocol
//     (tests/interop/pages.js pagePeer) opens a room on medcall-server,
//     prints `link: URL`, admits the patient and holds the call;
//   node quality_pages.js patient LINK   the real patient page
//     (assets/web/room.html) joins LINK with #name=...&autojoin=1, as
//     tests/lab/page_call.js does;
//   node quality_pages.js table RUNDIR   reads the per-call files the
//     shell wrote and prints one table.
//
// In both page modes getUserMedia (or pagePeer's M.stream) gives
// bench/media_vs_chromium.js's pattern (the content of medcall's pattern
// source, so both encoders code pictures of the same difficulty) with the
// capture-time stamp of tests/interop/media_pages.js (src/media/media.h "the
// stamp") and a tone. x-google-start-bitrate is put into every remote
// description the page applies (the send side reads it from there), and the
// video sender gets maxBitrate = MAX_KBPS (medcall's --bitrate) and
// degradationPreference 'balanced' (Chromium adapts frame rate and size, as
// medcall does). Each page prints `connected` when its peer connection is,
// then for SECONDS (or until the call ends): every rendered frame of the
// remote <video> (requestVideoFrameCallback: its wall time and the stamp
// read back from its top row) and, once a second, getStats (selected pair
// bytesSent, outbound video bytesSent, inbound audio concealedSamples,
// insertedSamplesForDeceleration, removedSamplesForAcceleration and
// totalSamplesReceived). Written to RESULT as JSON.
//
// Env (page modes): CHROMIUM, SERVER_URL (https://IP:PORT), SERVER_CERT
// (cert.pem of medcall-server, trusted by its key), WORK (profile dir),
// RESULT, SECONDS (30), START_KBPS (300), MAX_KBPS (1500), HZ (tone).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const interop = path.join(__dirname, '..', 'tests', 'interop');
const MODE = process.argv[2];

// ---- page side ----

// Installed after mediaHelpers and installPattern: the pattern becomes the
// source, every rendered remote frame is logged, and remote descriptions
// carry the start bitrate.
function qualityHooks(cfg) {
  const M = window.M;
  M.stream = M.patternStream;
  M.rendered = [];
  M.watch = (video) => {
    if (video.__qwatch) return;
    video.__qwatch = true;
    const cv = document.createElement('canvas');
    const g = cv.getContext('2d', { willReadFrequently: true });
    const onFrame = () => {
      const at = Date.now();
      const w = video.videoWidth;
      let t = null;
      if (w) {
        // Only the top strip holds the stamp: read just that.
        const sq = Math.floor(w / 40);
        if (cv.width !== w || cv.height !== sq) { cv.width = w; cv.height = sq; }
        g.drawImage(video, 0, 0, w, sq, 0, 0, w, sq);
        t = M.readStamp(g.getImageData(0, 0, w, sq), w);
      }
      M.rendered.push([at, t, w, video.videoHeight]);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  const munge = (sdp) => {
    const vp8 = new Set();
    let video = false;
    for (const l of sdp.split('\r\n')) {
      if (l.startsWith('m=')) video = l.startsWith('m=video');
      const r = video && l.match(/^a=rtpmap:(\d+) VP8\/90000/i);
      if (r) vp8.add(r[1]);
    }
    const extra = `x-google-start-bitrate=${cfg.startKbps}`;
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
  const srd = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (d, ...rest) {
    if (d && d.sdp) d = { type: d.type, sdp: munge(d.sdp) };
    return srd.call(this, d, ...rest);
  };
  window.__qpc = () => (window.P && window.P.pc) || (window.medcall && window.medcall.pc) || null;
  window.__qtune = async () => {
    const pc = window.__qpc();
    const s = pc && pc.getSenders().find((x) => x.track && x.track.kind === 'video');
    if (!s) return null;
    const p = s.getParameters();
    p.degradationPreference = 'balanced';
    if (p.encodings && p.encodings.length) p.encodings[0].maxBitrate = cfg.maxKbps * 1000;
    try { await s.setParameters(p); } catch (e) { return 'setParameters: ' + e.message; }
    const q = s.getParameters();
    return { degradationPreference: q.degradationPreference, maxBitrate: q.encodings[0] && q.encodings[0].maxBitrate };
  };
  window.__qsnap = async () => {
    const pc = window.__qpc();
    const o = { at: Date.now(), state: pc ? pc.connectionState : 'none', pairSent: null, vSent: null, aConcealed: null,
                aSamples: null, bwe: null, sendW: null, sendFps: null, limit: null };
    if (!pc) return o;
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const p = stats.get(s.selectedCandidatePairId);
        if (p) { o.pairSent = p.bytesSent || 0; o.bwe = p.availableOutgoingBitrate || null; }
      }
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        o.vSent = s.bytesSent || 0; o.sendW = s.frameWidth || null; o.sendFps = s.framesPerSecond || null;
        o.limit = s.qualityLimitationReason || null;
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        o.aConcealed = s.concealedSamples || 0; o.aSamples = s.totalSamplesReceived || 0;
        o.aInserted = s.insertedSamplesForDeceleration || 0;
        o.aRemoved = s.removedSamplesForAcceleration || 0;
      }
    });
    o.rendered = window.M.rendered.length;
    return o;
  };
}

function patternSource() {
  // bench/media_vs_chromium.js has no exports (it runs when loaded): take
  // its installPattern's source rather than keep a second copy.
  const js = fs.readFileSync(path.join(__dirname, 'media_vs_chromium.js'), 'utf8');
  const m = js.match(/^function installPattern\(\) \{[\s\S]*?^\}$/m);
  if (!m) throw new Error('installPattern not found in bench/media_vs_chromium.js');
  return m[0] + '\ninstallPattern();\n';
}

async function runPage() {
  const puppeteer = require(path.join(interop, 'node_modules', 'puppeteer-core'));
  const lib = require(path.join(interop, 'lib'));
  const { mediaHelpers } = require(path.join(interop, 'media_pages'));
  const { pagePeer } = require(path.join(interop, 'pages'));
  const { state, log } = lib;
  const SECONDS = Number(process.env.SECONDS || 30);
  const cfg = { startKbps: Number(process.env.START_KBPS || 300), maxKbps: Number(process.env.MAX_KBPS || 1500) };
  const media = { width: 640, height: 480, fps: 30, hz: Number(process.env.HZ || (MODE === 'doctor' ? 440 : 660)) };
  const server = process.env.SERVER_URL;
  const STEP_MS = 30000;
  const out = { mode: MODE, timeline: [], rendered: [], errors: [] };
  let browser = null;
  const finish = async (code) => {
    try { if (process.env.RESULT) fs.writeFileSync(process.env.RESULT, JSON.stringify(out)); } catch (e) { log('write:', e.message); }
    if (browser) await browser.close().catch(() => {});
    process.exit(code);
  };
  const overall = setTimeout(() => { log('overall timeout'); out.errors.push('overall timeout'); finish(1); }, (SECONDS + 90) * 1000);
  try {
    state.tmp = fs.mkdtempSync(path.join(process.env.WORK || '/tmp', `q${MODE}-`));
    const cert = new crypto.X509Certificate(fs.readFileSync(process.env.SERVER_CERT, 'utf8'));
    const spki = crypto.createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    browser = await lib.launchChromium(puppeteer, process.env.CHROMIUM || '/usr/bin/chromium', spki,
      ['--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required']);
    out.version = await browser.version().catch(() => '');
    const page = await lib.newPage(browser, MODE, [lib.pageHelpers, mediaHelpers]);
    await page.evaluateOnNewDocument(patternSource());
    await page.evaluateOnNewDocument(qualityHooks, cfg);
    if (MODE === 'doctor') {
      await page.goto(server + '/');
      await page.evaluate(pagePeer, { media });
      await page.evaluate(() => window.P.send({ type: 'create' }));
      await page.waitForFunction(() => window.P.msgs.some((m) => m.type === 'created'), { timeout: STEP_MS, polling: 100 });
      const room = await page.evaluate(() => window.P.msgs.find((m) => m.type === 'created').room);
      console.log(`link: ${server}/r/${room}`);
    } else {
      const link = process.argv[3];
      await page.evaluateOnNewDocument((md) => {
        navigator.mediaDevices.getUserMedia = async () => window.M.stream(md.width, md.height, md.fps, md.hz);
      }, media);
      await page.goto(link + '#name=Patient&autojoin=1');
    }
    await page.waitForFunction(() => window.__qpc() && window.__qpc().connectionState === 'connected',
      { timeout: STEP_MS * 2, polling: 100 });
    out.connectedAt = Date.now();
    console.log('connected');
    out.tuned = await page.evaluate(() => window.__qtune());
    if (MODE === 'patient') {
      await page.waitForFunction(() => {
        const v = document.getElementById('remote');
        if (!v || !v.srcObject) return false;
        window.M.watch(v);
        return true;
      }, { timeout: STEP_MS, polling: 100 });
    }
    const end = out.connectedAt + SECONDS * 1000;
    for (let next = out.connectedAt; Date.now() < end; ) {
      const s = await page.evaluate(() => window.__qsnap());
      out.timeline.push(s);
      if (s.state !== 'connected' && s.state !== 'disconnected') break;
      if (MODE === 'patient' && await page.evaluate(() => window.medcall.state === 'end')) break;
      next += 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    out.endedAt = Date.now();
    out.rendered = await page.evaluate(() => window.M.rendered);
    out.errors.push(...await page.evaluate(() => (window.P ? window.P.errors : [])));
    clearTimeout(overall);
    log('done', out.timeline.length, 'samples', out.rendered.length, 'frames');
    await finish(0);
  } catch (e) {
    log('FAIL', e.message);
    out.errors.push(e.message);
    clearTimeout(overall);
    await finish(1);
  }
}

// ---- the table ----

const pct = (xs, q) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * q))] : null;
};

// Per-second sender rate (kbit/s, all it sends on the selected pair) as
// [wall ms at the end of the second, kbit/s].
function pageRates(r) {
  const o = [];
  const tl = r.timeline.filter((s) => s.pairSent !== null);
  for (let i = 1; i < tl.length; i++) {
    const dt = (tl[i].at - tl[i - 1].at) / 1000;
    if (dt > 0) o.push([tl[i].at, ((tl[i].pairSent - tl[i - 1].pairSent) * 8) / dt / 1000]);
  }
  return o;
}
function medcallRates(st, connectedAt) {
  return (st.timeline || []).map((e) => [connectedAt + e.t * 1000, e.sentKbps]);
}

// What the receiver saw of one direction.
function pageRx(r) {
  const fr = r.rendered.filter((f) => f[0] >= r.connectedAt && f[0] <= r.endedAt);
  const secs = (r.endedAt - r.connectedAt) / 1000;
  let n = 0, total = 0;
  for (let i = 1; i < fr.length; i++) {
    const g = fr[i][0] - fr[i - 1][0];
    if (g > 500) { n++; total += g; }
  }
  const lat = fr.filter((f) => f[1] !== null).map((f) => (f[0] - f[1]) | 0).filter((x) => x >= 0 && x < 60000);
  const a = r.timeline.filter((s) => s.aSamples !== null);
  const last = a[a.length - 1];
  return { fps: fr.length / secs, freezes: n, freezeS: total / 1000, freezeExact: true, p50: pct(lat, 0.5), p95: pct(lat, 0.95),
           conceal: last && last.aSamples ? last.aConcealed / last.aSamples : null,
           stretch: last && last.aSamples && last.aInserted !== undefined ? last.aInserted / last.aSamples : null,
           faster: last && last.aSamples && last.aRemoved !== undefined ? last.aRemoved / last.aSamples : null, secs };
}
function medcallRx(st) {
  const v = st.video || {}, a = st.audio || {};
  const secs = st.timeline && st.timeline.length ? st.timeline[st.timeline.length - 1].t : null;
  // Without freezeTotalMs its JSON has the count of gaps over 500 ms and
  // the longest gap, not their sum: exact for 0 or 1 freeze, a lower bound
  // beyond.
  const n = v.freezeCount || 0;
  const total = typeof v.freezeTotalMs === 'number' ? v.freezeTotalMs : n ? v.maxFrameGapMs : 0;
  // Shown: after lip sync's hold, as Chromium's figures are after its
  // render; older builds only had the decode time.
  const shown = typeof v.glassToGlassShownP50Ms === 'number' && v.framesShown > 0;
  return { fps: secs ? (shown ? v.framesShown : v.framesDecoded) / secs : null, freezes: n, freezeS: total / 1000,
           freezeExact: n <= 1 || typeof v.freezeTotalMs === 'number',
           p50: shown ? v.glassToGlassShownP50Ms : v.glassToGlassP50Ms,
           p95: shown ? v.glassToGlassShownP95Ms : v.glassToGlassP95Ms,
           // since 2026-12-07 23:30 with the silence of re-buffering between
           // played audio (underrunFrames), which Chromium plays as expand
           conceal: a.framesPlayed ? (a.concealedFrames + (a.underrunFrames || 0)) /
             (a.framesPlayed + (a.underrunFrames || 0)) : null,
           // since 2026-12-07 samples added and removed by time stretching
           // (and its concealment fallback); before, 20 ms concealment
           // frames played to grow the delay, and nothing to shrink it
           stretch: !a.framesPlayed ? null : typeof a.insertedSamplesForDeceleration === 'number'
             ? a.insertedSamplesForDeceleration / (a.framesPlayed * 960)
             : typeof a.stretchedFrames === 'number' ? a.stretchedFrames / a.framesPlayed : null,
           faster: a.framesPlayed && typeof a.removedSamplesForAcceleration === 'number'
             ? a.removedSamplesForAcceleration / (a.framesPlayed * 960) : null, secs };
}

function table(dir) {
  const calls = fs.readdirSync(dir).filter((f) => /^call-.*\.meta\.json$/.test(f)).sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  const load = (side) => {
    try { return JSON.parse(fs.readFileSync(path.join(dir, side.file), 'utf8')); } catch (e) { return null; }
  };
  const f0 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Math.round(x).toString());
  const f1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));
  const rows = [];
  let version = '';
  for (const c of calls) {
    const sides = { doctor: c.doctor, patient: c.patient };
    const data = {};
    for (const k of Object.keys(sides)) {
      const d = load(sides[k]);
      data[k] = d && sides[k].kind === 'medcall' ? { st: d, rx: medcallRx(d), rates: medcallRates(d, sides[k].connectedAt) }
        : d && d.connectedAt ? { rx: pageRx(d), rates: pageRates(d) } : null;
      if (d && d.version) version = d.version;
    }
    for (const [from, to, label] of [['doctor', 'patient', 'D->P'], ['patient', 'doctor', 'P->D']]) {
      const s = data[from], r = data[to];
      const name = `${sides[from].kind === 'medcall' ? 'medcall' : 'Chromium'}->${sides[to].kind === 'medcall' ? 'medcall' : 'Chromium'}`;
      if (!s || !r) {
        rows.push([c.profile, c.call, label, name, c.error || 'no result', '', '', '', '', '', '', '', '']);
        continue;
      }
      // Sender's mean rate from 2 s after the impairment to the end.
      const rr = s.rates.filter(([at]) => at >= c.impairedAt + 2000);
      const mean = rr.length ? rr.reduce((x, [, k]) => x + k, 0) / rr.length : null;
      let adapt = '';
      if (c.dropAt) {
        const low = s.rates.find(([at, k]) => at > c.dropAt && k < c.lowKbps);
        adapt = low ? f1((low[0] - c.dropAt) / 1000) : 'never';
        const during = s.rates.filter(([at]) => at >= c.dropAt + 5000 && at <= c.dropAt + c.dropForS * 1000);
        if (during.length) adapt += ` (${f0(during.reduce((x, [, k]) => x + k, 0) / during.length)})`;
      }
      // Time to 90 % of the link (or of the maximum when the link is
      // wider) from connected, and from the recovery for drop300k: the
      // first 1 s sample of the sender's rate at or over it.
      const wide = c.profile === 'drop300k' ? 2000 : c.profile === 'rate500k' ? 500 : Infinity;
      const goal = 0.9 * Math.min(wide, c.maxKbps);
      const reach = (from) => {
        const hit = s.rates.find(([at, k]) => at > from && k >= goal);
        return hit ? f1((hit[0] - from) / 1000) : 'never';
      };
      const t90 = reach(sides[from].connectedAt) +
        (c.dropAt ? ' / ' + reach(c.dropAt + c.dropForS * 1000) : '');
      const x = r.rx;
      rows.push([c.profile, c.call, label, name, f1(x.fps), `${x.freezes} / ${x.freezeExact ? '' : '>='}${f1(x.freezeS)}`,
        `${f0(x.p50)} / ${f0(x.p95)}`, `${f0(mean)} / ${c.link}`, adapt || '-', t90,
        (x.conceal === null ? '-' : (x.conceal * 100).toFixed(1)) +
          (x.stretch === null || x.stretch === undefined ? '' : ' (' + (x.stretch * 100).toFixed(1) + ' / ' +
            (x.faster === null || x.faster === undefined ? '-' : (x.faster * 100).toFixed(1)) + ')'), f0(x.secs), c.load === undefined ? '-' : f1(c.load)]);
    }
  }
  const head = ['profile', 'call', 'dir', 'sender->receiver', 'fps', 'freezes n / s', 'g2g p50 / p95 ms',
    'sent kbit/s / link', 'adapt s (low kbit/s)', '90% s (start / back)', 'conceal % (slower / faster)', 'secs', 'load'];
  const wd = head.map((h, i) => Math.max(h.length, ...rows.map((l) => String(l[i]).length)));
  const fmt = (l) => '| ' + l.map((x, i) => String(x).padEnd(wd[i])).join(' | ') + ' |';
  console.log(`\nquality under impaired links (patient's router nat-b, both ways); 640x480 30 fps, ` +
    `max ${calls[0] ? calls[0].maxKbps : '-'} kbit/s, start ${calls[0] ? calls[0].startKbps : '-'} kbit/s; ${version || 'Chromium'}`);
  console.log(fmt(head));
  console.log('|' + wd.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const l of rows) console.log(fmt(l));
  console.log('fps: frames per second at the receiver (medcall: decoded, headless; Chromium: rendered, requestVideoFrameCallback).');
  console.log('freezes: gaps over 500 ms between those frames, count / total seconds (medcall\'s JSON has count and longest gap: ">=" is a lower bound).');
  console.log('g2g: capture stamp to shown (medcall: after lip sync\'s hold, headless) or rendered (Chromium). sent: sender\'s mean rate on the selected pair from 2 s after');
  console.log('the impairment on. adapt (drop300k): seconds from the drop until a 1 s sample of the sender\'s rate is under the new rate;');
  console.log('90%: seconds from connected (and, for drop300k, from the link\'s return) until a 1 s sample of the sender\'s rate reaches 90 % of\n' +
    'the link or of the maximum when that is lower (all it sends: probes and padding count, as Chromium\'s do). mr: medcall both sides, REMB only.');
  console.log('in brackets its mean rate from 5 s after the drop to the recovery. conceal: share of played audio concealed for missing packets (medcall: with re-buffering silence);\n' +
    '(slower / faster): shares of samples added and removed by the jitter buffer to grow and shrink its delay\n' +
    '(insertedSamplesForDeceleration, removedSamplesForAcceleration over samples played, both sides).');
  console.log('secs: the receiver\'s measured time from connected. load: the machine\'s 1-minute load average when the call ended.');
}

if (MODE === 'doctor' || MODE === 'patient') runPage();
else if (MODE === 'table') table(process.argv[3]);
else { console.error('usage: quality_pages.js doctor | patient LINK | table RUNDIR'); process.exit(2); }
