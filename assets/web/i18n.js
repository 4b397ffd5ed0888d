// The patient page's words in Korean and English (issue 15): the catalogs,
// t(key, params), the choice of language and the switch. Plain browser
// JavaScript, no build step; loaded before room.js (and by index.html).
//
// The language: the tab's own choice (the switch, kept in sessionStorage),
// else the link's fragment (#lang=ko or #lang=en, which a clinic's
// scheduling system sets), else the first of ko/en among the browser's
// languages, else English. <html lang> follows.
//
// Elements carry their key: data-i18n="key" (text), data-i18n-aria-label and
// data-i18n-placeholder (attributes). put(el, key, params) sets one from
// script and remembers it, so a change of language redraws every string on
// the page, the ones set while the call went on included. Parameters (a file
// name, an error name) are inserted as text, never as markup.
//
// Adding a string: the same key in both catalogs, then use it (data-i18n in
// the HTML with the English text, or put/t in room.js with the key written
// out as a literal). tests/interop/page_catalogs.js fails on a key missing
// from either catalog, one the page uses but neither has, one nobody uses,
// a Korean entry left in English, or 합쇼체 in the Korean (the page speaks
// 해요체 throughout).
'use strict';

(function (root) {
  const CATALOGS = {
    en: {
      'page.title': 'Video consultation — medcall',
      'page.heading': 'Video consultation',
      'lang.switch': 'Language',
      'index.title': 'medcall — video consultations',
      'index.text': 'To join a video consultation, open the link your clinic sent you.',

      'check.heading': 'Before you join',
      'check.preview': 'Your camera preview',
      'check.camera.checking': 'Camera: checking…',
      'check.camera.working': 'Camera and microphone: working.',
      'check.camera.audio-only': 'Camera: not available ({error}). You can still join with sound only.',
      'check.camera.none': 'Camera and microphone: not available ({error}). Allow them in your browser\'s settings, then reload the page.',
      'check.mic': 'Microphone level',
      'check.speaker.test': 'Play a test sound',
      'check.speaker.hint': 'You should hear a short tone.',
      'check.speaker.playing': 'Playing a tone for one second. Did you hear it? If not, check your volume.',
      'check.relay.checking': 'Connection through the relay server: checking…',
      'check.relay.working': 'Connection through the relay server: working.',
      'check.relay.none': 'Relay server: none configured (direct connections only).',
      'check.relay.later': 'Connection through the relay server: tried when the call starts.',
      'check.relay.unreachable': 'Connection through the relay server: not reachable. A direct connection may still work.',
      'check.relay.no-answer': 'Connection through the relay server: no answer. A direct connection may still work.',
      'check.relay.skipped': 'Connection through the relay server: not checked now; the call will still try it.',
      'check.name': 'Your name',
      'check.join': 'Join the consultation',

      'waiting.heading': 'Waiting for the doctor',
      'waiting.told': 'The doctor has been told you are here and will let you in.',
      'waiting.not-yet': 'The doctor is not connected yet; please wait.',
      'waiting.away': 'The doctor is not connected right now; please wait.',
      'waiting.leave': 'Leave the waiting room',

      'call.heading': 'In the consultation',
      'call.remote': 'The doctor\'s video',
      'call.avatar': 'The doctor\'s camera is off',
      'call.self': 'Your own video',
      'call.conn.connecting': 'Connecting…',
      'call.conn.interrupted': 'Connection interrupted; trying again…',
      'call.conn.failed': 'Connection failed.',
      'call.conn.closed': 'Closed.',
      'call.conn.direct': 'Connected directly.',
      'call.conn.relayed': 'Connected through a relay server.',
      'call.peer-mic': 'Doctor\'s microphone is off',
      'call.peer-video-paused': 'The doctor\'s connection is too slow for video; you can still hear each other.',
      'call.verify.label': 'Verification code:',
      'call.verify.help': 'Ask the doctor to read the code on their screen. If it is the same as this one, nobody else can see or hear your call. If it is different, hang up and call the clinic.',
      'call.controls': 'Call controls',
      'call.mute': 'Mute',
      'call.unmute': 'Unmute',
      'call.camera-off': 'Camera off',
      'call.camera-on': 'Camera on',
      'call.hangup': 'Hang up',

      'chat.heading': 'Chat',
      'chat.message': 'Message',
      'chat.placeholder': 'Type a message',
      'chat.send': 'Send',
      'chat.send-file': 'Send a file',
      'chat.file-help': 'Files up to 64 MiB. Files the doctor sends appear here as links to save.',
      'chat.who.doctor': 'Doctor:',
      'chat.who.you': 'You:',

      'file.too-big': 'The file "{name}" is larger than 64 MiB and cannot be sent.',
      'file.sent': 'sent "{name}" ({size}).',
      'file.send-closed': 'The file "{name}" could not be sent: the connection closed.',
      'file.send-unreadable': 'The file "{name}" could not be sent: it could not be read.',
      'file.receive-failed': 'The file "{name}" could not be received.',
      'file.receive-busy': 'The file "{name}" was not received: too many files are arriving at once.',
      'file.receive-too-much': 'The file "{name}" was not received: this page already holds 256 MiB of received files.',
      'file.size.mb': '{n} MB',
      'file.size.kb': '{n} KB',
      'file.size.bytes': '{n} bytes',

      'end.heading': 'The consultation has ended',
      'end.reason.ended-by-doctor': 'The doctor ended the consultation.',
      'end.reason.left': 'You left the consultation.',
      'end.reason.expired': 'This link has expired. Ask the clinic for a new one.',
      'end.reason.doctor-gone': 'The doctor is no longer connected.',
      'end.reason.resumed-elsewhere': 'This consultation was opened in another window.',
      'end.reason.server-shutdown': 'The server was stopped. Try the link again in a moment.',
      'end.reason.replaced': 'The doctor let you in again from another window or device.',
      'end.reason.declined': 'The doctor could not let you in now.',
      'end.reason.connection-lost': 'The connection to the server was lost.',
      'end.reason.other': 'This consultation is over.',

      'notice.reconnecting': 'Reconnecting to the server… The call goes on.',
      'notice.retrying': 'Connection lost, trying again…',
      'notice.doctor-away': 'The doctor will be back. Please stay on this page.',
      'notice.doctor-back': 'The doctor is back; reconnecting…',
      'notice.peer-left': 'The other person left.',

      'alert.reconnecting': 'Connection to the server lost; reconnecting…',
      'alert.unreachable': 'Cannot reach the server. Check your internet connection and reload the page.',
      'alert.busy': 'Many people are trying to join this room right now; trying again in a few seconds.',
      'alert.link-incomplete': 'This link is not complete. Open the whole link your clinic sent you.',

      // docs/signaling.md "error": the page's own sentence for each code.
      'error.bad-json': 'This page and the server did not understand each other. Reload the page; if it happens again, tell the clinic.',
      'error.bad-version': 'This page is older than the server. Reload the page; if it happens again, tell the clinic.',
      'error.unknown-type': 'This page and the server did not understand each other. Reload the page; if it happens again, tell the clinic.',
      'error.bad-field': 'The link or your name was not accepted. Check your name and open the whole link your clinic sent you.',
      'error.too-big': 'That was too much for the server to take at once. Reload the page and try again.',
      'error.rate-limited': 'Too many requests at once. Wait a few seconds and try again.',
      'error.unauthorized': 'This page may not do that. Open the link your clinic sent you.',
      'error.no-room': 'This consultation room does not exist: the link may have expired, or the consultation has ended. Ask the clinic for a new link.',
      'error.room-full': 'The waiting room is full right now. Try again in a few minutes.',
      'error.not-admitted': 'The doctor has not let you in yet. Please wait.',
      'error.wrong-state': 'That cannot be done right now. Reload the page.',
      'error.not-doctor': 'Only the doctor can do that.',
      'error.unknown-session': 'Your place in this consultation has expired. Join again.',
      'error.server-busy': 'The server is busy right now. Try again in a few minutes.',
      'error.other': 'Something went wrong (code {code}). Reload the page.',
    },

    // 해요체 throughout: what a clinic's reception says to a patient.
    ko: {
      'page.title': '화상 진료 — medcall',
      'page.heading': '화상 진료',
      'lang.switch': '언어',
      'index.title': 'medcall — 화상 진료',
      'index.text': '화상 진료에 참여하려면 병원에서 보낸 링크를 열어 주세요.',

      'check.heading': '입장하기 전에 확인해 주세요',
      'check.preview': '내 카메라 미리 보기',
      'check.camera.checking': '카메라: 확인하고 있어요…',
      'check.camera.working': '카메라와 마이크: 잘 작동해요.',
      'check.camera.audio-only': '카메라: 사용할 수 없어요({error}). 소리만으로도 진료에 참여할 수 있어요.',
      'check.camera.none': '카메라와 마이크: 사용할 수 없어요({error}). 브라우저 설정에서 카메라와 마이크 사용을 허용한 다음 페이지를 새로 고쳐 주세요.',
      'check.mic': '마이크 소리 크기',
      'check.speaker.test': '테스트 소리 듣기',
      'check.speaker.hint': '누르면 짧은 소리가 나요.',
      'check.speaker.playing': '1초 동안 소리가 나요. 잘 들리셨나요? 들리지 않았다면 음량을 확인해 주세요.',
      'check.relay.checking': '중계 서버 연결: 확인하고 있어요…',
      'check.relay.working': '중계 서버 연결: 잘 작동해요.',
      'check.relay.none': '중계 서버: 설정되어 있지 않아요(직접 연결만 사용해요).',
      'check.relay.later': '중계 서버 연결: 통화를 시작할 때 확인해요.',
      'check.relay.unreachable': '중계 서버 연결: 연결되지 않아요. 직접 연결은 될 수도 있어요.',
      'check.relay.no-answer': '중계 서버 연결: 응답이 없어요. 직접 연결은 될 수도 있어요.',
      'check.relay.skipped': '중계 서버 연결: 지금은 확인하지 않았어요. 통화를 시작할 때 다시 시도해요.',
      'check.name': '이름',
      'check.join': '진료 참여하기',

      'waiting.heading': '의사 선생님을 기다리고 있어요',
      'waiting.told': '의사 선생님께 도착하셨다고 알려 드렸어요. 곧 입장을 허락해 드릴 거예요.',
      'waiting.not-yet': '의사 선생님이 아직 접속하지 않으셨어요. 잠시만 기다려 주세요.',
      'waiting.away': '의사 선생님의 연결이 잠시 끊겼어요. 잠시만 기다려 주세요.',
      'waiting.leave': '대기실에서 나가기',

      'call.heading': '진료 중',
      'call.remote': '의사 선생님 영상',
      'call.avatar': '의사 선생님의 카메라가 꺼져 있어요',
      'call.self': '내 영상',
      'call.conn.connecting': '연결하고 있어요…',
      'call.conn.interrupted': '연결이 끊겼어요. 다시 연결하고 있어요…',
      'call.conn.failed': '연결하지 못했어요.',
      'call.conn.closed': '연결이 끝났어요.',
      'call.conn.direct': '직접 연결됐어요.',
      'call.conn.relayed': '중계 서버를 거쳐 연결됐어요.',
      'call.peer-mic': '의사 선생님의 마이크가 꺼져 있어요',
      'call.peer-video-paused': '의사 선생님 쪽 연결이 느려서 영상이 잠시 멈췄어요. 소리는 계속 들을 수 있어요.',
      'call.verify.label': '확인 코드:',
      'call.verify.help': '의사 선생님께 화면에 보이는 코드를 읽어 달라고 해 주세요. 이 코드와 같으면 다른 사람은 이 통화를 보거나 들을 수 없어요. 다르면 통화를 끊고 병원에 전화해 주세요.',
      'call.controls': '통화 조작',
      'call.mute': '음소거',
      'call.unmute': '음소거 해제',
      'call.camera-off': '카메라 끄기',
      'call.camera-on': '카메라 켜기',
      'call.hangup': '통화 끊기',

      'chat.heading': '채팅',
      'chat.message': '메시지',
      'chat.placeholder': '메시지를 입력하세요',
      'chat.send': '보내기',
      'chat.send-file': '파일 보내기',
      'chat.file-help': '파일은 64MiB까지 보낼 수 있어요. 의사 선생님이 보낸 파일은 여기에 저장할 수 있는 링크로 나타나요.',
      'chat.who.doctor': '의사 선생님:',
      'chat.who.you': '나:',

      'file.too-big': '"{name}" 파일은 64MiB보다 커서 보낼 수 없어요.',
      'file.sent': '"{name}" 파일을 보냈어요({size}).',
      'file.send-closed': '"{name}" 파일을 보내지 못했어요. 연결이 끊겼어요.',
      'file.send-unreadable': '"{name}" 파일을 보내지 못했어요. 파일을 읽을 수 없어요.',
      'file.receive-failed': '"{name}" 파일을 받지 못했어요.',
      'file.receive-busy': '"{name}" 파일을 받지 않았어요. 한꺼번에 너무 많은 파일이 오고 있어요.',
      'file.receive-too-much': '"{name}" 파일을 받지 않았어요. 이 페이지에 이미 받은 파일이 256MiB 있어요.',
      'file.size.mb': '{n} MB',
      'file.size.kb': '{n} KB',
      'file.size.bytes': '{n}바이트',

      'end.heading': '진료가 끝났어요',
      'end.reason.ended-by-doctor': '의사 선생님이 진료를 마치셨어요.',
      'end.reason.left': '진료에서 나오셨어요.',
      'end.reason.expired': '이 링크는 만료됐어요. 병원에 새 링크를 요청해 주세요.',
      'end.reason.doctor-gone': '의사 선생님과의 연결이 끊겨 진료를 이어갈 수 없어요.',
      'end.reason.resumed-elsewhere': '이 진료가 다른 창에서 열렸어요.',
      'end.reason.server-shutdown': '서버가 멈췄어요. 잠시 뒤에 링크를 다시 열어 주세요.',
      'end.reason.replaced': '의사 선생님이 다른 창이나 기기에서 다시 입장을 허락해 드렸어요.',
      'end.reason.declined': '의사 선생님이 지금은 입장을 허락해 드릴 수 없어요.',
      'end.reason.connection-lost': '서버와의 연결이 끊겼어요.',
      'end.reason.other': '이 진료는 종료됐어요.',

      'notice.reconnecting': '서버에 다시 연결하고 있어요… 통화는 계속돼요.',
      'notice.retrying': '연결이 끊겼어요. 다시 연결하고 있어요…',
      'notice.doctor-away': '의사 선생님이 곧 돌아오실 거예요. 이 페이지를 닫지 말고 기다려 주세요.',
      'notice.doctor-back': '의사 선생님이 돌아오셨어요. 다시 연결하고 있어요…',
      'notice.peer-left': '상대방이 나갔어요.',

      'alert.reconnecting': '서버와의 연결이 끊겼어요. 다시 연결하고 있어요…',
      'alert.unreachable': '서버에 연결할 수 없어요. 인터넷 연결을 확인하고 페이지를 새로 고쳐 주세요.',
      'alert.busy': '지금 이 진료실에 입장하려는 분이 많아요. 몇 초 뒤에 다시 시도할게요.',
      'alert.link-incomplete': '링크가 완전하지 않아요. 병원에서 보낸 링크 전체를 열어 주세요.',

      'error.bad-json': '페이지와 서버가 주고받는 내용에 문제가 생겼어요. 페이지를 새로 고쳐 주세요. 같은 일이 또 생기면 병원에 알려 주세요.',
      'error.bad-version': '이 페이지가 서버보다 오래된 버전이에요. 페이지를 새로 고쳐 주세요. 같은 일이 또 생기면 병원에 알려 주세요.',
      'error.unknown-type': '페이지와 서버가 주고받는 내용에 문제가 생겼어요. 페이지를 새로 고쳐 주세요. 같은 일이 또 생기면 병원에 알려 주세요.',
      'error.bad-field': '링크나 이름을 받아들일 수 없어요. 이름을 확인하고, 병원에서 보낸 링크 전체를 열어 주세요.',
      'error.too-big': '한 번에 보내기에는 내용이 너무 커요. 페이지를 새로 고친 다음 다시 시도해 주세요.',
      'error.rate-limited': '요청이 한꺼번에 너무 많아요. 몇 초 뒤에 다시 시도해 주세요.',
      'error.unauthorized': '이 페이지에서는 할 수 없는 일이에요. 병원에서 보낸 링크를 열어 주세요.',
      'error.no-room': '이 진료실을 찾을 수 없어요. 링크가 만료됐거나 진료가 이미 끝났을 수 있어요. 병원에 새 링크를 요청해 주세요.',
      'error.room-full': '지금은 대기실이 가득 찼어요. 몇 분 뒤에 다시 시도해 주세요.',
      'error.not-admitted': '의사 선생님이 아직 입장을 허락하지 않으셨어요. 잠시만 기다려 주세요.',
      'error.wrong-state': '지금은 그렇게 할 수 없어요. 페이지를 새로 고쳐 주세요.',
      'error.not-doctor': '의사 선생님만 할 수 있는 일이에요.',
      'error.unknown-session': '이 진료에 다시 들어올 수 있는 시간이 지났어요. 다시 참여해 주세요.',
      'error.server-busy': '지금은 서버가 바빠요. 몇 분 뒤에 다시 시도해 주세요.',
      'error.other': '문제가 생겼어요(코드: {code}). 페이지를 새로 고쳐 주세요.',
    },
  };
  const LANGS = ['ko', 'en'];
  const STORE = 'medcall:lang';

  // "ko", "ko-KR", "KO_kr" -> "ko"; anything else -> null.
  function norm(tag) {
    const base = String(tag || '').toLowerCase().split(/[-_]/)[0];
    return LANGS.includes(base) ? base : null;
  }

  // The tab's choice, else #lang= in the fragment (with whatever else the
  // fragment carries), else the first of ko/en among the browser's
  // languages, else English.
  function pick(stored, hash, languages) {
    const fromLink = new URLSearchParams(String(hash || '').replace(/^#/, '')).get('lang');
    return norm(stored) || norm(fromLink) || Array.from(languages || []).map(norm).find(Boolean) || 'en';
  }

  function format(text, params, key) {
    return text.replace(/\{(\w+)\}/g, (all, name) => {
      if (!params || !Object.prototype.hasOwnProperty.call(params, name)) {
        console.error('i18n: no value for {' + name + '} in ' + key);
        return all;
      }
      const v = params[name];
      // A parameter that is a phrase of its own ({key, params}: a file's
      // size) is said in the same language.
      return v !== null && typeof v === 'object' ? api.t(v.key, v.params) : String(v);
    });
  }

  const api = {
    CATALOGS, LANGS, norm, pick,
    lang: 'en',
    missing: [], // keys asked for and absent: a test failure, never a blank
    t(key, params) {
      const cat = CATALOGS[api.lang];
      if (!Object.prototype.hasOwnProperty.call(cat, key)) {
        if (!api.missing.includes(key)) api.missing.push(key);
        console.error('i18n: missing key ' + api.lang + ':' + key);
        return '[' + key + ']';
      }
      return format(cat[key], params, key);
    },
  };
  root.I18N = api;
  if (typeof document === 'undefined') return; // node: tests/interop/page_catalogs.js

  const ATTRS = ['aria-label', 'placeholder'];
  const args = new WeakMap();

  function draw(el) {
    const p = args.get(el);
    if (el.dataset.i18n) el.textContent = api.t(el.dataset.i18n, p);
    for (const a of ATTRS) {
      const key = el.getAttribute('data-i18n-' + a);
      if (key) el.setAttribute(a, api.t(key, p));
    }
  }

  // Text of el from key (null: empty, and no key any more).
  api.put = (el, key, params) => {
    if (params) args.set(el, params); else args.delete(el);
    if (key) { el.dataset.i18n = key; draw(el); } else { delete el.dataset.i18n; el.textContent = ''; }
  };
  // An attribute of el (aria-label, placeholder) from key.
  api.putAttr = (el, attr, key, params) => {
    if (params) args.set(el, params); else args.delete(el);
    el.setAttribute('data-i18n-' + attr, key);
    draw(el);
  };

  api.setLang = (lang, remember) => {
    api.lang = norm(lang) || 'en';
    document.documentElement.lang = api.lang;
    const sel = '[data-i18n],' + ATTRS.map((a) => '[data-i18n-' + a + ']').join(',');
    document.querySelectorAll(sel).forEach(draw);
    document.querySelectorAll('[data-set-lang]').forEach((b) => {
      b.setAttribute('aria-pressed', String(b.dataset.setLang === api.lang));
    });
    if (remember) {
      try { sessionStorage.setItem(STORE, api.lang); } catch (e) { /* private mode: this page only */ }
    }
  };

  // The switch ("한국어 | English") in every <nav class="lang-switch">: each
  // language named in itself, so a patient finds their own whatever the page
  // speaks now.
  const NAMES = { ko: '한국어', en: 'English' };
  document.querySelectorAll('nav.lang-switch').forEach((nav) => {
    LANGS.forEach((lang, i) => {
      if (i) {
        const bar = document.createElement('span');
        bar.setAttribute('aria-hidden', 'true');
        bar.textContent = '|';
        nav.append(bar);
      }
      const b = document.createElement('button');
      b.type = 'button';
      b.lang = lang;
      b.dataset.setLang = lang;
      b.textContent = NAMES[lang];
      b.addEventListener('click', () => api.setLang(lang, true));
      nav.append(b);
    });
  });

  let stored = null;
  try { stored = sessionStorage.getItem(STORE); } catch (e) { stored = null; }
  api.setLang(pick(stored, location.hash, navigator.languages || [navigator.language]), false);
})(typeof window !== 'undefined' ? window : globalThis);
