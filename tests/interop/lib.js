// Shared by the browser interop tests: processes, ports, a real coturn and
// medcall-server, checks and steps that count failures. Each test script
// sets state.tmp to its own temporary directory before starting anything.
'use strict';

const { spawn } = require('child_process');
const crypto = require('crypto');
const dgram = require('dgram');
const fs = require('fs');
const net = require('net');
const path = require('path');

const state = { tmp: null, children: [], failures: 0 };


function log(...a) { console.log('[interop]', ...a); }

function check(cond, what, detail) {
  if (cond) { log('ok  ', what); return; }
  state.failures++;
  log('FAIL', what, detail === undefined ? '' : JSON.stringify(detail));
  throw new Error('check failed: ' + what);
}

async function step(what, fn) {
  try {
    return await fn();
  } catch (e) {
    state.failures++;
    log('FAIL', what + ':', e.message);
    throw new Error('step failed: ' + what);
  }
}

// ---- processes ----

function start(name, argv, logPath) {
  const out = fs.openSync(logPath, 'w');
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  p.exited = new Promise((resolve) => p.on('exit', (code, sig) => resolve({ code, sig })));
  p.name = name;
  p.logPath = logPath;
  state.children.push(p);
  return p;
}

function tail(file, n = 25) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n'); } catch (e) { return ''; }
}

async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tcpOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

function bindable(port) {
  return new Promise((resolve) => {
    const t = net.createServer();
    t.once('error', () => resolve(false));
    t.listen(port, '127.0.0.1', () => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => { t.close(); resolve(false); });
      u.bind(port, '127.0.0.1', () => { u.close(); t.close(() => resolve(true)); });
    });
  });
}

// A port free for TCP and UDP on 127.0.0.1 right now (coturn needs both).
async function freePort() {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + crypto.randomInt(20000);
    if (await bindable(p)) return p;
  }
  throw new Error('no free port');
}

async function startCoturn(secret) {
  const port = await freePort();
  // A real --userdb path: with /dev/null coturn 4.6 looks the secret up in an
  // empty database and refuses every REST credential (docs/server.md).
  const p = start('coturn', ['stdbuf', '-oL', 'turnserver', '--use-auth-secret', '--static-auth-secret', secret,
    '--realm', 'medcall.test', '--no-cli', '--no-dtls', '--no-tls', '--listening-ip', '127.0.0.1',
    '--relay-ip', '127.0.0.1', '--allow-loopback-peers', '--listening-port', String(port),
    '--min-port', '40000', '--max-port', '49999', '--userdb', path.join(state.tmp, 'turndb'),
    '--no-software-attribute', '--log-file', 'stdout', '--simple-log', '-v'], path.join(state.tmp, 'coturn.log'));
  await until(async () => {
    if (p.exitCode !== null) throw new Error('coturn exited: ' + tail(p.logPath));
    return tcpOpen(port);
  }, 10000, 'coturn to listen');
  await new Promise((r) => setTimeout(r, 100)); // its UDP listener opens right after
  log('coturn pid', p.pid, 'port', port);
  return { proc: p, port };
}

async function startServer(SERVER, WEB_ROOT, turnPort, secret) {
  const port = await freePort();
  const argv = [SERVER, '--open', '--listen', '127.0.0.1:' + port,
    '--state-dir', path.join(state.tmp, 'state'), '--web-root', WEB_ROOT,
    '--turn-url', `turn:127.0.0.1:${turnPort}?transport=udp`, '--turn-secret', secret, '--turn-ttl', '10m'];
  const p = await spawnServer(argv, 'server.log');
  // The fingerprint it prints is the one of the certificate it keeps: that
  // is what a doctor compares with the browser's.
  const certPem = fs.readFileSync(path.join(state.tmp, 'state', 'cert.pem'), 'utf8');
  const cert = new crypto.X509Certificate(certPem);
  const printed = (tail(p.logPath, 100).match(/fingerprint ([0-9A-Fa-f:]+)/) || [])[1] || '';
  check(printed.toUpperCase() === cert.fingerprint256.toUpperCase(),
    'server prints the SHA-256 fingerprint of the certificate it serves', { printed, file: cert.fingerprint256 });
  // Trust exactly this certificate (by its SPKI hash), not any bad one.
  const spki = crypto.createHash('sha256')
    .update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  log('medcall-server pid', p.pid, 'port', port);
  return { proc: p, port, spki, argv };
}

async function spawnServer(argv, logName) {
  const p = start('medcall-server', argv, path.join(state.tmp, logName));
  await until(() => {
    if (p.exitCode !== null) throw new Error('medcall-server exited: ' + tail(p.logPath));
    return /listening on https:\/\/127\.0\.0\.1:\d+/.test(tail(p.logPath, 100));
  }, 15000, 'medcall-server to listen');
  return p;
}

// The same server again (same port, state directory and options), after
// it stopped: srv.proc is the new process.
async function restartServer(srv, logName) {
  srv.proc = await spawnServer(srv.argv, logName);
  log('medcall-server restarted pid', srv.proc.pid);
  return srv;
}

// ---- page helpers (installed into every page before its scripts run) ----

function pageHelpers() {
  window.__t = {
    // The selected candidate pair of a peer connection (W3C webrtc-stats).
    async pair(pc) {
      const stats = await pc.getStats();
      let pair = null;
      stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
      if (!pair) return null;
      const c = (id) => {
        const s = stats.get(id);
        return s && { type: s.candidateType, protocol: s.protocol, address: s.address, port: s.port,
                      relayProtocol: s.relayProtocol, url: s.url };
      };
      return { state: pair.state, local: c(pair.localCandidateId), remote: c(pair.remoteCandidateId),
               bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived };
    },
    async inbound(pc) {
      const stats = await pc.getStats();
      const out = {};
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') out.video = { framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0,
                                              codec: s.codecId && stats.get(s.codecId) && stats.get(s.codecId).mimeType };
        if (s.kind === 'audio') out.audio = { packetsReceived: s.packetsReceived || 0,
                                              samples: s.totalSamplesReceived || 0, codec: s.codecId && stats.get(s.codecId) && stats.get(s.codecId).mimeType };
      });
      return out;
    },
    // What a viewer sees: mean luma, spread, and a checksum of a video frame.
    frame(video) {
      const w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) return { w, h };
      const cv = document.createElement('canvas');
      cv.width = w; cv.height = h;
      const g = cv.getContext('2d', { willReadFrequently: true });
      g.drawImage(video, 0, 0, w, h);
      const d = g.getImageData(0, 0, w, h).data;
      let sum = 0, sum2 = 0, bright = 0, hash = 0, n = 0;
      for (let i = 0; i < d.length; i += 4 * 7) {
        const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
        sum += y; sum2 += y * y; n++;
        if (y > 48) bright++;
        hash = (hash * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
      }
      const mean = sum / n;
      return { w, h, mean: Math.round(mean), sd: Math.round(Math.sqrt(Math.max(0, sum2 / n - mean * mean))),
               brightShare: +(bright / n).toFixed(3), hash };
    },
  };
}

// The doctor: a client written from docs/signaling.md alone, in page JS
// (page.evaluate(doctorClient, opts)); it admits nobody by itself: the test
// sends admit. opts.relay: relay candidates only; opts.width/height: the
// camera's size (default 640x480).
function doctorClient(opts) {
  const D = window.D = { msgs: [], chat: [], pc: null, dc: null, errors: [] };
  const ws = D.ws = new WebSocket('wss://' + location.host + '/ws');
  const send = D.send = (m) => { m.v = 1; ws.send(JSON.stringify(m)); };
  D.opened = new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('ws error')); });
  D.closed = false;
  ws.onclose = () => { D.closed = true; };
  ws.onmessage = async (ev) => {
    const m = JSON.parse(ev.data);
    D.msgs.push(m);
    try {
      if (m.type === 'admitted') await call(m);
      else if (m.type === 'answer') await D.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      else if (m.type === 'candidate' && m.candidate) {
        await D.pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex });
      }
    } catch (e) { D.errors.push(m.type + ': ' + e.message); }
  };
  async function call(m) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true,
      video: { width: opts.width || 640, height: opts.height || 480 } });
    const pc = D.pc = new RTCPeerConnection({ iceServers: m.ice_servers,
                                              iceTransportPolicy: opts.relay ? 'relay' : 'all' });
    stream.getTracks().forEach((t) => pc.addTrack(t, stream));
    const video = document.createElement('video');
    video.id = 'doctor-remote'; video.autoplay = true; video.muted = true; video.playsInline = true;
    document.body.append(video);
    pc.ontrack = (e) => { video.srcObject = e.streams[0]; };
    pc.onicecandidate = (e) => send(e.candidate
      ? { type: 'candidate', candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid,
          sdpMLineIndex: e.candidate.sdpMLineIndex }
      : { type: 'candidate', candidate: '' });
    // docs/signaling.md "Data channels": "control" is pre-negotiated as id 1
    // on both sides (it holds that id, so an in-band channel never takes it);
    // the offerer opens "chat".
    D.control = pc.createDataChannel('control', { negotiated: true, id: 1 });
    const dc = D.dc = pc.createDataChannel('chat');
    dc.onmessage = (e) => D.chat.push(e.data);
    await pc.setLocalDescription(await pc.createOffer());
    send({ type: 'offer', sdp: pc.localDescription.sdp });
  }
  return D.opened.then(() => true);
}

// Runs main() under an overall time limit; cleanup() always runs; the
// process exits 0 only when main finished and no check failed.
function runTest(main, cleanup, overallMs, passLabel) {
  const overall = setTimeout(() => { log('FAIL overall timeout'); cleanup().finally(() => process.exit(1)); }, overallMs);
  main().then(async () => {
    clearTimeout(overall);
    await cleanup();
    if (state.failures) { log(state.failures, 'failure(s)'); process.exit(1); }
    log('PASS', passLabel);
    process.exit(0);
  }, async (e) => {
    clearTimeout(overall);
    log('FAIL', e.message);
    for (const p of state.children) log(`--- ${p.name} log tail:\n` + tail(p.logPath, 40));
    await cleanup();
    process.exit(1);
  });
}

// The medcall program as a child: stdout and stderr line-buffered into
// tmp/NAME.log. env: extra "NAME=value" strings.
function startMedcall(app, name, args, env = []) {
  return start(name, ['env', ...env, 'stdbuf', '-oL', app, ...args], path.join(state.tmp, name + '.log'));
}

// The first line of p's log matching re; fails when p exits first.
async function waitLine(p, re, what, ms = 20000) {
  return until(() => {
    const l = tail(p.logPath, 100000).split('\n').find((x) => re.test(x));
    if (l) return l;
    if (p.exitCode !== null) throw new Error(`medcall exited (${p.exitCode}) before ${what}: ` + tail(p.logPath));
    return null;
  }, ms, what);
}

// p's exit, or {code: 'hung'} after ms.
function exitWithin(p, ms) {
  return Promise.race([p.exited, new Promise((r) => setTimeout(() => r({ code: 'hung' }), ms))]);
}

// A page that logs its errors and has the given helpers installed.
async function newPage(ctx, who, helpers) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => log(who, 'page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'error') log(who, 'console:', m.text()); });
  for (const h of helpers || [pageHelpers]) await page.evaluateOnNewDocument(h);
  return page;
}

// Closes the browser, kills what is left, removes tmp (unless INTEROP_KEEP).
async function closeAll(browser) {
  if (browser) await browser.close().catch(() => {});
  for (const p of state.children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  if (state.tmp && !process.env.INTEROP_KEEP) fs.rmSync(state.tmp, { recursive: true, force: true });
}

// Headless Chromium with fake camera and microphone, trusting exactly the
// server's certificate (by its SPKI hash), loopback candidates allowed, and
// background pages kept rendering and decoding like a foreground tab.
// extraArgs: what one test needs beyond that. The patient page speaks the
// browser's language: English unless extraArgs name another (headless
// Chromium takes navigator.languages from --accept-lang, not from --lang).
async function launchChromium(puppeteer, executablePath, spki, extraArgs = []) {
  const lang = extraArgs.some((a) => /^--(lang|accept-lang)=/.test(a)) ? [] : ['--lang=en-US', '--accept-lang=en-US,en'];
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir: path.join(state.tmp, 'chromium-profile'),
    args: ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--allow-loopback-in-peer-connection', `--ignore-certificate-errors-spki-list=${spki}`,
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows', ...lang, ...extraArgs],
  });
  log('chromium', await browser.version());
  return browser;
}

module.exports = { doctorClient, launchChromium, startMedcall, waitLine, exitWithin, newPage, closeAll, runTest, pageHelpers, state, log, check, step, start, tail, until, tcpOpen, freePort, startCoturn, startServer, restartServer };
