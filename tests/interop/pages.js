// Page functions of the native interop tests (native_call.js against
// Chromium, native_firefox.js against Firefox): each is passed to
// page.evaluate, so it runs in the page and must use nothing from this
// module's scope. The page side is written from docs/signaling.md.
'use strict';

// A peer written from docs/signaling.md: doctor (offerer) or patient.
function pagePeer(opts) {
  const P = window.P = { msgs: [], pc: null, chat: null, bulk: null, errors: [], echoes: [], bulkChunks: [],
                         bulkBytes: 0, state: 'new', closed: false };
  const ws = P.ws = new WebSocket('wss://' + location.host + '/ws');
  const send = P.send = (m) => { m.v = 1; ws.send(JSON.stringify(m)); };
  const tamperFp = (sdp) => sdp.replace(/a=fingerprint:sha-256 (.)/, (m, c) => 'a=fingerprint:sha-256 ' + (c === 'A' ? 'B' : 'A'));
  // opts.legacyOwn: what the page sends carries its data m-line in the older
  // form (draft-ietf-mmusic-sctp-sdp-05): DTLS/SCTP with the SCTP port as the
  // format and a=sctpmap, no a=sctp-port or a=max-message-size.
  const legacy = (sdp) => {
    const port = (sdp.match(/a=sctp-port:(\d+)/) || [])[1] || '5000';
    return sdp.replace(/m=application (\d+) UDP\/DTLS\/SCTP webrtc-datachannel/, `m=application $1 DTLS/SCTP ${port}`)
      .replace(/a=sctp-port:\d+\r\n/, `a=sctpmap:${port} webrtc-datachannel 65535\r\n`)
      .replace(/a=max-message-size:\d+\r\n/, '');
  };
  // opts.unsupportedVideo: the offer gets a video m-line (before the data
  // one) whose codecs the page renames, so that medcall has to reject it.
  const own = (sdp) => {
    if (opts.tamperOwn) sdp = tamperFp(sdp);
    if (opts.legacyOwn) sdp = legacy(sdp);
    if (opts.unsupportedVideo) sdp = sdp.replace(/ (VP8|VP9|AV1|H264|H265)\/90000/g, ' X-$1/90000');
    return sdp;
  };
  ws.onclose = () => { P.closed = true; };
  function setupPc(m) {
    const pc = P.pc = new RTCPeerConnection({ iceServers: m.ice_servers || [] });
    pc.onconnectionstatechange = () => { P.state = pc.connectionState; };
    pc.onicecandidate = (e) => send(e.candidate
      ? { type: 'candidate', candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid,
          sdpMLineIndex: e.candidate.sdpMLineIndex }
      : { type: 'candidate', candidate: '' });
    if (opts.media) {
      // Our stamped canvas and tone (media_pages.js installs window.M).
      const local = window.M.stream(opts.media.width, opts.media.height, opts.media.fps, opts.media.hz);
      local.getTracks().forEach((t) => {
        const sender = pc.addTrack(t, local);
        if (t.kind === 'video') {
          // A fixed picture size, so the stamp's squares keep their size.
          const params = sender.getParameters();
          params.degradationPreference = 'maintain-resolution';
          sender.setParameters(params).catch(() => {});
        }
      });
      const remote = new MediaStream();
      const video = document.createElement('video');
      video.autoplay = true; video.muted = true; video.playsInline = true;
      document.body.append(video);
      pc.ontrack = (e) => {
        remote.addTrack(e.track);
        if (e.track.kind === 'video') { video.srcObject = new MediaStream([e.track]); window.M.watch(video); }
        if (e.track.kind === 'audio') {
          // Chromium feeds remote audio to Web Audio only while a media element plays it.
          const audio = document.createElement('audio');
          audio.autoplay = true; audio.muted = true;
          audio.srcObject = new MediaStream([e.track]);
          document.body.append(audio);
          window.M.listen(new MediaStream([e.track]));
        }
      };
    }
    pc.ondatachannel = (e) => {
      if (e.channel.label === 'chat') P.chat = e.channel;
      if (e.channel.label === 'bulk') {
        P.bulk = e.channel;
        e.channel.binaryType = 'arraybuffer';
        e.channel.onmessage = (ev) => { P.bulkChunks.push(new Uint8Array(ev.data)); P.bulkBytes += ev.data.byteLength; };
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
    try {
      if (m.type === 'knock') send({ type: 'admit' });
      else if (m.type === 'admitted' && m.offerer) {
        const pc = setupPc(m);
        if (opts.unsupportedVideo) pc.addTransceiver('video', { direction: 'recvonly' });
        P.chat = pc.createDataChannel('chat');
        await pc.setLocalDescription(await pc.createOffer());
        const sdp = own(pc.localDescription.sdp);
        P.sentSdp = sdp;
        send({ type: 'offer', sdp });
      } else if (m.type === 'admitted') {
        setupPc(m);
      } else if (m.type === 'offer') {
        const sdp = opts.tamperRemote ? tamperFp(m.sdp) : m.sdp;
        await P.pc.setRemoteDescription({ type: 'offer', sdp });
        await P.pc.setLocalDescription(await P.pc.createAnswer());
        P.sentSdp = own(P.pc.localDescription.sdp);
        send({ type: 'answer', sdp: P.sentSdp });
      } else if (m.type === 'answer') {
        const sdp = opts.tamperRemote ? tamperFp(m.sdp) : m.sdp;
        P.remoteSdp = sdp;
        await P.pc.setRemoteDescription({ type: 'answer', sdp });
      } else if (m.type === 'candidate' && m.candidate && P.pc) {
        await P.pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex });
      }
    } catch (e) { P.errors.push(m.type + ': ' + e.message); }
  };
  // A media grant makes the browser offer its host addresses (127.0.0.1 here);
  // without one it offers only the default route's, which this namespace lacks.
  const opened = new Promise((resolve, reject) => { ws.onopen = () => resolve(true); ws.onerror = () => reject(new Error('ws error')); });
  return navigator.mediaDevices.getUserMedia({ audio: true })
    .then((s) => s.getTracks().forEach((t) => t.stop())).then(() => opened);
}

// count messages of random sizes up to maxSize (the first exactly maxSize)
// through medcall's echo, each compared.
async function echoTest(count, maxSize = 256 * 1024) {
  const dc = window.P.chat;
  dc.binaryType = 'arraybuffer';
  const sent = [];
  const got = [];
  let bad = 0;
  const done = new Promise((resolve) => {
    dc.onmessage = (ev) => {
      const i = got.length;
      const want = sent[i];
      let same;
      if (typeof ev.data === 'string') same = !want.binary && ev.data === want.text;
      else {
        const a = new Uint8Array(ev.data);
        same = want.binary && a.length === want.bytes.length && a.every((v, k) => v === want.bytes[k]);
      }
      if (!same) bad++;
      got.push(1);
      if (got.length === count) resolve();
    };
  });
  dc.bufferedAmountLowThreshold = 1 << 20;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const size = i === 0 ? maxSize : i === 1 ? 0 : Math.floor(Math.random() * maxSize);
    const binary = i % 2 === 0;
    if (binary) {
      const bytes = new Uint8Array(size);
      for (let k = 0; k < size; k += 65536) crypto.getRandomValues(bytes.subarray(k, Math.min(size, k + 65536)));
      sent.push({ binary, bytes });
      dc.send(bytes);
    } else {
      let text = '';
      const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
      const chunk = Array.from({ length: 1024 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
      while (text.length < size) text += chunk;
      text = text.slice(0, size);
      sent.push({ binary, text });
      dc.send(text);
    }
    if (dc.bufferedAmount > 8 << 20) await new Promise((r) => { dc.onbufferedamountlow = r; });
  }
  await done;
  const bytes = sent.reduce((n, s) => n + (s.binary ? s.bytes.length : s.text.length), 0);
  return { count: got.length, bad, bytes, ms: Math.round(performance.now() - t0) };
}

// total bytes through the echo with backpressure; SHA-256 both ways compared.
async function bulkEcho(total) {
  const dc = window.P.chat;
  dc.binaryType = 'arraybuffer';
  const chunk = 64 * 1024;
  const sentChunks = [];
  const back = [];
  let backBytes = 0;
  const done = new Promise((resolve) => {
    dc.onmessage = (ev) => { back.push(new Uint8Array(ev.data)); backBytes += ev.data.byteLength; if (backBytes >= total) resolve(); };
  });
  dc.bufferedAmountLowThreshold = 1 << 20;
  let maxBuffered = 0, waits = 0;
  const t0 = performance.now();
  for (let off = 0; off < total; off += chunk) {
    const b = new Uint8Array(Math.min(chunk, total - off));
    crypto.getRandomValues(b);
    sentChunks.push(b);
    dc.send(b);
    maxBuffered = Math.max(maxBuffered, dc.bufferedAmount);
    if (dc.bufferedAmount > 4 << 20) { waits++; await new Promise((r) => { dc.onbufferedamountlow = r; }); }
  }
  await done;
  const ms = performance.now() - t0;
  const cat = (parts, n) => { const a = new Uint8Array(n); let o = 0; for (const p of parts) { a.set(p, o); o += p.length; } return a; };
  const hex = async (a) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', a)))
    .map((x) => x.toString(16).padStart(2, '0')).join('');
  return { sent: await hex(cat(sentChunks, total)), back: await hex(cat(back, backBytes)), backBytes,
           maxBuffered, waits, mbps: +((total * 8 * 2) / (ms / 1000) / 1e6).toFixed(1) };
}

async function bulkReceived(total) {
  const P = window.P;
  const a = new Uint8Array(P.bulkBytes);
  let o = 0;
  for (const p of P.bulkChunks) { a.set(p, o); o += p.length; }
  const hex = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', a)))
    .map((x) => x.toString(16).padStart(2, '0')).join('');
  return { bytes: P.bulkBytes, hex, total };
}

module.exports = { pagePeer, echoTest, bulkEcho, bulkReceived };
