// A third-party client from the document alone (issue 16 item 5): the
// patient side in third_party_client.html speaks docs/signaling.md with its
// own WebSocket and RTCPeerConnection, none of assets/web. The doctor is
// `medcall call --headless` with its built-in server (no --server), as one
// doctor on one machine runs it. Checked:
// - the built-in server's certificate is the one its `server-fingerprint:`
//   line names (docs/signaling.md "Verifying the server"): the test
//   compares what the TLS handshake presents, then lets Chromium trust
//   exactly that certificate;
// - the page joins as a patient, is admitted (headless medcall admits),
//   answers the doctor's offer (no candidates in it: trickle), trickles its
//   own candidates (the first one before its answer), and the call
//   connects; the doctor's `verify:` code is the one the document's
//   recipe gives from the two SDPs;
// - video frames from the doctor are decoded (inbound-rtp framesDecoded
//   grows, VP8) and audio arrives (Opus);
// - chat both ways on the "chat" channel: the doctor's --chat text arrives
//   on the page, the page's text shows on the doctor's stdout as `chat:`;
// - the doctor's `control` state arrives on the pre-negotiated channel;
// - the patient's `leave`: `ended` with `left`, and the doctor's app goes
//   on (away, waiting for the patient to come back); a new `join` on the
//   same connection is admitted into a new call (a new peer connection);
// - the doctor's app quits (SIGINT): the patient gets `ended` with
//   `ended-by-doctor`, its WebSocket closes and the built-in server is gone
//   (docs/signaling.md "Room lifecycle").
//
// Run by run.sh inside a private network namespace holding only lo. Env:
// MEDCALL_APP, CHROMIUM, INTEROP_KEEP=1 (keeps the temporary directory:
// the offer and answer are in offer.sdp and answer.sdp).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const tls = require('tls');
const puppeteer = require('puppeteer-core');
const lib = require('./lib');

const { state, log, check, step } = lib;
const APP = process.env.MEDCALL_APP;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 20000;

const DOCTOR_SAYS = 'Hello from the doctor — olá, 안녕하세요';
const PATIENT_SAYS = 'Hello from a client nobody on the team wrote 👋';

let browser = null;

// The certificate the server presents in the TLS handshake (not a file:
// what a client on the network sees).
function presentedCertificate(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const c = s.getPeerX509Certificate();
      s.end();
      resolve(c);
    });
    s.on('error', reject);
  });
}

async function main() {
  if (!APP) throw new Error('MEDCALL_APP must be set');
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-third-party-'));
  const mc = lib.startMedcall(APP, 'medcall-doctor', ['call', '--headless', '--video-source', 'pattern',
    '--audio-source', 'tone', '--fps', '15', '--chat', DOCTOR_SAYS, '--duration', '90'],
  [`XDG_STATE_HOME=${path.join(state.tmp, 'state')}`, `XDG_CONFIG_HOME=${path.join(state.tmp, 'config')}`,
    'LC_ALL=C']);
  const waitLine = (re, what, ms = STEP_MS) => lib.waitLine(mc, re, what, ms);
  const link = (await waitLine(/^link: /, 'the link')).slice(6).trim();
  const fpLine = await waitLine(/^server-fingerprint: /, 'the server-fingerprint line');
  const printed = fpLine.slice('server-fingerprint: '.length).trim();
  const m = /^https:\/\/([^/:]+):(\d+)\/r\/([A-Za-z0-9_-]{22})$/.exec(link);
  check(m, 'medcall prints the room link', link);
  const [, host, port, room] = m;
  check(/^SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(printed), 'medcall prints its server\'s fingerprint', printed);

  // docs/signaling.md "Verifying the server": the certificate presented must
  // have the printed SHA-256 fingerprint; nothing else makes it trusted.
  const cert = await presentedCertificate(Number(port));
  check('SHA-256 ' + cert.fingerprint256 === printed, 'the certificate presented is the one printed',
    { presented: cert.fingerprint256, printed });
  const spki = crypto.createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  browser = await lib.launchChromium(puppeteer, CHROMIUM, spki, ['--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required']);
  const page = await lib.newPage(await browser.createBrowserContext(), 'client', []);
  await page.goto('file://' + path.join(__dirname, 'third_party_client.html'));
  await page.evaluate((o) => window.patient(o), { ws: `wss://${host}:${port}/ws`, room, name: 'Third Party',
    say: PATIENT_SAYS });
  const seen = () => page.evaluate(() => window.seen);
  const until = (fn, what, ms = STEP_MS) => lib.until(async () => fn(await seen()), ms, what);

  await step('the page is waiting, then admitted', async () => {
    await until((s) => s.messages.includes('admitted'), 'admitted');
    const s = await seen();
    check(s.messages.indexOf('waiting') >= 0 && s.messages.indexOf('waiting') < s.messages.indexOf('admitted'),
      'waiting comes before admitted', s.messages);
  });
  await waitLine(/^knock: Third Party$/, 'the knock on the doctor\'s side');
  await step('the call connects', () => until((s) => s.state === 'connected' || s.errors.length, 'connected'));
  let s = await seen();
  fs.writeFileSync(path.join(state.tmp, 'offer.sdp'), s.offer || '');
  fs.writeFileSync(path.join(state.tmp, 'answer.sdp'), s.answer || '');
  fs.writeFileSync(path.join(state.tmp, 'candidates.txt'), s.candidateMsgs.join('\n') + '\n');
  check(s.errors.length === 0, 'no errors on the page', s.errors);
  check(!/^a=candidate:/m.test(s.offer), 'the offer carries no candidates (trickle)');
  check(/^a=ice-options:trickle/m.test(s.offer), 'the offer says a=ice-options:trickle');
  check(/^a=group:BUNDLE 0 1 2\r?$/m.test(s.offer), 'the offer bundles mids 0 1 2', (s.offer.match(/^a=group:.*/m) || [])[0]);
  check(/^m=audio 9 UDP\/TLS\/RTP\/SAVPF 111\r?$/m.test(s.offer) && /^m=video 9 UDP\/TLS\/RTP\/SAVPF 96 97\r?$/m.test(s.offer) &&
    /^m=application 9 UDP\/DTLS\/SCTP webrtc-datachannel\r?$/m.test(s.offer), 'the offer\'s m-lines are as documented');
  check(s.candidatesIn > 0, 'candidates from the doctor arrived', s.candidatesIn);
  log('doctor candidates', s.candidatesIn, 'of them before the offer was applied', s.candidatesEarly,
    'end-of-candidates', s.endOfCandidatesIn, '; ours', s.candidatesOut);
  check(s.candidatesBeforeAnswer > 0, 'our candidates went out before our answer', s.candidatesBeforeAnswer);
  await waitLine(/^state: connected$/, 'the doctor connected');

  // docs/signaling.md "Verification code", computed from the two SDPs here.
  const fps = [s.offer, s.answer].map((x) => /^a=fingerprint:sha-256 (\S+)/m.exec(x)[1].toUpperCase()).sort();
  const digest = crypto.createHash('sha256').update(fps.join(' '), 'ascii').digest();
  const code = String(digest.readUInt32BE(0) % 1000000).padStart(6, '0');
  const verify = await waitLine(/^verify: /, 'the doctor\'s verification code');
  check(verify === `verify: ${code.slice(0, 3)} ${code.slice(3)}`, 'the verification code as the document computes it', [verify, code]);

  await step('video from the doctor is decoded', async () => {
    const frames = () => page.evaluate(async () => {
      const st = await window.pc.getStats();
      let v = null, a = null;
      st.forEach((r) => {
        if (r.type !== 'inbound-rtp') return;
        const codec = r.codecId && st.get(r.codecId) ? st.get(r.codecId).mimeType : '';
        if (r.kind === 'video') v = { framesDecoded: r.framesDecoded || 0, codec };
        if (r.kind === 'audio') a = { packets: r.packetsReceived || 0, codec };
      });
      return { v, a };
    });
    await lib.until(async () => { const f = await frames(); return f.v && f.v.framesDecoded > 0; }, STEP_MS, 'frames');
    const f1 = await frames();
    await new Promise((r) => setTimeout(r, 2000));
    const f2 = await frames();
    log('inbound', JSON.stringify(f1), '->', JSON.stringify(f2));
    check(f2.v.framesDecoded > f1.v.framesDecoded + 10, 'framesDecoded grows', [f1.v, f2.v]);
    check(/VP8/i.test(f2.v.codec), 'video is VP8', f2.v.codec);
    check(f2.a && f2.a.packets > f1.a.packets && /opus/i.test(f2.a.codec), 'Opus audio arrives', [f1.a, f2.a]);
  });

  await step('chat both ways on "chat"', async () => {
    await until((x) => x.chatIn.length > 0, 'the doctor\'s chat');
    s = await seen();
    check(s.chatIn[0] === DOCTOR_SAYS, 'the doctor\'s text arrives exactly', s.chatIn);
    const line = await waitLine(/^chat: /, 'chat: on the doctor\'s stdout');
    check(line === 'chat: ' + PATIENT_SAYS, 'the doctor\'s stdout shows the page\'s text', line);
    await new Promise((r) => setTimeout(r, 500));
    const n = lib.tail(mc.logPath, 100000).split('\n').filter((l) => /^chat: /.test(l)).length;
    check(n === 1, 'once', n);
  });

  await step('the doctor\'s state on "control"', async () => {
    await until((x) => x.controlIn.length > 0, 'a control message');
    s = await seen();
    const st = JSON.parse(s.controlIn[0]);
    check(st.type === 'state' && st.mic === true && st.camera === true, 'state says mic and camera on', st);
    await waitLine(/^peer: mic off camera off$/, 'our state on the doctor\'s stdout');
  });

  await step('the patient leaves; the doctor\'s app stays', async () => {
    await page.evaluate(() => window.sendSignal({ type: 'leave' }));
    await until((x) => x.ended, 'ended');
    s = await seen();
    check(s.ended === 'left', 'ended with reason left', s.ended);
    await waitLine(/^away: the patient left; waiting for /, 'the doctor saying the patient left');
    await new Promise((r) => setTimeout(r, 1000));
    check(mc.exitCode === null, 'the doctor\'s app still runs (the room stays open)');
  });

  await step('the patient knocks again on the same connection and is in a new call', async () => {
    await page.evaluate(() => { window.seen.ended = null; window.seen.state = 'new'; window.knockAgain(); });
    await until((x) => x.admitted === 2 && x.state === 'connected', 'the second call connected');
    s = await seen();
    check(s.errors.length === 0 && s.closed === undefined, 'no errors, the WebSocket still open', s.errors);
  });

  await step('the doctor quits: the room ends for the patient', async () => {
    mc.kill('SIGINT');
    const end = await lib.exitWithin(mc, 10000);
    check(end.code === 0, 'the doctor\'s app ends cleanly on SIGINT', end);
    await until((x) => x.ended && x.closed !== undefined, 'ended and the WebSocket closed');
    s = await seen();
    check(s.ended === 'ended-by-doctor', 'the patient gets ended-by-doctor', s.ended);
    check(!(await lib.tcpOpen(Number(port))), 'the built-in server is gone with the app');
  });
}

async function cleanup() { await lib.closeAll(browser); }

lib.runTest(main, cleanup, 150000, 'third-party client');
