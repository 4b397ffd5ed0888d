// Browser interop test (issue 3 item 7): the real medcall-server, a real
// coturn, and headless Chromium. One page is the doctor, speaking the protocol
// of docs/signaling.md from page JavaScript; the other is the patient page
// (assets/web/room.html) opened at the room link like a patient would.
//
// Scenario "check-direct": the pre-call check (camera, relay candidate through
// coturn), a keyboard join, the waiting room, admission, a direct call, video
// and audio flowing both ways, chat both ways, a third visitor refused, the
// doctor ends the room.
// Scenario "autojoin-relay": #autojoin=1 straight to the waiting room, the
// doctor forced through the relay (iceTransportPolicy "relay"), the selected
// candidate pair checked in getStats(), media and chat, the patient hangs up.
//
// Run by run.sh inside a private network namespace holding only lo, so nothing
// can reach the machine's external address. Env: MEDCALL_SERVER (binary),
// MEDCALL_WEB_ROOT (assets/web), CHROMIUM (default /usr/bin/chromium),
// INTEROP_SCENARIOS (default: both), INTEROP_KEEP=1 keeps the temp dir.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const SERVER = process.env.MEDCALL_SERVER;
const WEB_ROOT = process.env.MEDCALL_WEB_ROOT;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCENARIOS = (process.env.INTEROP_SCENARIOS || 'check-direct autojoin-relay').split(/\s+/).filter(Boolean);

// Generous liveness bounds: a step that has not happened by then is broken,
// not slow (a connected loopback call shows its first frame in about 0.2 s).
const STEP_MS = 20000;

let tmp = null;
let browser = null;
const turnUsers = []; // TURN REST usernames whose allocation coturn must have accepted
const lib = require('./lib');
const { state, log, check, step, start, tail, until, startCoturn, pageHelpers, doctorClient } = lib;
const startServer = (turnPort, secret) => lib.startServer(SERVER, WEB_ROOT, turnPort, secret);

// ---- the scenarios ----

const DOCTOR_SAYS = 'Bom dia — 1 < 2 & "três" ✓ <b>not bold</b>';
const PATIENT_SAYS = 'Olá doutor, tudo bem? 🙂 <i>x</i>';

async function scenario(name, srv, turn) {
  const relay = name === 'autojoin-relay';
  const withCheck = name === 'check-direct';
  const base = `https://127.0.0.1:${srv.port}`;
  const patientName = withCheck ? 'Ana Lúcia' : 'Bruno';
  log('--- scenario', name);

  // Separate browser contexts: nothing (sessionStorage, cookies) shared.
  const dctx = await browser.createBrowserContext();
  const pctx = await browser.createBrowserContext();
  try {
    const doctor = await dctx.newPage();
    const patient = await pctx.newPage();
    for (const [who, p] of [['doctor', doctor], ['patient', patient]]) {
      p.on('pageerror', (e) => log(who, 'page error:', e.message));
      p.on('console', (m) => { if (m.type() === 'error') log(who, 'console:', m.text()); });
      await p.evaluateOnNewDocument(pageHelpers);
    }

    // The doctor creates a room over WSS.
    await doctor.goto(base + '/');
    await doctor.evaluate(doctorClient, { relay });
    const created = await step('doctor creates a room', async () => {
      await doctor.evaluate(() => window.D.send({ type: 'create' }));
      await doctor.waitForFunction(() => window.D.msgs.some((m) => m.type === 'created'), { timeout: STEP_MS });
      return doctor.evaluate(() => window.D.msgs.find((m) => m.type === 'created'));
    });
    const room = created.room;
    check(/^[A-Za-z0-9_-]{22}$/.test(room) && created.link === `${base}/r/${room}` && created.role === 'doctor',
      'created: 22-character room id, link on this server', { link: created.link.replace(room, '<room>'), role: created.role });

    // The patient opens the link.
    const frag = withCheck ? `#name=${encodeURIComponent(patientName)}`
      : `#name=${encodeURIComponent(patientName)}&autojoin=1`;
    const resp = await patient.goto(created.link + frag);
    check(resp.status() === 200 && /no-referrer/.test(resp.headers()['referrer-policy'] || ''),
      'room link serves the patient page (200, Referrer-Policy no-referrer)', { status: resp.status() });

    if (withCheck) {
      await step('pre-call check shows the relay as working', () => patient.waitForFunction(
        () => !/checking/.test(document.getElementById('relay-status').textContent), { timeout: STEP_MS }));
      const pre = await patient.evaluate(() => ({
        state: document.body.dataset.state,
        relay: document.getElementById('relay-status').textContent,
        cam: document.getElementById('cam-status').textContent,
        name: document.getElementById('name').value,
        preview: document.getElementById('preview').videoWidth,
      }));
      check(pre.state === 'check', 'page opens on the pre-call check', pre);
      check(pre.relay === 'Connection through the relay server: working.',
        'pre-call check gathered a relay candidate through coturn', pre.relay);
      check(pre.cam === 'Camera and microphone: working.', 'pre-call check: camera and microphone working', pre.cam);
      check(pre.name === patientName, 'name prefilled from #name= (UTF-8)', pre.name);
      const checkIce = await patient.evaluate(() => window.medcall.iceServers);
      // Issue 14: the check's credentials live 5 minutes and name the room
      // by its tag, never by its id (docs/signaling.md "ice").
      const checkLife = checkIce.length === 1 ? parseInt(checkIce[0].username, 10) - Date.now() / 1000 : 0;
      check(checkIce.length === 1 && /^\d+:medcall-precall-[0-9a-f]{8}-[0-9a-f]{8}$/.test(checkIce[0].username) &&
        checkLife > 240 && checkLife <= 310,
      'pre-call check got short-lived TURN REST credentials of its own', { urls: checkIce.map((s) => s.urls), s: checkLife });
      turnUsers.push(checkIce[0].username);
      await step('camera preview plays', () => patient.waitForFunction(
        () => document.getElementById('preview').videoWidth > 0, { timeout: STEP_MS }));
      await step('microphone meter moves', () => patient.waitForFunction(
        () => document.getElementById('mic-level').value > 0, { timeout: STEP_MS }));
      // Join with the keyboard alone: Enter in the name field.
      await patient.focus('#name');
      await patient.keyboard.press('Enter');
    }

    await step('patient reaches the waiting room', () => patient.waitForFunction(
      () => document.body.dataset.state === 'waiting', { timeout: STEP_MS }));
    const waitingText = await patient.$eval('#waiting-text', (e) => e.textContent);
    check(/has been told you are here/.test(waitingText), 'waiting screen says the doctor was told', waitingText);

    await step('doctor is told of the knock', () => doctor.waitForFunction(
      () => window.D.msgs.some((m) => m.type === 'knock'), { timeout: STEP_MS }));
    const knock = await doctor.evaluate(() => window.D.msgs.find((m) => m.type === 'knock'));
    check(knock.name === patientName, 'knock carries the patient name exactly', knock.name);
    // Still waiting: nothing happens until the doctor admits.
    check(await patient.evaluate(() => document.body.dataset.state === 'waiting' && !window.medcall.pc),
      'patient waits (no peer connection) until admitted');

    await doctor.evaluate(() => window.D.send({ type: 'admit' }));
    const admitted = await step('both peers are admitted', async () => {
      await doctor.waitForFunction(() => window.D.msgs.some((m) => m.type === 'admitted'), { timeout: STEP_MS });
      await patient.waitForFunction(() => document.body.dataset.state === 'call', { timeout: STEP_MS });
      return doctor.evaluate(() => window.D.msgs.find((m) => m.type === 'admitted'));
    });
    const ice = admitted.ice_servers && admitted.ice_servers[0];
    check(admitted.offerer === true && ice && ice.urls.includes(`turn:127.0.0.1:${turn.port}?transport=udp`) &&
      /^\d+:medcall-doctor-[0-9a-f]{8}$/.test(ice.username) && typeof ice.credential === 'string',
    'doctor admitted as offerer with TURN REST credentials for this coturn', { offerer: admitted.offerer, urls: ice && ice.urls });
    if (relay) turnUsers.push(ice.username);
    // The call itself uses the patient's credentials from admitted, not the
    // pre-call check's short-lived ones.
    const callIce = await patient.evaluate(() => window.medcall.iceServers);
    check(callIce.length === 1 && /^\d+:medcall-patient-[0-9a-f]{8}$/.test(callIce[0].username),
      'the patient page calls with its own credentials from admitted', callIce.map((s) => s.urls));

    // ICE + DTLS: both ends connected.
    await step('connectionState connected on both sides', async () => {
      await doctor.waitForFunction(() => window.D.pc && window.D.pc.connectionState === 'connected', { timeout: STEP_MS });
      await patient.waitForFunction(() => window.medcall.pc && window.medcall.pc.connectionState === 'connected',
        { timeout: STEP_MS });
    });

    // The selected candidate pair, from each side's getStats().
    const want = relay ? 'relayed' : 'direct';
    await step(`patient page shows "${want}"`, () => patient.waitForFunction(
      (w) => window.medcall.connection === w, { timeout: STEP_MS }, want));
    // Chromium reports a selected pair as in-progress while a check on it is
    // outstanding (more often through a relay): wait for both to settle.
    await doctor.waitForFunction(() => window.__t.pair(window.D.pc).then((p) => p && p.state === 'succeeded'),
      { timeout: STEP_MS, polling: 200 }).catch(() => {});
    await patient.waitForFunction(() => window.__t.pair(window.medcall.pc).then((p) => p && p.state === 'succeeded'),
      { timeout: STEP_MS, polling: 200 }).catch(() => {});
    const dPair = await doctor.evaluate(() => window.__t.pair(window.D.pc));
    const pPair = await patient.evaluate(() => window.__t.pair(window.medcall.pc));
    log('doctor pair', JSON.stringify(dPair));
    log('patient pair', JSON.stringify(pPair));
    check(dPair && dPair.state === 'succeeded' && pPair && pPair.state === 'succeeded',
      'selected candidate pairs succeeded on both sides', { d: dPair && dPair.state, p: pPair && pPair.state });
    if (relay) {
      check(dPair.local.type === 'relay' && dPair.local.relayProtocol === 'udp' &&
        dPair.local.address === '127.0.0.1' && dPair.local.port >= 40000 && dPair.local.port <= 49999 &&
        dPair.local.url === `turn:127.0.0.1:${turn.port}?transport=udp`,
      'doctor sends through a coturn relay allocation (local candidate relay/udp)', dPair.local);
      check(pPair.remote.type === 'relay' && pPair.remote.port === dPair.local.port,
        "patient's selected remote candidate is the doctor's relay address", pPair.remote);
    } else {
      check(dPair.local.type === 'host' && dPair.remote.type === 'host' &&
        pPair.local.type === 'host' && pPair.remote.type === 'host',
      'direct call: host-to-host pair on both sides', { d: dPair, p: pPair });
      check(dPair.local.address === '127.0.0.1' && pPair.local.address === '127.0.0.1',
        'host candidates are loopback (private namespace)', { d: dPair.local.address, p: pPair.local.address });
    }
    const connText = await patient.$eval('#conn', (e) => e.textContent);
    check(connText === (relay ? 'Connected through a relay server.' : 'Connected directly.'),
      'connection indicator text', connText);

    // Media flowing: frames decoded keep growing, the video elements have a
    // size, audio packets arrive, and the picture is not black and moves.
    const dIn0 = await doctor.evaluate(() => window.__t.inbound(window.D.pc));
    const pIn0 = await patient.evaluate(() => window.__t.inbound(window.medcall.pc));
    await step('patient decodes the doctor video (framesDecoded +30)', () => patient.waitForFunction(
      (f0) => window.__t.inbound(window.medcall.pc).then((s) => s.video && s.video.framesDecoded >= f0 + 30),
      { timeout: STEP_MS, polling: 200 }, (pIn0.video && pIn0.video.framesDecoded) || 0));
    await step('doctor decodes the patient video (framesDecoded +30)', () => doctor.waitForFunction(
      (f0) => window.__t.inbound(window.D.pc).then((s) => s.video && s.video.framesDecoded >= f0 + 30),
      { timeout: STEP_MS, polling: 200 }, (dIn0.video && dIn0.video.framesDecoded) || 0));
    await step('audio packets arrive both ways', async () => {
      await patient.waitForFunction((a0) => window.__t.inbound(window.medcall.pc).then((s) => s.audio && s.audio.packetsReceived > a0 + 20),
        { timeout: STEP_MS, polling: 200 }, (pIn0.audio && pIn0.audio.packetsReceived) || 0);
      await doctor.waitForFunction((a0) => window.__t.inbound(window.D.pc).then((s) => s.audio && s.audio.packetsReceived > a0 + 20),
        { timeout: STEP_MS, polling: 200 }, (dIn0.audio && dIn0.audio.packetsReceived) || 0);
    });
    await step('remote <video> elements have a size', async () => {
      await patient.waitForFunction(() => document.getElementById('remote').videoWidth > 0, { timeout: STEP_MS });
      await doctor.waitForFunction(() => document.getElementById('doctor-remote').videoWidth > 0, { timeout: STEP_MS });
    });
    const pIn = await patient.evaluate(() => window.__t.inbound(window.medcall.pc));
    log('patient inbound', JSON.stringify(pIn));
    const f1 = await patient.evaluate(() => window.__t.frame(document.getElementById('remote')));
    await new Promise((r) => setTimeout(r, 500));
    const f2 = await patient.evaluate(() => window.__t.frame(document.getElementById('remote')));
    const fd = await doctor.evaluate(() => window.__t.frame(document.getElementById('doctor-remote')));
    log('frames', JSON.stringify({ patientSees: [f1, f2], doctorSees: fd }));
    // The doctor sends 640x480; Chromium's sender may scale it down while its
    // bandwidth estimate ramps up from 300 kbit/s, never up or out of 4:3.
    check(f1.w >= 160 && f1.w <= 640 && f1.w * 3 === f1.h * 4, 'patient sees the doctor camera (4:3, 160..640 wide)',
      { w: f1.w, h: f1.h });
    check(f1.mean > 16 && f1.sd > 4 && f1.brightShare > 0.05, 'remote frame on the patient page is not black', f1);
    check(f1.hash !== f2.hash, 'remote picture changes over time (live, not frozen)', { h1: f1.hash, h2: f2.hash });
    check(fd.w > 0 && fd.mean > 16 && fd.sd > 4, 'remote frame on the doctor page is not black', fd);

    // Chat over the data channel, both ways, received exactly.
    await step('data channel open on the patient page', () => patient.waitForFunction(
      () => !document.getElementById('chat-input').disabled, { timeout: STEP_MS }));
    await doctor.waitForFunction(() => window.D.dc.readyState === 'open', { timeout: STEP_MS });
    await doctor.evaluate((t) => window.D.dc.send(t), DOCTOR_SAYS);
    await step('patient receives the doctor chat', () => patient.waitForFunction(
      () => window.medcall.chat.some((c) => c.who === 'Doctor'), { timeout: STEP_MS }));
    const pChat = await patient.evaluate(() => ({
      chat: window.medcall.chat,
      li: [...document.querySelectorAll('#chat-log li')].map((li) => ({ text: li.textContent, tags: li.querySelectorAll('b,i').length })),
    }));
    check(pChat.chat.length === 1 && pChat.chat[0].text === DOCTOR_SAYS,
      'patient got the doctor text exactly, once', pChat.chat);
    check(pChat.li.length === 1 && pChat.li[0].text === 'Doctor:' + DOCTOR_SAYS && pChat.li[0].tags === 0,
      'chat log shows it as text, not markup', pChat.li);
    // The patient types (keyboard) and sends with Enter.
    await patient.focus('#chat-input');
    await patient.keyboard.type(PATIENT_SAYS);
    await patient.keyboard.press('Enter');
    await step('doctor receives the patient chat', () => doctor.waitForFunction(
      () => window.D.chat.length >= 1, { timeout: STEP_MS }));
    await new Promise((r) => setTimeout(r, 200)); // anything extra would show now
    const dChat = await doctor.evaluate(() => window.D.chat);
    check(dChat.length === 1 && dChat[0] === PATIENT_SAYS, 'doctor got the patient text exactly, once', dChat);
    const pChat2 = await patient.evaluate(() => window.medcall.chat);
    check(pChat2.length === 2 && pChat2[1].who === 'You' && pChat2[1].text === PATIENT_SAYS,
      'patient log shows its own message', pChat2);

    if (withCheck) {
      // Camera off: the doctor sees black where the patient was; on again:
      // the picture returns. Mute: the sound energy reaching the doctor stops
      // growing; unmute: it grows again.
      const doctorView = () => doctor.evaluate(() => window.__t.frame(document.getElementById('doctor-remote')));
      await patient.click('#camera');
      await step('doctor sees black while the patient camera is off', () => doctor.waitForFunction(
        () => { const f = window.__t.frame(document.getElementById('doctor-remote')); return f.w > 0 && f.mean < 8 && f.brightShare < 0.01; },
        { timeout: STEP_MS, polling: 200 }));
      const camBtn = await patient.$eval('#camera', (b) => ({ pressed: b.getAttribute('aria-pressed'), text: b.textContent }));
      check(camBtn.pressed === 'true' && camBtn.text === 'Camera on', 'camera button shows its state', camBtn);
      await patient.click('#camera');
      await step('the picture returns when the camera is on again', () => doctor.waitForFunction(
        () => { const f = window.__t.frame(document.getElementById('doctor-remote')); return f.mean > 16 && f.sd > 4; },
        { timeout: STEP_MS, polling: 200 }));
      log('doctor sees after camera on', JSON.stringify(await doctorView()));

      // The loudest sample reaching the doctor over a window, read from the
      // remote stream through Web Audio (the fake microphone beeps).
      const loudest = (ms) => doctor.evaluate((ms) => new Promise((resolve) => {
        if (!window.__an) {
          const ctx = window.__ctx = new AudioContext();
          const an = window.__an = ctx.createAnalyser();
          an.fftSize = 2048;
          ctx.createMediaStreamSource(document.getElementById('doctor-remote').srcObject).connect(an);
        }
        window.__ctx.resume();
        const buf = new Float32Array(window.__an.fftSize);
        let peak = 0;
        const iv = setInterval(() => {
          window.__an.getFloatTimeDomainData(buf);
          for (const v of buf) peak = Math.max(peak, Math.abs(v));
        }, 20);
        setTimeout(() => { clearInterval(iv); resolve(peak); }, ms);
      }), ms);
      const live = await loudest(2500);
      await patient.click('#mute');
      await new Promise((r) => setTimeout(r, 500)); // what was in flight arrives
      const muted = await loudest(2500);
      const muteBtn = await patient.$eval('#mute', (b) => ({ pressed: b.getAttribute('aria-pressed'), text: b.textContent }));
      await patient.click('#mute');
      await new Promise((r) => setTimeout(r, 500));
      const back = await loudest(2500);
      log('loudest sample at the doctor over 2.5 s', JSON.stringify({ live, muted, back }));
      check(live > 0.05 && back > 0.05 && muted < live / 20 && muted < back / 20,
        'mute silences the patient at the doctor, unmute brings the sound back', { live, muted, back });
      check(muteBtn.pressed === 'true' && muteBtn.text === 'Unmute', 'mute button shows its state', muteBtn);

      // A third visitor with the same link knocks; the doctor hears of it
      // (the call goes on) and declines; the visitor is told in words.
      const third = await pctx.newPage();
      await third.goto(created.link + '#name=Eve&autojoin=1');
      await step('a third visitor knocks', () => doctor.waitForFunction(
        () => window.D.msgs.filter((m) => m.type === 'knock').length === 2, { timeout: STEP_MS, polling: 100 }));
      const eve = await doctor.evaluate(() => window.D.msgs.filter((m) => m.type === 'knock')[1]);
      check(eve.name === 'Eve' && eve.returning === false && typeof eve.knock === 'string',
        'third visitor: a knock with its own id, not returning', eve);
      await doctor.evaluate((id) => window.D.send({ type: 'decline', knock: id }), eve.knock);
      await step('the third visitor is told it was declined', () => third.waitForFunction(
        () => document.body.dataset.state === 'end', { timeout: STEP_MS, polling: 100 }));
      const refusal = await third.$eval('#end-text', (e) => e.textContent);
      check(refusal === 'The doctor could not let you in now.', 'third visitor: declined, shown in words', refusal);
      const stillIn = await patient.evaluate(() => ({ state: document.body.dataset.state, pc: window.medcall.pc.connectionState }));
      check(stillIn.state === 'call' && stillIn.pc === 'connected', 'the patient in the call is not disturbed', stillIn);
      await third.close();

      // The doctor ends the room: the patient sees the end screen.
      await doctor.evaluate(() => window.D.send({ type: 'end' }));
      await step('patient shows the end screen', () => patient.waitForFunction(
        () => document.body.dataset.state === 'end', { timeout: STEP_MS }));
      const endText = await patient.$eval('#end-text', (e) => e.textContent);
      check(endText === 'The doctor ended the consultation.', 'end screen reason', endText);
      await doctor.waitForFunction(() => window.D.msgs.some((m) => m.type === 'ended'), { timeout: STEP_MS });
      const ended = await doctor.evaluate(() => window.D.msgs.find((m) => m.type === 'ended'));
      check(ended.reason === 'ended-by-doctor', 'doctor gets ended (ended-by-doctor)', ended);
    } else {
      // The patient hangs up with the button.
      await patient.click('#hangup');
      await step('doctor is told the patient left', () => doctor.waitForFunction(
        () => window.D.msgs.some((m) => m.type === 'peer-left'), { timeout: STEP_MS }));
      const left = await doctor.evaluate(() => window.D.msgs.find((m) => m.type === 'peer-left'));
      check(left.role === 'patient' && left.reason === 'left', 'peer-left {role: patient, reason: left}', left);
      const endText = await patient.$eval('#end-text', (e) => e.textContent);
      check(endText === 'You left the consultation.', 'patient end screen after hanging up', endText);
    }
    const dErr = await doctor.evaluate(() => window.D.errors.concat(window.D.msgs.filter((m) => m.type === 'error')
      .map((m) => m.code)));
    check(dErr.length === 0, 'no protocol or WebRTC errors on the doctor side', dErr);
  } finally {
    await dctx.close().catch(() => {});
    await pctx.close().catch(() => {});
  }
}

async function cleanup() {
  if (browser) { await browser.close().catch(() => {}); browser = null; }
  for (const p of state.children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  if (tmp && !process.env.INTEROP_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
}

async function main() {
  if (!SERVER || !WEB_ROOT) throw new Error('MEDCALL_SERVER and MEDCALL_WEB_ROOT must be set');
  tmp = state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-interop-'));
  const secret = crypto.randomBytes(24).toString('base64');
  const turn = await startCoturn(secret);
  const srv = await startServer(turn.port, secret);

  browser = await lib.launchChromium(puppeteer, CHROMIUM, srv.spki, ['--autoplay-policy=no-user-gesture-required']);

  for (const s of SCENARIOS) await scenario(s, srv, turn);

  // Clean shutdown on SIGTERM (docs/server.md: exit status 0).
  await browser.close(); browser = null;
  srv.proc.kill('SIGTERM');
  const ex = await Promise.race([srv.proc.exited, new Promise((r) => setTimeout(() => r({ code: 'hung' }), 10000))]);
  check(ex.code === 0, 'medcall-server exits 0 on SIGTERM', ex);
  // coturn's own word that it accepted the server-issued credentials of the
  // pre-call check and of the relayed call.
  const coturnLog = fs.readFileSync(turn.proc.logPath, 'utf8');
  for (const u of turnUsers) {
    check(coturnLog.includes(`user <${u}>: incoming packet ALLOCATE processed, success`),
      'coturn accepted the allocation of ' + u.replace(/^\d+:/, 'EXPIRY:'));
  }
}

lib.runTest(main, cleanup, 170000, SCENARIOS.join(' '));
