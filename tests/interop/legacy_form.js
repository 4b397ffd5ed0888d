// Scenario "legacy" of native_call.js (Chromium) and native_firefox.js
// (Firefox), issue 16: the page sends its data m-line in the older form
// (draft-ietf-mmusic-sctp-sdp-05: DTLS/SCTP, the SCTP port as the format,
// a=sctpmap, no a=sctp-port or a=max-message-size), once as the browser's
// offer to `medcall join` and once as its answer to `medcall call`. The
// browser itself keeps its UDP/DTLS/SCTP description. medcall must answer an
// older-form offer in that form and take an older-form answer; "chat" then
// echoes 100 messages. The browser's offer also has a video m-line with no
// codec medcall knows (the page renames them): medcall's answer rejects it
// (port 0, the offer's proto and a format of it, outside BUNDLE) and the
// browser must take that answer.
'use strict';

const lib = require('./lib');
const { pagePeer, echoTest } = require('./pages');

const { check, step, waitLine } = lib;
const STEP_MS = 20000; // liveness bound, not a performance target

// The data m-line's lines of a description.
const dataLines = (sdp) => (sdp || '').split('\r\n').filter((l) => /^m=|sctp|max-message|BUNDLE/.test(l));

// newPage and medcall are the calling script's own (Firefox pages get no
// helpers injected).
async function legacyForm({ browser, newPage, medcall, srv, name }, browserOffers) {
  const what = `legacy, ${name} ${browserOffers ? 'offers' : 'answers'}`;
  const ctx = await browser.createBrowserContext();
  let mc = null;
  try {
    const page = await newPage(ctx, browserOffers ? 'doctor' : 'patient');
    await page.goto(`https://127.0.0.1:${srv.port}/`);
    await page.evaluate(pagePeer, { legacyOwn: true, unsupportedVideo: browserOffers });
    if (browserOffers) {
      await page.evaluate(() => window.P.send({ type: 'create' }));
      await page.waitForFunction(() => window.P.msgs.some((m) => m.type === 'created'), { timeout: STEP_MS, polling: 50 });
      const link = await page.evaluate(() => window.P.msgs.find((m) => m.type === 'created').link);
      mc = medcall('medcall-legacy-patient', ['join', link, '--insecure', '--name', 'legacy', '--echo']);
    } else {
      mc = medcall('medcall-legacy-doctor', ['call', '--server', `wss://127.0.0.1:${srv.port}/ws`, '--insecure', '--echo']);
      const link = (await waitLine(mc, /^link: https:\/\//, 'the room link')).slice('link: '.length).trim();
      await page.evaluate((r) => window.P.send({ type: 'join', room: r, name: 'legacy' }), link.split('/r/')[1]);
    }
    const ok = await page.waitForFunction(
      () => (window.P.state === 'connected' && window.P.chat && window.P.chat.readyState === 'open') ||
            window.P.state === 'failed' || window.P.errors.length > 0, { timeout: STEP_MS, polling: 50 }).then(() => true, () => false);
    const st = await page.evaluate(() => ({ state: window.P.state, errors: window.P.errors,
      chat: window.P.chat && window.P.chat.readyState, sent: window.P.sentSdp, got: window.P.remoteSdp }));
    st.sent = dataLines(st.sent);
    st.got = dataLines(st.got);
    check(st.sent.includes('m=application 9 DTLS/SCTP 5000') && st.sent.includes('a=sctpmap:5000 webrtc-datachannel 65535'),
      `${what}: the page sent its data m-line in the DTLS/SCTP form`, st.sent);
    check(ok && st.errors.length === 0 && st.state === 'connected' && st.chat === 'open',
      `${what}: the call connects and "chat" opens`, st);
    if (browserOffers) {
      check(st.got.includes('m=application 9 DTLS/SCTP 5000') && st.got.includes('a=sctpmap:5000 webrtc-datachannel 65535') &&
        !st.got.some((l) => /sctp-port|max-message-size/.test(l)),
        `${what}: medcall answered in the DTLS/SCTP form`, st.got);
      check(st.got.some((l) => /^m=video 0 UDP\/TLS\/RTP\/SAVPF \d+$/.test(l)) && st.got.includes('a=group:BUNDLE 1'),
        `${what}: medcall rejected the video m-line (port 0, proto and a format kept, outside BUNDLE) and ${name} took the answer`, st.got);
    }
    // Without a=max-message-size each side allows 64 KiB (RFC 8841 6.1).
    const echo = await step(`${what}: echo of 100 messages`, () => page.evaluate(echoTest, 100, 60000));
    check(echo.count === 100 && echo.bad === 0, `${what}: 100 messages up to 60 KB came back byte-exact`, echo);
  } finally {
    if (mc && mc.exitCode === null) mc.kill('SIGKILL');
    await ctx.close().catch(() => {});
  }
}

module.exports = { legacyForm };
