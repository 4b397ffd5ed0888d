// Benchmark (issue 4 item 8): connection set-up and data-channel throughput
// on loopback, medcall against Chromium, each figure beside the same one for
// Chromium to Chromium measured in the same run. Prints a table; never fails
// on a figure.
//
//   bash tests/interop/run.sh ../../bench/webrtc_vs_chromium.js
// with MEDCALL_SERVER, MEDCALL_WEB_ROOT, MEDCALL_APP set (bench/README.md).
// Runs inside a private network namespace holding only lo (run.sh).
//
// Set-up: from the offer leaving the offerer to the offerer's data channel
// open (ICE + DTLS + SCTP + DCEP), as the offerer sees it.
// Throughput: BENCH_MB (default 50) megabytes one way on a channel "bulk" in
// 64 KiB messages with backpressure, timed at the receiver from the first
// byte to the last.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');
const lib = require('../tests/interop/lib');

const puppeteer = createRequire(path.join(__dirname, '../tests/interop/package.json'))('puppeteer-core');
const { state, log, start, tail, until, startCoturn, pageHelpers } = lib;
const APP = process.env.MEDCALL_APP;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const BYTES = Number(process.env.BENCH_MB || 50) * 1000 * 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const STEP_MS = 60000;

let browser = null;

// ---- page side: a peer written from docs/signaling.md ----

function benchPeer(opts) {
  const P = window.P = { msgs: [], pc: null, chat: null, bulkBytes: 0, bulkFirst: 0, bulkLast: 0, tOffer: 0,
                         tOpen: 0, sendDone: false };
  const ws = P.ws = new WebSocket('wss://' + location.host + '/ws');
  const send = P.send = (m) => { m.v = 1; ws.send(JSON.stringify(m)); };
  function setupPc(m) {
    const pc = P.pc = new RTCPeerConnection({ iceServers: [] });
    pc.onicecandidate = (e) => send(e.candidate
      ? { type: 'candidate', candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }
      : { type: 'candidate', candidate: '' });
    pc.ondatachannel = (e) => {
      if (e.channel.label === 'chat') P.chat = e.channel;
      if (e.channel.label === 'bulk') {
        e.channel.binaryType = 'arraybuffer';
        e.channel.onmessage = (ev) => {
          const now = performance.now();
          if (!P.bulkFirst) P.bulkFirst = now;
          P.bulkLast = now;
          P.bulkBytes += ev.data.byteLength;
        };
      }
    };
    return pc;
  }
  // One message at a time, in order: a candidate must not overtake the
  // offer it belongs to while setRemoteDescription is still running.
  let chain = Promise.resolve();
  ws.onmessage = (ev) => { chain = chain.then(() => handle(ev)); };
  const handle = async (ev) => {
    const m = JSON.parse(ev.data);
    P.msgs.push(m);
    if (m.type === 'knock') send({ type: 'admit' });
    else if (m.type === 'admitted' && m.offerer) {
      const pc = setupPc(m);
      P.chat = pc.createDataChannel('chat');
      P.chat.onopen = () => { P.tOpen = performance.now(); };
      await pc.setLocalDescription(await pc.createOffer());
      P.tOffer = performance.now();
      send({ type: 'offer', sdp: pc.localDescription.sdp });
    } else if (m.type === 'admitted') setupPc(m);
    else if (m.type === 'offer') {
      await P.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await P.pc.setLocalDescription(await P.pc.createAnswer());
      send({ type: 'answer', sdp: P.pc.localDescription.sdp });
    } else if (m.type === 'answer') await P.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
    else if (m.type === 'candidate' && m.candidate && P.pc) {
      await P.pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex });
    }
  };
  // A media grant makes Chromium offer its host addresses (127.0.0.1 here);
  // without one it offers only the default route's, which this namespace lacks.
  return navigator.mediaDevices.getUserMedia({ audio: true })
    .then((s) => s.getTracks().forEach((t) => t.stop()))
    .then(() => new Promise((resolve) => { ws.onopen = () => resolve(true); if (ws.readyState === 1) resolve(true); }));
}

// Sends total bytes on a new channel "bulk", then closes it.
async function sendBulk(total) {
  const dc = window.P.pc.createDataChannel('bulk');
  await new Promise((r) => { dc.onopen = r; });
  dc.bufferedAmountLowThreshold = 1 << 20;
  const chunk = new Uint8Array(64 * 1024);
  crypto.getRandomValues(chunk);
  for (let off = 0; off < total; off += chunk.length) {
    dc.send(off + chunk.length <= total ? chunk : chunk.subarray(0, total - off));
    if (dc.bufferedAmount > 4 << 20) await new Promise((r) => { dc.onbufferedamountlow = r; });
  }
  await new Promise((r) => { if (dc.bufferedAmount === 0) r(); else { dc.bufferedAmountLowThreshold = 0; dc.onbufferedamountlow = r; } });
  dc.close();
  window.P.sendDone = true;
}

// ---- helpers ----

async function page(ctx, srv) {
  const p = await ctx.newPage();
  p.on('pageerror', (e) => log('page error:', e.message));
  await p.evaluateOnNewDocument(pageHelpers);
  await p.goto(`https://127.0.0.1:${srv.port}/`);
  await p.evaluate(benchPeer, {});
  return p;
}

function medcall(name, args) {
  return start(name, ['stdbuf', '-oL', APP, ...args], path.join(state.tmp, name + '.log'));
}
async function waitLine(p, re, ms = STEP_MS) {
  return until(() => {
    const l = tail(p.logPath, 100000).split('\n').find((x) => re.test(x));
    if (l) return l;
    if (p.exitCode !== null) throw new Error('medcall exited: ' + tail(p.logPath));
    return null;
  }, ms, String(re));
}
async function stop(p) {
  if (p.exitCode === null) p.kill('SIGTERM');
  await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000))]);
}
const mbps = (bytes, ms) => (bytes * 8) / (ms * 1000);
const pageRate = async (p) => p.evaluate(() => ({ bytes: window.P.bulkBytes, ms: window.P.bulkLast - window.P.bulkFirst }));

// ---- the pairs ----

async function chromiumChromium(srv) {
  const ctx = await browser.createBrowserContext();
  try {
    const doc = await page(ctx, srv);
    const pat = await page(ctx, srv);
    await doc.evaluate(() => window.P.send({ type: 'create' }));
    await doc.waitForFunction(() => window.P.msgs.some((m) => m.type === 'created'), { polling: 100 });
    const room = await doc.evaluate(() => window.P.msgs.find((m) => m.type === 'created').room);
    await pat.evaluate((r) => window.P.send({ type: 'join', room: r, name: 'bench' }), room);
    await doc.waitForFunction(() => window.P.tOpen > 0, { timeout: STEP_MS, polling: 100 }).catch(async (e) => {
      log('doctor saw', await doc.evaluate(() => JSON.stringify([window.P.msgs.map((m) => m.type), window.P.pc && window.P.pc.connectionState, window.P.chat && window.P.chat.readyState, window.P.tOpen, window.P.pc.sctp && window.P.pc.sctp.state])));
      log('patient saw', await pat.evaluate(() => JSON.stringify([window.P.msgs.map((m) => m.type), window.P.pc && window.P.pc.connectionState])));
      throw e;
    });
    const setup = await doc.evaluate(() => window.P.tOpen - window.P.tOffer);
    await doc.evaluate(sendBulk, BYTES);
    await pat.waitForFunction((n) => window.P.bulkBytes >= n, { timeout: STEP_MS * 3, polling: 100 }, BYTES);
    const r = await pageRate(pat);
    return { setup, tput: mbps(r.bytes, r.ms) };
  } finally { await ctx.close().catch(() => {}); }
}

// medcall is the doctor (offerer); it sends BYTES to the page.
async function medcallToChromium(srv) {
  const ctx = await browser.createBrowserContext();
  const mc = medcall('mc-offer', ['call', '--server', `wss://127.0.0.1:${srv.port}/ws`, '--insecure',
    '--send-bytes', String(BYTES), '--stats-json', path.join(state.tmp, 'offer.json')]);
  try {
    const link = (await waitLine(mc, /^link: /)).split(' ')[1];
    const pat = await page(ctx, srv);
    await pat.evaluate((r) => window.P.send({ type: 'join', room: r, name: 'bench' }), link.split('/r/')[1]);
    await pat.waitForFunction((n) => window.P.bulkBytes >= n, { timeout: STEP_MS * 3, polling: 100 }, BYTES);
    const r = await pageRate(pat);
    await stop(mc);
    const st = JSON.parse(fs.readFileSync(path.join(state.tmp, 'offer.json'), 'utf8'));
    return { setup: st.dtlsConnectedMs, tput: mbps(r.bytes, r.ms), setupNote: 'to DTLS connected' };
  } finally { await stop(mc); await ctx.close().catch(() => {}); }
}

// The page is the doctor (offerer); it sends BYTES to medcall.
async function chromiumToMedcall(srv) {
  const ctx = await browser.createBrowserContext();
  let mc = null;
  try {
    const doc = await page(ctx, srv);
    await doc.evaluate(() => window.P.send({ type: 'create' }));
    await doc.waitForFunction(() => window.P.msgs.some((m) => m.type === 'created'), { polling: 100 });
    const link = await doc.evaluate(() => window.P.msgs.find((m) => m.type === 'created').link);
    mc = medcall('mc-answer', ['join', link, '--insecure']);
    await doc.waitForFunction(() => window.P.tOpen > 0, { timeout: STEP_MS, polling: 100 });
    const setup = await doc.evaluate(() => window.P.tOpen - window.P.tOffer);
    await doc.evaluate(sendBulk, BYTES);
    const rate = await waitLine(mc, /^rate: /, STEP_MS * 3);
    const m = rate.match(/^rate: (\d+) bytes in ([\d.]+) ms/);
    return { setup, tput: mbps(Number(m[1]), Number(m[2])) };
  } finally { if (mc) await stop(mc); await ctx.close().catch(() => {}); }
}

async function medcallMedcall(srv) {
  const doc = medcall('mc-doc', ['call', '--server', `wss://127.0.0.1:${srv.port}/ws`, '--insecure',
    '--send-bytes', String(BYTES), '--stats-json', path.join(state.tmp, 'mm.json')]);
  let pat = null;
  try {
    const link = (await waitLine(doc, /^link: /)).split(' ')[1];
    pat = medcall('mc-pat', ['join', link, '--insecure']);
    const rate = await waitLine(pat, /^rate: /, STEP_MS * 3);
    const m = rate.match(/^rate: (\d+) bytes in ([\d.]+) ms/);
    await stop(doc);
    const st = JSON.parse(fs.readFileSync(path.join(state.tmp, 'mm.json'), 'utf8'));
    return { setup: st.dtlsConnectedMs, tput: mbps(Number(m[1]), Number(m[2])), setupNote: 'to DTLS connected' };
  } finally { await stop(doc); if (pat) await stop(pat); }
}

function median(xs) { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; }

async function main() {
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-bench-'));
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await startCoturn(secret);
  const srv = await lib.startServer(process.env.MEDCALL_SERVER, process.env.MEDCALL_WEB_ROOT, turn.port, secret);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir: path.join(state.tmp, 'profile'),
    args: ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
      `--ignore-certificate-errors-spki-list=${srv.spki}`, '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'],
  });
  const pairs = [
    ['Chromium -> Chromium', chromiumChromium],
    ['medcall -> Chromium', medcallToChromium],
    ['Chromium -> medcall', chromiumToMedcall],
    ['medcall -> medcall', medcallMedcall],
  ];
  const rows = [];
  const only = process.env.BENCH_PAIRS; // e.g. "medcall -> Chromium"
  for (const [name, fn] of pairs.filter(([n]) => !only || only.split(',').includes(n))) {
    const setups = [], tputs = [];
    let note = 'to channel open';
    for (let i = 0; i < ROUNDS; i++) {
      const r = await fn(srv);
      setups.push(r.setup); tputs.push(r.tput);
      if (r.setupNote) note = r.setupNote;
    }
    rows.push({ name, setup: median(setups), note, tput: median(tputs), all: tputs.map((x) => x.toFixed(0)).join('/'),
      setups: setups.map((x) => x.toFixed(0)).join('/') });
  }
  console.log(`\nloopback, ${BYTES / 1e6} MB one way in 64 KiB messages, median of ${ROUNDS} (${await browser.version()})`);
  console.log('pair                   set-up ms (offerer)             throughput Mbit/s (runs)');
  for (const r of rows) {
    console.log(`${r.name.padEnd(22)} ${r.setup.toFixed(0).padStart(6)}  ${r.note.padEnd(22)} ${r.tput.toFixed(1).padStart(8)}  (${r.all})`);
  }
  console.log('set-up ms of each round:');
  for (const r of rows) console.log(`${r.name.padEnd(22)} ${r.setups}`);
}

main().then(async () => {
  if (browser) await browser.close().catch(() => {});
  for (const p of state.children) if (p.exitCode === null) p.kill('SIGKILL');
  if (!process.env.BENCH_KEEP) fs.rmSync(state.tmp, { recursive: true, force: true });
  else log('kept', state.tmp);
  process.exit(0);
}, async (e) => {
  log('bench failed:', e.message);
  for (const p of state.children) log(`--- ${p.name}:\n` + tail(p.logPath, 20));
  if (browser) await browser.close().catch(() => {});
  for (const p of state.children) if (p.exitCode === null) p.kill('SIGKILL');
  process.exit(1);
});
