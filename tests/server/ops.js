// medcall-server as the clinic's engineer runs it (issue 14): its command
// line and start-up, /healthz and /metrics, the audit log of a scripted
// consultation, and the hardening a security review asked for. The real
// binary on loopback, driven over WSS (the `ws` package of tests/interop),
// HTTPS, raw TCP and `openssl s_client`; `promtool check metrics` (Debian
// package prometheus) reads the metrics.
//
// Env: MEDCALL_SERVER (the binary), MEDCALL_WEB_ROOT (assets/web).
// Exit 0 all checks passed, 1 a check failed, 77 skipped (no `ws` module or
// no promtool outside CI).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const tls = require('tls');
const http = require('http');

const here = __dirname;
const SERVER = process.env.MEDCALL_SERVER;
const WEB = process.env.MEDCALL_WEB_ROOT;
let WebSocket;
try {
  WebSocket = require(path.join(here, '..', 'interop', 'node_modules', 'ws'));
} catch (e) {
  skip('no ws module in tests/interop/node_modules (cd tests/interop && npm ci --ignore-scripts)');
}
if (spawnSync('promtool', ['--version']).status !== 0) skip('no promtool (apt-get install prometheus)');

function skip(why) {
  if (process.env.CI === 'true') {
    console.error(`FAIL: ${why} (CI must provide it)`);
    process.exit(1);
  }
  console.error(`SKIP: ${why}`);
  process.exit(77);
}

let failures = 0;
function check(cond, what, detail) {
  if (cond) console.log(`ok - ${what}`);
  else {
    failures++;
    console.log(`FAIL - ${what}${detail !== undefined ? `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medcall-ops-'));
const procs = new Set();
function cleanup() {
  for (const p of procs) try { p.kill('SIGKILL'); } catch (e) { /* gone */ }
  if (!process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Waits are hang guards, never pass criteria.
const WAIT_MS = 8000;

async function waitFor(fn, ms = WAIT_MS, step = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(step);
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// Starts the server; resolves once it printed every "listening on" line,
// or once it exited (then .code is set).
function startServer(args, opts = {}) {
  const env = opts.env || { ...process.env, MEDCALL_LOG: 'info' };
  const p = spawn(opts.bin || SERVER, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(p);
  const srv = { proc: p, out: '', err: '', code: null };
  p.stdout.on('data', (d) => { srv.out += d; });
  p.stderr.on('data', (d) => { srv.err += d; });
  const exited = new Promise((r) => p.on('exit', (code) => { srv.code = code; procs.delete(p); r(); }));
  srv.exited = exited;
  const want = opts.listening || 1;
  return new Promise((resolve) => {
    const t = setInterval(() => {
      const n = (srv.out.match(/listening on/g) || []).length;
      if (n >= want || srv.code !== null) { clearInterval(t); resolve(srv); }
    }, 20);
    setTimeout(() => { clearInterval(t); resolve(srv); }, WAIT_MS);
  });
}

async function stopServer(srv) {
  if (srv.code !== null) return;
  srv.proc.kill('SIGTERM');
  await Promise.race([srv.exited, sleep(WAIT_MS)]);
  if (srv.code === null) srv.proc.kill('SIGKILL');
}

function baseArgs(port, extra = []) {
  return ['--listen', `127.0.0.1:${port}`, '--state-dir', path.join(tmp, 'state'), '--web-root', WEB, ...extra];
}

// A WebSocket client with a queue of the messages it received.
function client(port, opts = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`wss://${opts.host || '127.0.0.1'}:${port}/ws`, 'medcall.v1', {
      rejectUnauthorized: false, localAddress: opts.localAddress,
    });
    const c = { ws, queue: [], waiters: [], open: false, closed: false };
    c.send = (o) => ws.send(typeof o === 'string' ? o : JSON.stringify({ v: 1, ...o }));
    c.next = (type, ms = WAIT_MS) => new Promise((res) => {
      const i = c.queue.findIndex((m) => !type || m.type === type);
      if (i >= 0) return res(c.queue.splice(i, 1)[0]);
      const w = { type, res };
      c.waiters.push(w);
      setTimeout(() => { const k = c.waiters.indexOf(w); if (k >= 0) { c.waiters.splice(k, 1); res(null); } }, ms);
    });
    c.close = () => new Promise((res) => { if (c.closed) return res(); ws.once('close', res); ws.close(); });
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      const k = c.waiters.findIndex((w) => !w.type || w.type === m.type);
      if (k >= 0) c.waiters.splice(k, 1)[0].res(m);
      else c.queue.push(m);
    });
    ws.on('open', () => { c.open = true; resolve(c); });
    ws.on('close', () => { c.closed = true; });
    ws.on('error', () => { c.closed = true; resolve(c); });
  });
}

function get(url, localAddress) {
  return new Promise((resolve) => {
    const mod = url.startsWith('https') ? require('https') : http;
    // agent: false: no keep-alive connection stays open to count against
    // the per-address limit
    const req = mod.get(url, { rejectUnauthorized: false, timeout: WAIT_MS, agent: false, localAddress }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', (e) => resolve({ status: 0, error: e.code, headers: {}, body: '' }));
    req.on('timeout', () => req.destroy());
  });
}

function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

function tcpConnect(port, host = '127.0.0.1', localAddress) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host, localAddress });
    s.gone = false;
    s.on('close', () => { s.gone = true; });
    s.on('error', () => { s.gone = true; });
    s.resume();
    s.on('connect', () => resolve({ s, ok: true }));
    s.on('error', (e) => resolve({ s, ok: false, error: e.code }));
  });
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

// ------------------------------------------------------------ lifecycle
async function lifecycle() {
  let r = spawnSync(SERVER, ['--version'], { encoding: 'utf8' });
  check(r.status === 0 && /^medcall-server \d+\.\d+\.\d+\n$/.test(r.stdout), '--version prints the version', r.stdout);
  r = spawnSync(SERVER, ['-h'], { encoding: 'utf8' });
  check(r.status === 0 && r.stdout.startsWith('usage: medcall-server'), '-h prints the usage');

  const port = await freePort();
  const a = await startServer(baseArgs(port, ['--open']));
  check(a.code === null, 'a server starts on a free port', a.err);
  const t0 = Date.now();
  const b = await startServer(baseArgs(port, ['--open']));
  await Promise.race([b.exited, sleep(WAIT_MS)]);
  const errLines = b.err.trim().split('\n').filter((l) => l.startsWith('medcall-server:'));
  check(b.code === 1 && Date.now() - t0 < WAIT_MS, 'a second server on the same port exits 1', { code: b.code });
  check(errLines.length === 1 && /port is in use/.test(errLines[0]) && !/listening on/.test(b.out),
    'it says in one sentence that the port is in use, and never claims to listen', b.err + b.out);
  await stopServer(a);

  // exactly the addresses asked for
  const p2 = await freePort();
  const c = await startServer(baseArgs(p2, ['--open']));
  let t = await tcpConnect(p2, '127.0.0.1');
  check(t.ok, '--listen 127.0.0.1:P answers on 127.0.0.1');
  t.s.destroy();
  t = await tcpConnect(p2, '127.0.0.2');
  check(!t.ok, '--listen 127.0.0.1:P does not answer on 127.0.0.2', t.error);
  t.s.destroy();
  t = await tcpConnect(p2, '::1');
  check(!t.ok, '--listen 127.0.0.1:P does not answer on ::1', t.error);
  t.s.destroy();
  await stopServer(c);
  const p3 = await freePort();
  const d = await startServer(['--listen', `127.0.0.1:${p3},[::1]:${p3}`, '--state-dir', path.join(tmp, 'state'),
    '--web-root', WEB, '--open'], { listening: 2 });
  const v4 = await get(`https://127.0.0.1:${p3}/`);
  const v6 = await get(`https://[::1]:${p3}/`);
  check(v4.status === 200 && v6.status === 200, 'an address list serves IPv4 and IPv6', [v4.status, v6.status]);
  await stopServer(d);

  // no HOME, no XDG variables: one sentence naming the option; systemd's
  // STATE_DIRECTORY is enough
  const p4 = await freePort();
  const bare = { PATH: process.env.PATH };
  const e = await startServer(['--listen', `127.0.0.1:${p4}`, '--open', '--web-root', WEB], { env: bare });
  await Promise.race([e.exited, sleep(WAIT_MS)]);
  check(e.code === 1 && /--state-dir/.test(e.err) && e.err.trim().split('\n').length === 1,
    'without HOME or XDG variables it says which option to give', e.err);
  const unitState = path.join(tmp, 'unit-state');
  fs.mkdirSync(unitState, { mode: 0o700 });
  const f = await startServer(['--listen', `127.0.0.1:${p4}`, '--open', '--web-root', WEB],
    { env: { ...bare, STATE_DIRECTORY: unitState, MEDCALL_LOG: 'info' } });
  check(f.code === null && fs.existsSync(path.join(unitState, 'cert.pem')),
    'with $STATE_DIRECTORY it keeps its certificate there', f.err);
  await stopServer(f);

  // systemd's Type=notify (sd_notify(3)): READY=1 once it listens,
  // RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM. The
  // receiving end is a datagram socket, as systemd's is (python3: node has
  // no AF_UNIX datagrams).
  const sock = path.join(tmp, 'notify.sock');
  const recv = spawn('python3', ['-c', [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind(sys.argv[1])',
    'print("bound", flush=True)',
    'while True:',
    '    print(s.recv(4096).decode().replace("\\n", " "), flush=True)'].join('\n'), sock]);
  procs.add(recv);
  let notes = '';
  recv.stdout.on('data', (d) => { notes += d; });
  await waitFor(() => notes.includes('bound'));
  const p7 = await freePort();
  const n = await startServer(baseArgs(p7, ['--open']), { env: { ...process.env, NOTIFY_SOCKET: sock } });
  await waitFor(() => notes.includes('READY=1'));
  const listeningWhenReady = (await tcpConnect(p7)).ok;
  n.proc.kill('SIGHUP');
  await waitFor(() => (notes.match(/READY=1/g) || []).length >= 2);
  n.proc.kill('SIGTERM');
  await waitFor(() => notes.includes('STOPPING=1'));
  await Promise.race([n.exited, sleep(WAIT_MS)]);
  const seq = notes.split('\n').map((l) => (l.match(/READY=1|RELOADING=1|STOPPING=1/) || [])[0]).filter(Boolean);
  check(JSON.stringify(seq.slice(0, 4)) === JSON.stringify(['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']) &&
    listeningWhenReady && /MONOTONIC_USEC=\d+/.test(notes),
  'sd_notify: READY once listening, RELOADING and READY around SIGHUP, STOPPING on SIGTERM', notes);
  recv.kill();

  // stderr: syslog priorities when it is journald's stream, UTC times
  // otherwise
  const errFile = path.join(tmp, 'journal-stream');
  const fd = fs.openSync(errFile, 'w');
  const st = fs.fstatSync(fd);
  const p6 = await freePort();
  const j = spawn(SERVER, ['--open', '--listen', `127.0.0.1:${p6}`, '--state-dir', path.join(tmp, 'state'), '--web-root',
    WEB], { env: { ...process.env, MEDCALL_LOG: 'info', JOURNAL_STREAM: `${st.dev}:${st.ino}` }, stdio: ['ignore', 'ignore', fd] });
  procs.add(j);
  await waitFor(() => /listening/.test(fs.readFileSync(errFile, 'utf8')));
  j.kill('SIGTERM');
  await new Promise((res) => j.on('exit', res));
  fs.closeSync(fd);
  const jl = fs.readFileSync(errFile, 'utf8').trim().split('\n');
  check(jl.length > 1 && jl.every((l) => /^<[3-7]>(debug|info|warn|error) /.test(l)),
    'under journald each log line starts with its syslog priority', jl.slice(0, 3));
  const tl = f.err.trim().split('\n').filter((l) => / info /.test(l));
  check(tl.length > 0 && tl.every((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info /.test(l)),
    'elsewhere each log line starts with the UTC time', tl.slice(0, 2));

  // the config file: '#' inside a value is kept; unknown names are FILE:LINE
  const conf = path.join(tmp, 'server.conf');
  fs.writeFileSync(conf, '# the clinic\ndoctor-token = Xk9#q2Lr   # a comment after a space\n');
  const p5 = await freePort();
  const g = await startServer(['--config', conf, ...baseArgs(p5)]);
  const wrong = await client(p5);
  wrong.send({ type: 'create', token: 'Xk9' });
  const wrongAnswer = await wrong.next();
  const right = await client(p5);
  right.send({ type: 'create', token: 'Xk9#q2Lr' });
  const rightAnswer = await right.next();
  check(wrongAnswer && wrongAnswer.code === 'unauthorized' && rightAnswer && rightAnswer.type === 'created',
    "a token with '#' in the config file is kept whole", [wrongAnswer, rightAnswer && rightAnswer.type]);
  await wrong.close();
  await right.close();
  await stopServer(g);
  fs.writeFileSync(conf, 'open\n\nlisten-to = 1.2.3.4\n');
  r = spawnSync(SERVER, ['--config', conf], { encoding: 'utf8' });
  check(r.status === 2 && r.stderr.includes(`${conf}:3:`) && /Unknown option "listen-to"/.test(r.stderr),
    'an unknown name in the config file is an error with FILE:LINE', r.stderr);
}

// ------------------------------------------------------------ a scripted consultation
async function consultation() {
  const port = await freePort();
  const mport = await freePort();
  const audit = path.join(tmp, 'audit.log');
  const srv = await startServer(baseArgs(port, ['--doctor-token', 'doc-secret-1', '--metrics-listen',
    `127.0.0.1:${mport}`, '--audit-log', audit]), { listening: 2 });
  check(srv.code === null, 'server with metrics and audit log starts', srv.err);
  let h = await get(`http://127.0.0.1:${mport}/healthz`);
  check(h.status === 200 && h.body === 'ok\n', '/healthz answers 200 while serving', h);

  const doctor = await client(port);
  doctor.send({ type: 'create', token: 'doc-secret-1' });
  const created = await doctor.next('created');
  const patient = await client(port);
  patient.send({ type: 'join', room: created.room, name: '김민수 Patient' });
  await patient.next('waiting');
  const knock = await doctor.next('knock');
  doctor.send({ type: 'admit', knock: knock.knock });
  await patient.next('admitted');
  await doctor.next('admitted');
  doctor.send({ type: 'offer', sdp: SDP });
  const offer = await patient.next('offer');
  patient.send({ type: 'answer', sdp: SDP });
  await doctor.next('answer');
  patient.send({ type: 'candidate', candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host', sdpMid: '0' });
  await doctor.next('candidate');
  patient.send('{"v":1,"type":'); // bad JSON
  const bad = await patient.next('error');
  doctor.send({ type: 'create', token: 'wrong' }); // wrong-state: it already holds a session
  await doctor.next('error');
  await patient.close(); // away
  await waitFor(async () => (await doctor.next('peer-away', 100)) !== null);
  const back = await client(port);
  back.send({ type: 'resume' });
  await back.next('error'); // bad-field: no session id
  await back.close();
  doctor.send({ type: 'end' });
  await doctor.next('ended');
  await doctor.close();
  check(offer && bad && bad.code === 'bad-json', 'the scripted call ran', [offer && offer.type, bad && bad.code]);

  const m = await waitFor(async () => {
    const r = await get(`http://127.0.0.1:${mport}/metrics`);
    return metric(r.body, 'medcall_connections{kind="websocket"}') === 0 ? r : null;
  });
  check(m && m.status === 200 && /text\/plain; version=0\.0\.4/.test(m.headers['content-type']),
    '/metrics answers in the text exposition format', m && m.headers);
  const text = m ? m.body : '';
  const pc = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  check(pc.status === 0, 'promtool check metrics accepts /metrics', pc.stdout + pc.stderr);
  const want = {
    'medcall_rooms_created_total': 1,
    'medcall_knocks_total': 1,
    'medcall_calls_admitted_total': 1,
    'medcall_rooms_ended_total{reason="ended-by-doctor"}': 1,
    'medcall_messages_relayed_total': 3,
    'medcall_messages_rejected_total{code="bad-json"}': 1,
    'medcall_messages_rejected_total{code="wrong-state"}': 1,
    'medcall_messages_rejected_total{code="bad-field"}': 1,
    'medcall_rooms': 0,
    'medcall_patients_waiting': 0,
    'medcall_calls_in_progress': 0,
    'medcall_connections{kind="websocket"}': 0,
    'medcall_doctor_token_failures_total': 0,
    'medcall_up': 1,
  };
  for (const [k, v] of Object.entries(want)) check(metric(text, k) === v, `metric ${k} = ${v}`, metric(text, k));
  check(metric(text, 'medcall_tls_handshakes_total') >= 3, 'TLS handshakes are counted',
    metric(text, 'medcall_tls_handshakes_total'));
  check(metric(text, 'process_open_fds') > 0 && metric(text, 'process_resident_memory_bytes') > 1e6 &&
    metric(text, 'process_cpu_seconds_total') >= 0, 'process figures are there');

  const lines = fs.readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const events = lines.map((l) => `${l.event}${l.role ? ':' + l.role : ''}${l.reason ? ':' + l.reason : ''}`);
  check(JSON.stringify(events) === JSON.stringify(['created:doctor', 'knocked:patient', 'admitted:patient',
    'away:patient', 'ended:ended-by-doctor']), 'the audit log holds exactly what happened', events);
  const rooms = new Set(lines.map((l) => l.room));
  check(rooms.size === 1 && /^[0-9a-f]{32}$/.test([...rooms][0]), 'every line names the room by one keyed hash',
    [...rooms]);
  check(lines.every((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(l.time)), 'every line has its time');
  check(lines.slice(0, 4).every((l) => l.addr === '127.0.0.1'), 'lines about a peer carry its address');
  const raw = fs.readFileSync(audit, 'utf8');
  check(!raw.includes(created.room) && !raw.includes('김민수') && !raw.includes('Patient') &&
    !raw.includes('doc-secret') && !raw.includes('v=0') && !raw.includes(created.link),
    'no room id, link, name, token or SDP in the audit log');

  // logrotate: move the file, SIGHUP, the next event lands in a new file
  fs.renameSync(audit, audit + '.1');
  srv.proc.kill('SIGHUP');
  await waitFor(() => /reloaded/.test(srv.out));
  const d2 = await client(port);
  d2.send({ type: 'create', token: 'doc-secret-1' });
  await d2.next('created');
  const fresh = await waitFor(() => fs.existsSync(audit) && fs.readFileSync(audit, 'utf8'));
  check(fresh && /"event":"created"/.test(fresh) && fs.readFileSync(audit + '.1', 'utf8').split('\n').length === 6,
    'SIGHUP reopens the audit log (a rotated file stays whole)', fresh);

  // draining: /healthz says 503 while clients are still connected
  srv.proc.kill('SIGTERM');
  h = await waitFor(async () => { const r = await get(`http://127.0.0.1:${mport}/healthz`); return r.status === 503 ? r : null; });
  check(h && h.body === 'draining\n', '/healthz answers 503 while draining', h);
  const refused = await tcpConnect(port);
  check(!refused.ok, 'a draining server takes no new connections', refused.error);
  refused.s.destroy();
  await d2.close();
  await Promise.race([srv.exited, sleep(WAIT_MS)]);
  check(srv.code === 0, 'it exits 0 once drained', srv.code);
}

// ------------------------------------------------------------ hardening
async function hardening() {
  const port = await freePort();
  const mport = await freePort();
  // OPS_BEFORE=1 runs this part against a server from before these options
  // existed (to see each check fail without its fix).
  const newer = process.env.OPS_BEFORE === '1' ? [] : ['--handshake-timeout', '2s', '--metrics-listen', `127.0.0.1:${mport}`];
  const srv = await startServer(baseArgs(port, ['--doctor-token', 'right-token', '--max-conns-per-ip', '20',
    '--ip-rate', '2', '--ip-burst', '30', ...newer]), { listening: newer.length ? 2 : 1 });

  // headers on a page and on a 404
  const page = await get(`https://127.0.0.1:${port}/r/AAAAAAAAAAAAAAAAAAAAAA`);
  const nf = await get(`https://127.0.0.1:${port}/nothing-here`);
  for (const [name, r] of [['the page', page], ['a 404', nf]]) {
    check(/max-age=\d+/.test(r.headers['strict-transport-security'] || ''), `HSTS on ${name}`, r.headers);
    check(r.headers['x-content-type-options'] === 'nosniff' && /frame-ancestors 'none'/.test(
      r.headers['content-security-policy'] || '') && r.headers['referrer-policy'] === 'no-referrer',
    `security headers on ${name}`, r.headers);
  }
  check(page.status === 200 && nf.status === 404, 'page 200, unknown path 404', [page.status, nf.status]);

  // TLS policy
  const sc = (args) => spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args],
    { input: '', encoding: 'utf8', timeout: WAIT_MS });
  const cipherOf = (r) => ((r.stdout || '').match(/Cipher is (\S+)/) || [])[1];
  check(cipherOf(sc(['-tls1_1'])) === '(NONE)', 'TLS 1.1 is refused');
  check(cipherOf(sc(['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA'])) === '(NONE)', 'a CBC-SHA1 suite is refused');
  check(cipherOf(sc(['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA256'])) === '(NONE)', 'a CBC-SHA256 suite is refused');
  check(/GCM|CHACHA20/.test(cipherOf(sc(['-tls1_2'])) || ''), 'TLS 1.2 with an AEAD suite works');
  check(/^TLS_/.test(cipherOf(sc(['-tls1_3'])) || ''), 'TLS 1.3 works');

  // silent TCP connections from one address: the limit holds before any
  // handshake, others are still served, silent ones go after the timeout
  const socks = [];
  for (let i = 0; i < 60; i++) socks.push((await tcpConnect(port)).s);
  let closedAtOnce = 0;
  await sleep(300);
  for (const s of socks) if (s.gone) closedAtOnce++;
  const other = await get(`https://127.0.0.1:${port}/`, '127.0.0.2');
  check(closedAtOnce >= 40 && closedAtOnce <= 41, '20 silent connections from one address are kept, the rest closed at once',
    closedAtOnce);
  check(other.status === 200, 'another address is served meanwhile', other.status);
  const t0 = Date.now();
  await waitFor(() => socks.every((s) => s.gone), 10000);
  check(socks.every((s) => s.gone) && Date.now() - t0 < 8000,
    'the silent ones are closed after the handshake timeout', Date.now() - t0);
  for (const s of socks) s.destroy();
  let mt = (await get(`http://127.0.0.1:${mport}/metrics`)).body;
  check(metric(mt, 'medcall_connections_refused_total') >= 40, 'refused connections are counted',
    metric(mt, 'medcall_connections_refused_total'));

  // the address's bucket outlives its connections: reconnecting does not
  // refill it (ip-burst 30 at 2/s)
  let limited = 0;
  for (let cycle = 0; cycle < 6 && !limited; cycle++) {
    const c = await client(port);
    for (let i = 0; i < 10; i++) c.send({ type: 'ping' });
    for (let i = 0; i < 10; i++) {
      const a = await c.next(null, 2000);
      if (a && a.type === 'error' && a.code === 'rate-limited') limited++;
    }
    await c.close();
  }
  check(limited > 0, 'reconnecting in cycles does not escape the per-address rate', limited);

  // wrong doctor tokens: locked out after 5, with the right token too,
  // logged once with the address
  const guess = await client(port, { localAddress: '127.0.0.5' });
  const answers = [];
  for (let i = 0; i < 7; i++) {
    guess.send({ type: 'create', token: `guess-${i}` });
    answers.push((await guess.next('error')).code);
  }
  guess.send({ type: 'create', token: 'right-token' });
  const afterLock = await guess.next();
  await guess.close();
  check(answers.slice(0, 5).every((c) => c === 'unauthorized') && answers.slice(5).every((c) => c === 'rate-limited'),
    'five wrong doctor tokens lock the address out', answers);
  check(afterLock && afterLock.type === 'error' && afterLock.code === 'rate-limited',
    'a locked-out address cannot create a room even with the right token', afterLock);
  const lockLines = srv.err.split('\n').filter((l) => /locked out/.test(l));
  check(lockLines.length === 1 && /addr=127\.0\.0\.5/.test(lockLines[0]) && !/right-token|guess-/.test(srv.err),
    'the lockout is logged once, with the address, never the tokens', lockLines);
  const elsewhere = await client(port, { localAddress: '127.0.0.3' });
  elsewhere.send({ type: 'create', token: 'right-token' });
  const ok3 = await elsewhere.next();
  check(ok3 && ok3.type === 'created', 'another address still creates rooms', ok3);

  // the pre-call check's ice request is limited per address
  const iceAnswers = [];
  const ice = await client(port, { localAddress: '127.0.0.4' });
  for (let i = 0; i < 8; i++) {
    ice.send({ type: 'ice', room: ok3.room });
    const a = await ice.next();
    iceAnswers.push(a && (a.type === 'error' ? a.code : a.type));
  }
  check(iceAnswers.slice(0, 5).every((t) => t === 'ice-servers') && iceAnswers.slice(5).every((t) => t === 'rate-limited'),
    'ice requests from one address are limited', iceAnswers);
  await ice.close();
  await elsewhere.close();
  mt = (await get(`http://127.0.0.1:${mport}/metrics`)).body;
  check(metric(mt, 'medcall_addresses_locked_out_total') === 1 && metric(mt, 'medcall_doctor_token_failures_total') === 5,
    'lockouts and wrong tokens are counted', [metric(mt, 'medcall_addresses_locked_out_total'),
      metric(mt, 'medcall_doctor_token_failures_total')]);
  await stopServer(srv);
}

(async () => {
  // OPS_ONLY=name runs one part.
  for (const [name, fn] of [['lifecycle', lifecycle], ['consultation', consultation], ['hardening', hardening]]) {
    if (process.env.OPS_ONLY && process.env.OPS_ONLY !== name) continue;
    console.log(`# ${name}`);
    try {
      await fn();
    } catch (e) {
      check(false, `${name} ran to the end`, e.stack);
    }
  }
  console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
  cleanup();
  process.exit(failures ? 1 : 0);
})();
