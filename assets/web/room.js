// The patient page: pre-call check, waiting room, call, end. Plain browser
// JavaScript, no build step. Speaks the protocol of docs/signaling.md over
// wss://HOST/ws. Role-agnostic where it can be: the peer with "offerer" makes
// the offer (the doctor, per the protocol).
//
// Interruptions are ridden out, not ended (docs/app.md "Coming back"): the
// session is kept in sessionStorage, so a reload resumes it; the WebSocket
// is reopened with backoff for as long as the call lasts while the
// RTCPeerConnection goes on; a doctor who started over (a restarted app)
// gets a new RTCPeerConnection. Only the doctor ends the consultation.
//
// Its words are in Korean and English (i18n.js, loaded first): each string
// is set by key with put(), so the language switch redraws all of them; a
// server error is said from its code, never in the server's English.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const room = (location.pathname.match(/^\/r\/([A-Za-z0-9_-]{22,64})$/) || [])[1];
  const frag = new URLSearchParams(location.hash.slice(1));
  // Every word the page shows comes from i18n.js, by key (written out here
  // so tests/interop/page_catalogs.js finds each one).
  const put = window.I18N.put;
  // Why it ended (docs/signaling.md "ended", and the page's own reasons).
  const REASONS = {
    'ended-by-doctor': 'end.reason.ended-by-doctor',
    'left': 'end.reason.left',
    'expired': 'end.reason.expired',
    'doctor-gone': 'end.reason.doctor-gone',
    'resumed-elsewhere': 'end.reason.resumed-elsewhere',
    'server-shutdown': 'end.reason.server-shutdown',
    'replaced': 'end.reason.replaced',
    'declined': 'end.reason.declined',
    'connection-lost': 'end.reason.connection-lost',
  };
  // docs/signaling.md "error": each code as the page's own sentence; the
  // server's English `message` is never shown.
  const ERRORS = {
    'bad-json': 'error.bad-json',
    'bad-version': 'error.bad-version',
    'unknown-type': 'error.unknown-type',
    'bad-field': 'error.bad-field',
    'too-big': 'error.too-big',
    'rate-limited': 'error.rate-limited',
    'unauthorized': 'error.unauthorized',
    'no-room': 'error.no-room',
    'room-full': 'error.room-full',
    'not-admitted': 'error.not-admitted',
    'wrong-state': 'error.wrong-state',
    'not-doctor': 'error.not-doctor',
    'unknown-session': 'error.unknown-session',
    'server-busy': 'error.server-busy',
  };
  // Who said a chat line or sent a file (st.chat keeps the English id).
  const WHO = { Doctor: 'chat.who.doctor', You: 'chat.who.you' };

  // Exposed for automated tests and kiosks; nothing here is secret beyond
  // what the page itself holds.
  const st = window.medcall = {
    state: 'loading', ws: null, session: null, grace: 30, iceServers: [], offerer: false, name: '',
    doctorPresent: true, resets: 0,
    pc: null, dc: null, local: null, pendingCandidates: [], remoteSet: false,
    connection: 'none', chat: [], closing: false,
    // Data channels (docs/signaling.md "Data channels"): the verification
    // code once connected, the doctor's announced state, files both ways.
    control: null, verification: null, peerState: null, peerName: '', files: [],
  };
  const FILE_MAX = 64 * 1024 * 1024;
  // What the doctor's side may make this page hold: files arriving at once,
  // and bytes of received files in memory (a Blob each, until the page
  // closes); the chat lines kept on the page.
  const FILES_AT_ONCE = 4;
  const FILES_HELD_MAX = 256 * 1024 * 1024;
  const CHAT_KEEP = 200;
  // Characters that move a cursor, reorder a line (bidi) or hide in it
  // (format characters, Hangul fillers): the same set as the app's
  // mc_char_is_hidden (src/util/text.c).
  const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\u{110bd}\u{110cd}\u{13430}-\u{1343f}\u{1bca0}-\u{1bca3}\u{1d173}-\u{1d17a}\u{e0001}\u{e0020}-\u{e007f}]/gu;
  const FILE_CHUNK = 16 * 1024;
  const FILE_HIGH = 1024 * 1024;
  const FILE_LOW = 256 * 1024;
  const FILE_CONFIRM_WAIT = 10000;

  function show(state) {
    st.state = state;
    document.body.dataset.state = state;
    for (const s of ['check', 'waiting', 'call', 'end']) $(s).hidden = s !== state;
    const h = $(state) && $(state).querySelector('h2');
    if (h && !h.classList.contains('visually-hidden')) { h.tabIndex = -1; h.focus(); }
  }

  function alertText(key, params) {
    put($('alert'), key, params);
    $('alert').hidden = !key;
  }

  // The session of this tab (a reload keeps it; another tab has its own).
  const KEY = 'medcall:' + room;
  function storeSession(session, name) {
    try {
      if (session) sessionStorage.setItem(KEY, JSON.stringify({ session, name }));
      else sessionStorage.removeItem(KEY);
    } catch (e) { /* private mode: no resume after a reload */ }
  }
  function storedSession() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || 'null'); } catch (e) { return null; }
  }

  // A duplicated tab copies sessionStorage: it must not take the call from
  // the tab that holds it (the doctor decides who is in the call), so it
  // asks first and knocks instead when the session is in use.
  const tabs = window.BroadcastChannel ? new BroadcastChannel(KEY) : null;
  if (tabs) tabs.onmessage = (ev) => {
    if (ev.data && ev.data.type === 'who' && st.session && ev.data.session === st.session && st.state !== 'end')
      tabs.postMessage({ type: 'mine', session: st.session });
  };
  function sessionInUse(session) {
    if (!tabs) return Promise.resolve(false);
    return new Promise((resolve) => {
      const t = setTimeout(() => { tabs.removeEventListener('message', on); resolve(false); }, 300);
      const on = (ev) => {
        if (ev.data && ev.data.type === 'mine' && ev.data.session === session) {
          clearTimeout(t); tabs.removeEventListener('message', on); resolve(true);
        }
      };
      tabs.addEventListener('message', on);
      tabs.postMessage({ type: 'who', session });
    });
  }

  // What is happening, in words (a live region): reconnecting to the
  // server, the connection lost and tried again, the doctor away.
  function notice(key) {
    put($('notice'), key);
    $('notice').hidden = !key;
  }

  function finish(reason) {
    if (st.state === 'end') return;
    st.closing = true;
    storeSession(null);
    if (st.pc) st.pc.close();
    if (st.local) st.local.getTracks().forEach((t) => t.stop());
    put($('end-text'), REASONS[reason] || 'end.reason.other');
    show('end');
    if (st.ws) st.ws.close();
  }

  // ---- signaling ----
  function send(msg) {
    msg.v = 1;
    if (st.ws && st.ws.readyState === WebSocket.OPEN) st.ws.send(JSON.stringify(msg));
  }

  let retries = 0, retryTimer = null, knockTimer = null;
  // Reconnects with backoff (1, 2, 4, 8 s, then every 10 s, with jitter)
  // and resumes: while waiting or in a call, for as long as it lasts.
  function reconnect(delayMs) {
    if (retryTimer || st.closing || st.state === 'end') return;
    const ms = delayMs != null ? delayMs : Math.min(10000, 1000 * Math.pow(2, Math.min(retries, 4)));
    retries++;
    retryTimer = setTimeout(() => { retryTimer = null; connect(resumeOrJoin); }, ms + Math.random() * 500);
  }

  // After a reconnection: our session back (fresh when this page holds no
  // peer connection for it), or a new knock when it is gone.
  function resumeOrJoin() {
    if (st.session) send({ type: 'resume', session: st.session, fresh: !st.pc });
    else if (st.name) send({ type: 'join', room, name: st.name });
  }

  function connect(onopen) {
    const ws = new WebSocket('wss://' + location.host + '/ws');
    st.ws = ws;
    ws.onopen = () => { retries = 0; onopen(); };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.v !== 1) return;
      const h = handlers[m.type];
      if (h) h(m);
    };
    ws.onclose = () => {
      if (ws !== st.ws || st.closing || st.state === 'end') return;
      if (st.session && (st.state === 'call' || st.state === 'waiting')) {
        // docs/signaling.md "Reconnecting": the place is kept; the call
        // itself does not need the server.
        if (st.state === 'call') notice('notice.reconnecting');
        else alertText('alert.reconnecting');
        reconnect();
      } else if (st.state === 'check' || st.state === 'loading') {
        alertText('alert.unreachable');
      } else {
        finish('connection-lost');
      }
    };
  }

  const handlers = {
    'ice-servers': (m) => { st.iceServers = m.ice_servers || []; relayCheck(); },
    'waiting': (m) => {
      clearTimeout(knockTimer);
      knockTimer = null;
      st.session = m.session; st.grace = m.grace || 30;
      storeSession(m.session, st.name);
      alertText(null);
      put($('waiting-text'), m.doctor_present ? 'waiting.told' : 'waiting.not-yet');
      show('waiting');
    },
    'declined': () => finish('declined'),
    'admitted': (m) => startCall(m),
    'resumed': (m) => {
      clearTimeout(knockTimer);
      knockTimer = null;
      alertText(null);
      st.grace = m.grace || st.grace;
      storeSession(st.session, st.name);
      st.doctorPresent = !m.peer || m.peer.present !== false;
      if (m.state === 'admitted' && !st.pc) startCall(m);
      else if (m.state === 'waiting') show('waiting');
      if (st.state === 'call') {
        notice(st.doctorPresent ? (st.pc.connectionState === 'connected' ? null : 'notice.retrying')
          : 'notice.doctor-away');
      }
    },
    'goaway': (m) => {
      // The server is restarting: come back after its hint, resume.
      if (st.state === 'call') notice('notice.reconnecting');
      const ws = st.ws;
      st.ws = null;
      if (ws) ws.close();
      reconnect(typeof m.retry_ms === 'number' && m.retry_ms > 0 && m.retry_ms < 60000 ? m.retry_ms : 1000);
    },
    'offer': async (m) => {
      if (!st.pc) return;
      // An offer from a doctor who started over (a restarted app) carries
      // another certificate: DTLS cannot change it, so a new connection.
      const before = sdpFingerprint(st.pc.remoteDescription && st.pc.remoteDescription.sdp);
      const now = sdpFingerprint(m.sdp);
      if (before && now && before !== now) resetPc();
      await st.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      st.remoteSet = true;
      await flushCandidates();
      const answer = await st.pc.createAnswer();
      await st.pc.setLocalDescription(answer);
      send({ type: 'answer', sdp: st.pc.localDescription.sdp });
    },
    'answer': async (m) => {
      if (!st.pc) return;
      await st.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      st.remoteSet = true;
      await flushCandidates();
    },
    'candidate': (m) => {
      const c = { candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex };
      if (c.sdpMid == null && c.sdpMLineIndex == null) c.sdpMLineIndex = 0;
      if (st.remoteSet) st.pc.addIceCandidate(c).catch(() => {});
      else st.pendingCandidates.push(c);
    },
    'peer-away': () => {
      st.doctorPresent = false;
      if (st.state === 'waiting') put($('waiting-text'), 'waiting.away');
      if (st.pc && st.pc.connectionState !== 'connected') notice('notice.doctor-away');
    },
    'peer-back': (m) => {
      st.doctorPresent = true;
      if (st.state === 'waiting') put($('waiting-text'), 'waiting.told');
      if (!st.pc) return;
      if (m.fresh) {
        // The doctor's app started over: its next offer is for a new connection.
        notice('notice.doctor-back');
        resetPc();
      } else if (st.pc.connectionState !== 'connected') {
        notice('notice.doctor-back');
        if (st.offerer) makeOffer(true);
      }
    },
    'peer-left': () => { notice('notice.peer-left'); },
    'ended': (m) => finish(m.reason),
    'error': (m) => {
      if (m.code === 'unknown-session' && m.ref === 'resume') {
        // Our place is gone (the grace passed, or the room ended): knock
        // again when we know our name; the doctor decides.
        st.session = null;
        storeSession(null);
        if (st.pc) { resetPc(); }
        if (st.name) { send({ type: 'join', room, name: st.name }); show('waiting'); return; }
        show('check');
        send({ type: 'ice', room });
        return;
      }
      if (m.ref === 'ice' && m.code !== 'no-room') {
        // The check is a courtesy (the room hands out a few a minute): the
        // call tries the relay anyway.
        put($('relay-status'), 'check.relay.skipped');
        return;
      }
      if ((m.ref === 'join' && m.code === 'rate-limited') ||
          (m.ref === 'resume' && (m.code === 'rate-limited' || m.code === 'room-full'))) {
        // The room lets a few knocks through at a time, and a knock whose
        // connection dropped gets its place back only if one is free
        // (docs/signaling.md "join", "resume"): knock again in a moment.
        alertText('alert.busy');
        clearTimeout(knockTimer);
        knockTimer = setTimeout(() => {
          knockTimer = null;
          // A connection that dropped meanwhile resumes or knocks by itself.
          if (st.ws && st.ws.readyState === WebSocket.OPEN) resumeOrJoin();
        }, 3000 + Math.random() * 2000);
        return;
      }
      alertText(ERRORS[m.code] || 'error.other', { code: String(m.code).slice(0, 32) });
      if (m.code === 'no-room' || m.code === 'room-full') {
        $('join').disabled = true;
        if (st.state === 'waiting') show('check');
      }
    },
  };

  async function flushCandidates() {
    const list = st.pendingCandidates;
    st.pendingCandidates = [];
    for (const c of list) await st.pc.addIceCandidate(c).catch(() => {});
  }

  // ---- pre-call check ----
  async function getMedia() {
    try {
      st.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
      put($('cam-status'), 'check.camera.working');
    } catch (e) {
      try {
        st.local = await navigator.mediaDevices.getUserMedia({ audio: true });
        put($('cam-status'), 'check.camera.audio-only', { error: e.name });
      } catch (e2) {
        st.local = null;
        put($('cam-status'), 'check.camera.none', { error: e2.name });
      }
    }
    if (st.local) { $('preview').srcObject = st.local; meterLoop(st.local); }
  }

  function meterLoop(stream) {
    if (!stream.getAudioTracks().length || !window.AudioContext) return;
    const ctx = new AudioContext();
    const an = ctx.createAnalyser();
    an.fftSize = 512;
    ctx.createMediaStreamSource(stream).connect(an);
    const buf = new Float32Array(an.fftSize);
    const tick = () => {
      if (st.state !== 'check' && st.state !== 'loading') { ctx.close(); return; }
      an.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const x of buf) sum += x * x;
      $('mic-level').value = Math.min(1, Math.sqrt(sum / buf.length) * 4);
      requestAnimationFrame(tick);
    };
    tick();
  }

  function speakerTest() {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 440;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 1);
    osc.onended = () => ctx.close();
    put($('speaker-status'), 'check.speaker.playing');
  }

  // Gathers candidates through the relay only: a relay candidate proves the
  // TURN server is reachable and accepts our credentials.
  async function relayCheck() {
    const out = $('relay-status');
    const turn = st.iceServers.filter((s) => [].concat(s.urls).some((u) => /^turns?:/.test(u)));
    if (!turn.length) { put(out, 'check.relay.none'); return; }
    // A server with fixed relay credentials gives them only once the doctor
    // lets us in (docs/signaling.md "ice"): nothing to gather with before.
    const usable = turn.filter((s) => s.username && s.credential);
    if (!usable.length) { put(out, 'check.relay.later'); return; }
    const pc = new RTCPeerConnection({ iceServers: usable, iceTransportPolicy: 'relay' });
    let done = false;
    const end = (key) => { if (!done) { done = true; put(out, key); pc.close(); } };
    pc.onicecandidate = (ev) => {
      if (ev.candidate && / typ relay/.test(ev.candidate.candidate)) end('check.relay.working');
      else if (!ev.candidate) end('check.relay.unreachable');
    };
    pc.createDataChannel('check');
    await pc.setLocalDescription(await pc.createOffer());
    setTimeout(() => end('check.relay.no-answer'), 8000);
  }

  // ---- the call ----
  function startCall(m) {
    st.offerer = !!m.offerer;
    st.peerName = (m.peer && typeof m.peer.name === 'string') ? m.peer.name : '';
    st.iceServers = m.ice_servers || st.iceServers;
    createPc();
    $('self').srcObject = st.local;
    $('mute').disabled = !(st.local && st.local.getAudioTracks().length);
    $('camera').disabled = !(st.local && st.local.getVideoTracks().length);
    show('call');
    if (!st.indicatorTimer) st.indicatorTimer = setInterval(updateIndicator, 1000);
  }

  // The peer connection and its channels; the offerer offers at once.
  function createPc() {
    const pc = st.pc = new RTCPeerConnection({ iceServers: st.iceServers || [] });
    st.remoteSet = false;
    st.pendingCandidates = [];
    if (st.local) st.local.getTracks().forEach((t) => pc.addTrack(t, st.local));
    else { pc.addTransceiver('audio', { direction: 'recvonly' }); pc.addTransceiver('video', { direction: 'recvonly' }); }
    pc.ontrack = (ev) => { if (pc === st.pc) $('remote').srcObject = ev.streams[0] || new MediaStream([ev.track]); };
    pc.onicecandidate = (ev) => {
      if (pc !== st.pc) return;
      if (ev.candidate) send({ type: 'candidate', candidate: ev.candidate.candidate, sdpMid: ev.candidate.sdpMid,
                               sdpMLineIndex: ev.candidate.sdpMLineIndex });
      else send({ type: 'candidate', candidate: '' });
    };
    pc.onconnectionstatechange = () => {
      if (pc !== st.pc) return;
      if (pc.connectionState === 'failed' && st.offerer) makeOffer(true);
      if (pc.connectionState === 'connected') { showVerification(); notice(null); }
      if (pc.connectionState === 'disconnected' || pc.connectionState === 'failed') {
        // The doctor restarts the connection (ICE restart) when both are
        // reachable again; until then, say so.
        notice(st.doctorPresent ? 'notice.retrying' : 'notice.doctor-away');
      }
      updateIndicator();
    };
    pc.ondatachannel = (ev) => {
      if (pc !== st.pc) { ev.channel.close(); return; }
      if (ev.channel.label === 'chat') setupChat(ev.channel);
      else if (ev.channel.label === 'file') receiveFile(ev.channel);
      else ev.channel.close();
    };
    // Pre-negotiated on both sides, so it exists before the offer/answer.
    setupControl(pc.createDataChannel('control', { negotiated: true, id: 1 }));
    if (st.offerer) { setupChat(pc.createDataChannel('chat')); makeOffer(false); }
    return pc;
  }

  // The doctor started over: the old connection goes, a new one waits for
  // its offer (the chat log stays).
  function resetPc() {
    const old = st.pc;
    st.resets++;
    st.pc = null;
    if (old) old.close();
    st.peerState = null;
    showPeerState();
    $('verify').hidden = true;
    createPc();
  }

  async function makeOffer(restart) {
    const offer = await st.pc.createOffer({ iceRestart: restart });
    await st.pc.setLocalDescription(offer);
    send({ type: 'offer', sdp: st.pc.localDescription.sdp });
  }

  // "direct" or "relayed" from the selected candidate pair (W3C webrtc-stats).
  async function updateIndicator() {
    const pc = st.pc;
    if (!pc || st.state !== 'call') return;
    if (pc.connectionState !== 'connected') {
      const key = { new: 'call.conn.connecting', connecting: 'call.conn.connecting',
                    disconnected: 'call.conn.interrupted', failed: 'call.conn.failed',
                    closed: 'call.conn.closed' }[pc.connectionState] || 'call.conn.connecting';
      st.connection = pc.connectionState;
      put($('conn'), key);
      return;
    }
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
    if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
    if (!pair) return;
    const l = stats.get(pair.localCandidateId), r = stats.get(pair.remoteCandidateId);
    const relayed = (l && l.candidateType === 'relay') || (r && r.candidateType === 'relay');
    st.connection = relayed ? 'relayed' : 'direct';
    put($('conn'), relayed ? 'call.conn.relayed' : 'call.conn.direct');
  }

  function setupChat(dc) {
    st.dc = dc;
    dc.onopen = () => { $('chat-input').disabled = false; $('chat-send').disabled = false; };
    dc.onclose = () => { $('chat-input').disabled = true; $('chat-send').disabled = true; };
    dc.onmessage = (ev) => { if (typeof ev.data === 'string') addChat('Doctor', ev.data); };
  }

  // ---- verification code (same algorithm as mc_dtls_verification_code) ----
  // Both DTLS fingerprints as the SDPs carry them, upper-cased, sorted, joined
  // by one space; SHA-256; the first four bytes big-endian modulo 1,000,000.
  function sdpFingerprint(sdp) {
    const m = /^a=fingerprint:sha-256 ([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+)[ \t]*\r?$/im.exec(sdp || '');
    return m ? m[1].toUpperCase() : null;
  }

  async function verificationCode(fpA, fpB) {
    const [x, y] = [fpA, fpB].sort();
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(x + ' ' + y)));
    const v = (d[0] * 16777216 + d[1] * 65536 + d[2] * 256 + d[3]) % 1000000;
    const t = String(v).padStart(6, '0');
    return t.slice(0, 3) + ' ' + t.slice(3);
  }

  async function showVerification() {
    const pc = st.pc;
    const a = sdpFingerprint(pc.localDescription && pc.localDescription.sdp);
    const b = sdpFingerprint(pc.remoteDescription && pc.remoteDescription.sdp);
    if (!a || !b) return;
    const code = await verificationCode(a, b);
    if (pc !== st.pc) return;
    st.verification = code;
    $('verify-code').textContent = code;
    $('verify').hidden = false;
  }

  // ---- the doctor's state over "control" ----
  function ourState() {
    const on = (tracks) => tracks.length > 0 && tracks.some((t) => t.enabled);
    return { type: 'state', mic: on(st.local ? st.local.getAudioTracks() : []),
             camera: on(st.local ? st.local.getVideoTracks() : []) };
  }

  function sendState() {
    if (st.control && st.control.readyState === 'open') st.control.send(JSON.stringify(ourState()));
  }

  function setupControl(dc) {
    st.control = dc;
    dc.onopen = () => { sendState(); $('send-file').disabled = false; };
    dc.onclose = () => { $('send-file').disabled = true; };
    dc.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (!m || m.type !== 'state' || typeof m.mic !== 'boolean' || typeof m.camera !== 'boolean') return;
      st.peerState = { mic: m.mic, camera: m.camera, videoPaused: m.videoPaused === true };
      showPeerState();
    };
  }

  function initials(name) {
    const words = String(name || '').trim().split(/\s+/).filter(Boolean);
    if (!words.length) return '';
    const first = Array.from(words[0])[0] || '';
    const last = words.length > 1 ? (Array.from(words[words.length - 1])[0] || '') : '';
    return (first + last).toUpperCase();
  }

  function showPeerState() {
    const p = st.peerState;
    const av = $('avatar');
    const ini = initials(st.peerName);
    $('avatar-initials').textContent = ini;
    av.classList.toggle('person', !ini);
    av.hidden = !p || p.camera;
    $('peer-mic').hidden = !p || p.mic;
    // The doctor's connection is too slow for video (their app paused it):
    // say so, so a still picture is not taken for a broken call.
    $('peer-video-paused').hidden = !p || !p.videoPaused || !p.camera;
  }

  // ---- files over "file" channels ----
  function fileBaseName(name) {
    let n = String(name || '').split(/[\/\\]/).pop().replace(HIDDEN, '');
    n = n.replace(/^[. ]+/, '').replace(/[. ]+$/, '');
    return n || 'file';
  }

  // The header travels as the channel's protocol, at most 256 bytes: a long
  // name is shortened, its extension kept.
  function fileHeader(file) {
    let name = fileBaseName(file.name);
    const enc = new TextEncoder();
    const make = (n) => JSON.stringify({ name: n, size: file.size, mime: file.type || 'application/octet-stream' });
    while (enc.encode(make(name)).length > 256) {
      const dot = name.lastIndexOf('.');
      const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
      const stem = Array.from(name.slice(0, name.length - ext.length));
      if (stem.length <= 1) { name = 'file' + ext; break; }
      name = stem.slice(0, stem.length - 8).join('') + ext;
    }
    return { name, text: make(name) };
  }

  // A size as a parameter of a sentence, said in the page's language.
  function sizeText(n) {
    if (n >= 1048576) return { key: 'file.size.mb', params: { n: (n / 1048576).toFixed(1) } };
    if (n >= 1024) return { key: 'file.size.kb', params: { n: Math.round(n / 1024) } };
    return { key: 'file.size.bytes', params: { n } };
  }

  // who: 'You' or 'Doctor'; a sentence (key, params), or a link to a file.
  function addFileNote(who, key, params, link) {
    const li = document.createElement('li');
    li.className = 'file';
    const w = document.createElement('span');
    w.className = 'who';
    put(w, WHO[who]);
    li.append(w);
    const body = document.createElement('span');
    if (link) {
      const a = document.createElement('a');
      a.href = link.url;
      a.download = link.name;
      a.textContent = link.name;
      const size = sizeText(link.size);
      put(body, size.key, size.params);
      li.append(a, ' (', body, ')');
    } else {
      put(body, key, params);
      li.append(body);
    }
    appendToLog(li);
  }

  function waitLow(dc) {
    return new Promise((resolve) => {
      const done = () => { dc.removeEventListener('bufferedamountlow', done); dc.removeEventListener('close', done); resolve(); };
      dc.addEventListener('bufferedamountlow', done);
      dc.addEventListener('close', done);
    });
  }

  async function sendFile(file) {
    if (!st.pc || st.pc.connectionState !== 'connected') return;
    if (file.size > FILE_MAX) {
      addFileNote('You', 'file.too-big', { name: fileBaseName(file.name) });
      return;
    }
    const h = fileHeader(file);
    const rec = { direction: 'out', name: h.name, size: file.size, sent: 0, done: false, error: null };
    st.files.push(rec);
    const dc = st.pc.createDataChannel('file', { protocol: h.text });
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = FILE_LOW;
    const fail = (key) => {
      if (rec.done || rec.error) return;
      rec.error = key;
      addFileNote('You', key, { name: h.name });
    };
    dc.onclose = () => {
      if (rec.sent === file.size && !rec.error) {
        rec.done = true;
        addFileNote('You', 'file.sent', { name: h.name, size: sizeText(file.size) });
      } else fail('file.send-closed');
    };
    await new Promise((resolve) => { dc.onopen = resolve; dc.addEventListener('close', resolve); });
    try {
      while (rec.sent < file.size && dc.readyState === 'open') {
        const chunk = await file.slice(rec.sent, rec.sent + FILE_CHUNK).arrayBuffer();
        dc.send(chunk);
        rec.sent += chunk.byteLength;
        if (dc.bufferedAmount > FILE_HIGH) await waitLow(dc);
      }
      // Everything handed over. The receiver closes the channel once it has
      // every byte, which is our success; one that does not (older
      // receivers) gets our close 10 s after the last byte left.
      while (dc.readyState === 'open' && dc.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 100));
      if (dc.readyState === 'open') setTimeout(() => { if (dc.readyState === 'open') dc.close(); }, FILE_CONFIRM_WAIT);
    } catch (e) {
      fail('file.send-unreadable');
      dc.close();
    }
  }

  function receiveFile(dc) {
    dc.binaryType = 'arraybuffer';
    let h = null;
    try { h = JSON.parse(dc.protocol); } catch (e) { h = null; }
    const ok = h && typeof h.name === 'string' && Number.isSafeInteger(h.size) && h.size >= 0;
    const name = fileBaseName(ok ? h.name : '');
    const rec = { direction: 'in', name, size: ok ? h.size : 0, got: 0, done: false, error: null, url: null, blob: null };
    const incoming = st.files.filter((r) => r.direction === 'in' && !r.error);
    const arriving = incoming.filter((r) => !r.done).length;
    const held = incoming.reduce((n, r) => n + r.size, 0);
    st.files.push(rec);
    const chunks = [];
    const fail = (key = 'file.receive-failed') => {
      if (rec.done || rec.error) return;
      rec.error = key;
      chunks.length = 0;
      addFileNote('Doctor', key, { name });
      if (dc.readyState !== 'closed') dc.close();
    };
    const complete = () => {
      // Saved as opaque bytes whatever type was announced: a link the page
      // opens must never run as a page of this site.
      const blob = new Blob(chunks, { type: 'application/octet-stream' });
      chunks.length = 0;
      rec.blob = blob; // kept for tests: the page's CSP (connect-src) refuses fetch(blob:)
      rec.url = URL.createObjectURL(blob);
      rec.done = true;
      // Closing confirms the whole file to the sender.
      if (dc.readyState === 'open') dc.close();
      addFileNote('Doctor', null, null, { url: rec.url, name, size: rec.size });
    };
    if (!ok || h.size > FILE_MAX) { fail(); return; }
    if (arriving >= FILES_AT_ONCE) { fail('file.receive-busy'); return; }
    if (held + h.size > FILES_HELD_MAX) { fail('file.receive-too-much'); return; }
    dc.onmessage = (ev) => {
      if (rec.done || rec.error) return;
      if (typeof ev.data === 'string' || rec.got + ev.data.byteLength > rec.size) { fail(); return; }
      chunks.push(ev.data);
      rec.got += ev.data.byteLength;
      if (rec.got === rec.size) complete();
    };
    dc.onclose = () => {
      if (rec.done || rec.error) return;
      if (rec.got === rec.size) complete();
      else fail();
    };
  }

  function addChat(who, text) {
    st.chat.push({ who, text });
    if (st.chat.length > CHAT_KEEP) st.chat.shift();
    const li = document.createElement('li');
    const w = document.createElement('span');
    w.className = 'who';
    put(w, WHO[who]);
    // text, never markup; no bidi override reordering what follows
    li.append(w, document.createTextNode(String(text).replace(HIDDEN, '\ufffd')));
    appendToLog(li);
  }

  // The chat log keeps its last CHAT_KEEP lines: a chatty or hostile peer
  // cannot grow the page without bound.
  function appendToLog(li) {
    const log = $('chat-log');
    log.append(li);
    while (log.children.length > CHAT_KEEP) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
  }

  // ---- controls ----
  function toggle(button, kind, onKey, offKey) {
    const tracks = st.local ? (kind === 'audio' ? st.local.getAudioTracks() : st.local.getVideoTracks()) : [];
    const pressed = button.getAttribute('aria-pressed') !== 'true';
    tracks.forEach((t) => { t.enabled = !pressed; });
    button.setAttribute('aria-pressed', String(pressed));
    put(button, pressed ? onKey : offKey);
    sendState();
  }

  function join() {
    // the server refuses a name with hidden characters: they go first
    const name = $('name').value.replace(HIDDEN, '').trim();
    if (!name) { $('name').focus(); return; }
    alertText(null);
    st.name = name;
    send({ type: 'join', room, name });
  }

  async function main() {
    if (!room) {
      alertText('alert.link-incomplete');
      show('end');
      return;
    }
    $('name').value = (frag.get('name') || '').slice(0, 64);
    $('join-form').onsubmit = (ev) => { ev.preventDefault(); join(); };
    $('speaker-test').onclick = speakerTest;
    $('cancel').onclick = () => { send({ type: 'leave' }); finish('left'); };
    $('hangup').onclick = () => { send({ type: 'leave' }); finish('left'); };
    const stored = storedSession();
    const resumable = stored && typeof stored.session === 'string' && !(await sessionInUse(stored.session));
    $('mute').onclick = () => toggle($('mute'), 'audio', 'call.unmute', 'call.mute');
    $('camera').onclick = () => toggle($('camera'), 'video', 'call.camera-on', 'call.camera-off');
    $('chat-form').onsubmit = (ev) => {
      ev.preventDefault();
      const text = $('chat-input').value;
      if (!text || !st.dc || st.dc.readyState !== 'open') return;
      st.dc.send(text);
      addChat('You', text);
      $('chat-input').value = '';
    };
    $('send-file').onclick = () => $('file-input').click();
    $('file-input').onchange = () => {
      const files = Array.from($('file-input').files || []);
      $('file-input').value = '';
      files.forEach((f) => sendFile(f));
    };
    const autojoin = frag.get('autojoin') === '1' && frag.get('name');
    if (resumable) {
      // A reload (or a tab restored after the phone discarded it): our
      // place back without a new knock.
      st.session = stored.session;
      st.name = typeof stored.name === 'string' ? stored.name : '';
      if (st.name) $('name').value = st.name;
      await getMedia();
      connect(() => send({ type: 'resume', session: st.session, fresh: true }));
      return;
    }
    if (!autojoin) show('check');
    await getMedia();
    connect(() => {
      if (autojoin) join();
      else send({ type: 'ice', room });
    });
  }

  main();
})();
