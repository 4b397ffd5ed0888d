/* sctp: usrsctp in AF_CONN mode without threads, and WebRTC data channels
 * (RFC 8831) on its streams.
 *
 * Re-entrancy: usrsctp calls back (conn_output) from inside its own calls,
 * with its locks held. Nothing user-visible runs there: conn_output only
 * appends the packet to the instance's output queue, and every mc_sctp_*
 * entry point hands queued packets to the send callback once usrsctp has
 * returned. Events (on_message, on_channel_open, ...) are raised only from
 * mc_sctp_receive and mc_sctp_handle_timers, at the outermost level; a
 * callback may call any mc_sctp_* function, including mc_sctp_free, which is
 * then deferred until the outermost call unwinds. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <usrsctp.h>

#include "sctp/sctp.h"
#include "sctp/sctp_private.h"
#include "util/util.h"

#define COMP "sctp"

/* SCTP packets of at most 1200 bytes, so that with the DTLS record, UDP
 * and IP headers they stay about the IPv6 minimum MTU (RFC 8261 5, RFC
 * 8831 5). usrsctp's AF_CONN path MTU leaves out the 12-byte common header. */
#define SCTP_MAX_PACKET 1200
#define SCTP_MTU (SCTP_MAX_PACKET - 12)
/* usrsctp takes a message only when all of it fits its send buffer; the
 * buffer is also the largest message we can send (RFC 8831 6.6 leaves
 * the limit to the implementation). */
#define SCTP_SNDBUF (2 * 1024 * 1024)
#define SCTP_RCVBUF (2 * 1024 * 1024)
#define SCTP_STREAMS 1024

/* RFC 8831 8. Payload Protocol Identifiers */
#define PPID_DCEP 50
#define PPID_STRING 51
#define PPID_BINARY 53
#define PPID_STRING_EMPTY 56
#define PPID_BINARY_EMPTY 57

#define SEND_OK 0
#define SEND_WOULD_BLOCK 1

enum chan_state { CH_OPENING, CH_OPEN, CH_CLOSING, CH_CLOSED };

struct msg {
  struct msg *next;
  size_t len;
  uint32_t ppid;
  uint8_t data[];
};

struct channel {
  uint16_t id;
  enum chan_state state;
  bool remote;
  /* RFC 8832 6: the opener sends ordered until the DATA_CHANNEL_ACK. */
  bool acked;
  bool ordered;
  uint16_t pr_policy;
  uint32_t pr_value;
  char label[MC_SCTP_LABEL_MAX + 1];
  char protocol[MC_SCTP_LABEL_MAX + 1];

  struct msg *head, *tail;
  size_t buffered; /* user bytes queued here, not yet taken by usrsctp */
  size_t low_threshold;
  bool in_sendq;
  struct channel *sendq_next;

  bool reset_wanted, reset_sent, out_reset_done, in_reset_done;
  uint8_t reset_tries; /* refused outgoing resets retried (a collision with the peer's) */
  uint64_t reset_wait_ms; /* when the reset could first have gone (all its messages out) */
  bool open_pending, low_pending, closed_fired;
};

struct rx {
  uint8_t *buf;
  size_t len, cap;
  bool dropping;
};

struct mc_sctp {
  struct mc_sctp_config cfg;
  struct mc_sctp_callbacks cbs;
  void *user;
  struct socket *sock;
  enum mc_sctp_state state, reported_state;
  uint16_t streams;
  size_t send_limit;

  struct channel *ch[MC_SCTP_MAX_CHANNELS];
  struct channel *sendq_head, *sendq_tail; /* channels with queued messages, round robin */
  bool resets_pending;
  bool events_pending;

  /* SCTP packets from conn_output, [u32 len][bytes]... (guarded by reg_lock). */
  uint8_t *out;
  size_t out_len, out_cap;

  uint8_t *rbuf;
  struct rx rx[MC_SCTP_MAX_CHANNELS];

  int depth;
  bool dead;
  struct mc_sctp *reg_next;
};

/* ---- process-wide usrsctp set-up and the instance registry ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mc_sctp *reg_head;

static bool registered_locked(const struct mc_sctp *s) {
  for (const struct mc_sctp *p = reg_head; p; p = p->reg_next)
    if (p == s) return true;
  return false;
}

static int out_append_locked(struct mc_sctp *s, const void *data, size_t len) {
  size_t need = s->out_len + 4 + len;
  if (need > s->out_cap) {
    size_t cap = s->out_cap ? s->out_cap : 16384;
    while (cap < need) cap *= 2;
    uint8_t *n = realloc(s->out, cap);
    if (!n) return -1;
    s->out = n;
    s->out_cap = cap;
  }
  uint32_t l = (uint32_t)len;
  memcpy(s->out + s->out_len, &l, 4);
  memcpy(s->out + s->out_len + 4, data, len);
  s->out_len = need;
  return 0;
}


/* usrsctp's output: addr is the sender's own sconn_addr, i.e. the instance. */
static int conn_output(void *addr, void *buffer, size_t length, uint8_t tos, uint8_t set_df) {
  (void)tos;
  (void)set_df;
  int rc = -1;
  pthread_mutex_lock(&reg_lock);
  struct mc_sctp *s = addr;
  if (registered_locked(s) && !s->dead) rc = out_append_locked(s, buffer, length);
  pthread_mutex_unlock(&reg_lock);
  return rc;
}

static void debug_printf(const char *format, ...) {
  char line[512];
  va_list ap;
  va_start(ap, format);
  vsnprintf(line, sizeof line, format, ap);
  va_end(ap);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  MC_LOGD(COMP, "usrsctp: %s", line);
}

static void init_usrsctp(void) {
  usrsctp_init_nothreads(0, conn_output, debug_printf);
  /* Browsers do not negotiate ECN on data channels. */
  usrsctp_sysctl_set_sctp_ecn_enable(0);
  usrsctp_sysctl_set_sctp_pr_enable(1);
  usrsctp_sysctl_set_sctp_reconfig_enable(1);
  usrsctp_sysctl_set_sctp_nrsack_enable(0);
  /* One path over DTLS: no address reconfiguration, hence no AUTH for it
   * (as Firefox and Chrome configure usrsctp). */
  usrsctp_sysctl_set_sctp_asconf_enable(0);
  usrsctp_sysctl_set_sctp_auto_asconf(0);
  usrsctp_sysctl_set_sctp_auth_enable(0);
  usrsctp_sysctl_set_sctp_sendspace(SCTP_SNDBUF);
  usrsctp_sysctl_set_sctp_recvspace(SCTP_RCVBUF);
  /* The default (512 chunks) would refuse sends long before the buffer is full. */
  usrsctp_sysctl_set_sctp_max_chunks_on_queue(16 * 1024);
  /* RFC 8831 6.1 leaves the timers to the implementation: WebRTC stacks use
   * an initial RTO of 1 s, a floor well under RFC 4960's 1 s and a 20 ms
   * delayed SACK so that losses on a fast path recover quickly. */
  usrsctp_sysctl_set_sctp_rto_initial_default(1000);
  usrsctp_sysctl_set_sctp_rto_min_default(200);
  usrsctp_sysctl_set_sctp_rto_max_default(10000);
  usrsctp_sysctl_set_sctp_init_rto_max_default(10000);
  usrsctp_sysctl_set_sctp_init_rtx_max_default(8);
  usrsctp_sysctl_set_sctp_assoc_rtx_max_default(10);
  usrsctp_sysctl_set_sctp_path_rtx_max_default(10);
  usrsctp_sysctl_set_sctp_delayed_sack_time_default(20);
  usrsctp_sysctl_set_sctp_heartbeat_interval_default(10000);
  usrsctp_sysctl_set_sctp_initial_cwnd(10);
  usrsctp_sysctl_set_sctp_default_cc_module(SCTP_CC_HTCP);
}

static void ensure_init(void) { pthread_once(&init_once, init_usrsctp); }

/* ---- channels ---- */

static void set_state(mc_sctp *s, enum mc_sctp_state st) {
  if (s->state == st) return;
  MC_LOGI(COMP, "state %d -> %d", (int)s->state, (int)st);
  s->state = st;
  s->events_pending = true;
}

static void sendq_remove(mc_sctp *s, struct channel *c) {
  if (!c->in_sendq) return;
  struct channel **pp = &s->sendq_head, *prev = NULL;
  while (*pp && *pp != c) {
    prev = *pp;
    pp = &(*pp)->sendq_next;
  }
  if (*pp) {
    *pp = c->sendq_next;
    if (s->sendq_tail == c) s->sendq_tail = prev;
  }
  c->sendq_next = NULL;
  c->in_sendq = false;
}

static void sendq_push(mc_sctp *s, struct channel *c) {
  if (c->in_sendq) return;
  c->sendq_next = NULL;
  if (s->sendq_tail) s->sendq_tail->sendq_next = c;
  else s->sendq_head = c;
  s->sendq_tail = c;
  c->in_sendq = true;
}

static void drop_queue(struct channel *c) {
  struct msg *m = c->head;
  while (m) {
    struct msg *n = m->next;
    free(m);
    m = n;
  }
  c->head = c->tail = NULL;
  c->buffered = 0;
}

static void channel_free(mc_sctp *s, struct channel *c) {
  sendq_remove(s, c);
  drop_queue(c);
  s->ch[c->id] = NULL;
  free(c);
}

static int enqueue(mc_sctp *s, struct channel *c, const uint8_t *data, size_t len, uint32_t ppid) {
  struct msg *m = malloc(sizeof *m + len);
  if (!m) return MC_ENOMEM;
  m->next = NULL;
  m->len = len;
  m->ppid = ppid;
  if (len) memcpy(m->data, data, len);
  if (c->tail) c->tail->next = m;
  else c->head = m;
  c->tail = m;
  if (ppid != PPID_DCEP) c->buffered += len;
  sendq_push(s, c);
  return MC_OK;
}

/* One message to usrsctp: SEND_OK, SEND_WOULD_BLOCK or a negative MC_E code. */
static int sctp_send_one(mc_sctp *s, struct channel *c, const uint8_t *data, size_t len, uint32_t ppid) {
  static const uint8_t zero = 0;
  struct sctp_sendv_spa spa;
  memset(&spa, 0, sizeof spa);
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = c->id;
  spa.sendv_sndinfo.snd_ppid = htonl(ppid);
  if (ppid != PPID_DCEP) {
    if (!c->ordered && c->acked) spa.sendv_sndinfo.snd_flags |= SCTP_UNORDERED;
    if (c->pr_policy != SCTP_PR_SCTP_NONE) {
      spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
      spa.sendv_prinfo.pr_policy = c->pr_policy;
      spa.sendv_prinfo.pr_value = c->pr_value;
    }
  }
  /* RFC 8831 6.6: an empty message is one byte with an _EMPTY PPID. */
  const void *p = len ? (const void *)data : (const void *)&zero;
  ssize_t n = usrsctp_sendv(s->sock, p, len ? len : 1, NULL, 0, &spa, (socklen_t)sizeof spa, SCTP_SENDV_SPA, 0);
  if (n >= 0) return SEND_OK;
  if (errno == EWOULDBLOCK || errno == EAGAIN) return SEND_WOULD_BLOCK;
  MC_LOGW(COMP, "send failed id=%u len=%zu errno=%d", c->id, len, errno);
  return MC_EIO;
}

static void note_dequeued(mc_sctp *s, struct channel *c, const struct msg *m) {
  if (m->ppid == PPID_DCEP) return;
  size_t before = c->buffered;
  c->buffered -= m->len;
  if (before > c->low_threshold && c->buffered <= c->low_threshold) {
    c->low_pending = true;
    s->events_pending = true;
  }
}

/* Round robin over channels with queued messages, one message each turn. */
static void flush_channels(mc_sctp *s) {
  while (s->sendq_head && !s->dead && s->sock) {
    struct channel *c = s->sendq_head;
    struct msg *m = c->head;
    if (!m) {
      sendq_remove(s, c);
      continue;
    }
    int r = sctp_send_one(s, c, m->data, m->len, m->ppid);
    if (r == SEND_WOULD_BLOCK) break;
    if (r < 0) MC_LOGW(COMP, "message dropped id=%u len=%zu", c->id, m->len);
    c->head = m->next;
    if (!c->head) c->tail = NULL;
    note_dequeued(s, c, m);
    free(m);
    sendq_remove(s, c);
    if (c->head) sendq_push(s, c);
    else if (c->reset_wanted) s->resets_pending = true;
  }
}

/* A request to reset an outgoing stream carries our last assigned TSN; a
 * peer that has not received up to it yet answers "in progress" and must
 * perform the reset later (RFC 6525 5.2.2: "the receiver of the request
 * MUST defer the reset"). usrsctp, as the receiver, sometimes never does:
 * when the chunk that completes the sequence is a retransmission filling
 * a gap and nothing follows it, every retransmitted request is answered
 * "in progress" again and the channel never closes (seen in the lab: both
 * sides closing a channel they had just sent a burst on). So the request
 * waits until everything we sent was acknowledged (no deferral at the
 * peer), for at most RESET_DRY_WAIT_MS, as a channel that always has data
 * in flight must still close. Each acknowledgement runs process(), which
 * retries. */
#define RESET_DRY_WAIT_MS 3000
static bool data_in_flight(mc_sctp *s) {
  struct sctp_status st;
  socklen_t len = sizeof st;
  memset(&st, 0, sizeof st);
  if (usrsctp_getsockopt(s->sock, IPPROTO_SCTP, SCTP_STATUS, &st, &len) != 0) return false;
  return st.sstat_unackdata > 0 || st.sstat_penddata > 0;
}

/* RFC 8831 6.7: closing resets the outgoing stream, once its messages went. */
static void flush_resets(mc_sctp *s) {
  if (!s->resets_pending || !s->sock || s->dead || s->state != MC_SCTP_STATE_CONNECTED) return;
  uint16_t list[MC_SCTP_MAX_CHANNELS];
  size_t n = 0;
  bool waiting = false;
  bool in_flight = data_in_flight(s);
  uint64_t now = mc_now_ms();
  for (size_t i = 0; i < MC_SCTP_MAX_CHANNELS; i++) {
    struct channel *c = s->ch[i];
    if (!c || !c->reset_wanted || c->reset_sent) continue;
    if (c->head) {
      waiting = true;
      continue;
    }
    if (!c->reset_wait_ms) c->reset_wait_ms = now;
    if (in_flight && now - c->reset_wait_ms < RESET_DRY_WAIT_MS) {
      waiting = true;
      continue;
    }
    list[n++] = c->id;
  }
  if (n) {
    size_t sz = sizeof(struct sctp_reset_streams) + n * sizeof(uint16_t);
    struct sctp_reset_streams *srs = calloc(1, sz);
    if (!srs) return;
    srs->srs_assoc_id = SCTP_ALL_ASSOC;
    srs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    srs->srs_number_streams = (uint16_t)n;
    memcpy(srs->srs_stream_list, list, n * sizeof(uint16_t));
    int rc = usrsctp_setsockopt(s->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, srs, (socklen_t)sz);
    int err = errno;
    free(srs);
    if (rc == 0) {
      for (size_t i = 0; i < n; i++) s->ch[list[i]]->reset_sent = true;
      MC_LOGD(COMP, "stream reset requested streams=%zu first=%u", n, list[0]);
    } else if (err == EALREADY || err == EBUSY || err == EINPROGRESS || err == EAGAIN) {
      waiting = true; /* one request at a time (RFC 6525 5.1): retried on the next turn */
    } else {
      MC_LOGW(COMP, "stream reset failed streams=%zu errno=%d", n, err);
      for (size_t i = 0; i < n; i++) {
        struct channel *c = s->ch[list[i]];
        c->reset_sent = c->out_reset_done = true;
        if (c->in_reset_done) channel_free(s, c);
      }
    }
  }
  s->resets_pending = waiting;
}

/* Hands queued packets to the send callback, in order. The buffer is taken
 * out under the lock so that conn_output may append while callbacks run. */
static void flush_output(mc_sctp *s) {
  for (;;) {
    pthread_mutex_lock(&reg_lock);
    uint8_t *buf = s->out;
    size_t len = s->out_len, cap = s->out_cap;
    if (len) {
      s->out = NULL;
      s->out_len = s->out_cap = 0;
    }
    pthread_mutex_unlock(&reg_lock);
    if (!len) return;
    for (size_t off = 0; off + 4 <= len;) {
      uint32_t l;
      memcpy(&l, buf + off, 4);
      if (!s->dead && s->cbs.send) s->cbs.send(buf + off + 4, l, s->user);
      off += 4 + l;
    }
    pthread_mutex_lock(&reg_lock);
    if (!s->out) {
      s->out = buf;
      s->out_cap = cap;
      buf = NULL;
    }
    pthread_mutex_unlock(&reg_lock);
    free(buf);
  }
}

/* ---- events (raised only at the outermost level of receive/timers) ---- */

static void report_state(mc_sctp *s) {
  if (s->dead || s->reported_state == s->state) return;
  s->reported_state = s->state;
  if (s->cbs.on_state) s->cbs.on_state(s->state, s->user);
}

static void fire_closed(mc_sctp *s, struct channel *c) {
  if (c->closed_fired) return;
  c->closed_fired = true;
  MC_LOGI(COMP, "channel closed id=%u", c->id);
  if (!s->dead && s->cbs.on_channel_closed) s->cbs.on_channel_closed(c->id, s->user);
}

static void fire_pending(mc_sctp *s) {
  if (!s->events_pending) return;
  s->events_pending = false;
  report_state(s);
  for (size_t i = 0; i < MC_SCTP_MAX_CHANNELS && !s->dead; i++) {
    struct channel *c = s->ch[i];
    if (!c) continue;
    if (c->open_pending) {
      c->open_pending = false;
      if (s->cbs.on_channel_open) s->cbs.on_channel_open(c->id, c->label, c->protocol, c->remote, s->user);
      if (s->dead || s->ch[i] != c) continue;
    }
    if (c->low_pending) {
      c->low_pending = false;
      if (s->cbs.on_buffered_amount_low) s->cbs.on_buffered_amount_low(c->id, s->user);
    }
  }
}

/* The association is gone: every channel closes with it. */
static void close_all_channels(mc_sctp *s) {
  for (size_t i = 0; i < MC_SCTP_MAX_CHANNELS && !s->dead; i++) {
    struct channel *c = s->ch[i];
    if (!c) continue;
    c->state = CH_CLOSED;
    drop_queue(c);
    sendq_remove(s, c);
    bool fire = !c->closed_fired;
    c->closed_fired = true;
    channel_free(s, c);
    if (fire && s->cbs.on_channel_closed) s->cbs.on_channel_closed((uint16_t)i, s->user);
  }
}

/* ---- DCEP (RFC 8832) ---- */

static void dc_policy(struct channel *c, uint8_t channel_type, uint32_t reliability) {
  c->ordered = (channel_type & 0x80) == 0;
  switch (channel_type & 0x7f) {
    case MC_DCEP_PARTIAL_RELIABLE_REXMIT:
      c->pr_policy = SCTP_PR_SCTP_RTX;
      c->pr_value = reliability;
      break;
    case MC_DCEP_PARTIAL_RELIABLE_TIMED:
      c->pr_policy = SCTP_PR_SCTP_TTL;
      c->pr_value = reliability;
      break;
    default:
      c->pr_policy = SCTP_PR_SCTP_NONE;
      c->pr_value = 0;
      break;
  }
}

/* RFC 8832 6: the peer opened a channel; answer DATA_CHANNEL_ACK on it. */
static void handle_dcep_open(mc_sctp *s, uint16_t sid, const uint8_t *data, size_t len) {
  struct mc_dcep_open open;
  if (mc_dcep_parse_open(data, len, &open) != MC_OK) {
    MC_LOGW(COMP, "bad DATA_CHANNEL_OPEN dropped id=%u len=%zu", sid, len);
    return;
  }
  if (s->ch[sid]) {
    MC_LOGW(COMP, "DATA_CHANNEL_OPEN for a stream in use dropped id=%u", sid);
    return;
  }
  if ((sid % 2 == 0) == s->cfg.is_dtls_client)
    MC_LOGW(COMP, "peer opened a stream of our parity id=%u", sid);
  struct channel *c = calloc(1, sizeof *c);
  if (!c) return;
  c->id = sid;
  c->state = CH_OPEN;
  c->remote = true;
  c->acked = true;
  dc_policy(c, open.channel_type, open.reliability);
  memcpy(c->label, open.label, sizeof c->label);
  memcpy(c->protocol, open.protocol, sizeof c->protocol);
  s->ch[sid] = c;
  static const uint8_t ack = MC_DCEP_ACK;
  if (enqueue(s, c, &ack, 1, PPID_DCEP) != MC_OK) {
    channel_free(s, c);
    return;
  }
  flush_channels(s);
  MC_LOGI(COMP, "channel open id=%u remote=1 type=0x%02x", sid, open.channel_type);
  if (s->cbs.on_channel_open) s->cbs.on_channel_open(sid, c->label, c->protocol, true, s->user);
}

static void channel_acked(mc_sctp *s, struct channel *c) {
  if (c->state != CH_OPENING || c->acked) return;
  c->acked = true;
  c->state = CH_OPEN;
  MC_LOGI(COMP, "channel open id=%u remote=0", c->id);
  if (s->cbs.on_channel_open) s->cbs.on_channel_open(c->id, c->label, c->protocol, false, s->user);
}

static void handle_message(mc_sctp *s, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t len) {
  if (ppid == PPID_DCEP) {
    if (len >= 1 && data[0] == MC_DCEP_OPEN) {
      handle_dcep_open(s, sid, data, len);
    } else if (len >= 1 && data[0] == MC_DCEP_ACK) {
      if (s->ch[sid]) channel_acked(s, s->ch[sid]);
    } else {
      MC_LOGW(COMP, "unknown DCEP message dropped id=%u len=%zu", sid, len);
    }
    return;
  }
  struct channel *c = s->ch[sid];
  if (!c || c->closed_fired) {
    MC_LOGD(COMP, "message on a stream with no channel dropped id=%u len=%zu", sid, len);
    return;
  }
  bool binary;
  switch (ppid) {
    case PPID_STRING: binary = false; break;
    case PPID_BINARY: binary = true; break;
    case PPID_STRING_EMPTY: binary = false; len = 0; break;
    case PPID_BINARY_EMPTY: binary = true; len = 0; break;
    default:
      MC_LOGW(COMP, "message with unsupported ppid dropped id=%u ppid=%u", sid, ppid);
      return;
  }
  /* RFC 8832 6: a user message can only follow the peer's ACK on an
   * ordered stream; on an unordered one it may overtake it, and it means
   * the peer has the channel. */
  if (c->state == CH_OPENING) channel_acked(s, c);
  if (s->dead) return;
  if (s->cbs.on_message) s->cbs.on_message(sid, data, len, binary, s->user);
}

/* One piece from usrsctp_recvv: whole messages go up as they are, partial
 * deliveries are reassembled per stream up to MC_SCTP_LOCAL_MAX_MESSAGE. */
static void handle_piece(mc_sctp *s, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t n, bool eor) {
  if (sid >= MC_SCTP_MAX_CHANNELS) return;
  struct rx *rx = &s->rx[sid];
  if (rx->dropping) {
    if (eor) rx->dropping = false;
    return;
  }
  if (rx->len == 0 && eor) {
    handle_message(s, sid, ppid, data, n);
    return;
  }
  if (rx->len + n > MC_SCTP_LOCAL_MAX_MESSAGE) {
    MC_LOGW(COMP, "incoming message above max-message-size dropped id=%u max=%d", sid,
            MC_SCTP_LOCAL_MAX_MESSAGE);
    free(rx->buf);
    rx->buf = NULL;
    rx->len = rx->cap = 0;
    rx->dropping = !eor;
    return;
  }
  if (rx->len + n > rx->cap) {
    size_t cap = rx->cap ? rx->cap : 65536;
    while (cap < rx->len + n) cap *= 2;
    if (cap > MC_SCTP_LOCAL_MAX_MESSAGE) cap = MC_SCTP_LOCAL_MAX_MESSAGE;
    uint8_t *b = realloc(rx->buf, cap);
    if (!b) {
      MC_LOGW(COMP, "out of memory, message dropped id=%u", sid);
      free(rx->buf);
      rx->buf = NULL;
      rx->len = rx->cap = 0;
      rx->dropping = !eor;
      return;
    }
    rx->buf = b;
    rx->cap = cap;
  }
  /* usrsctp never hands over an empty piece, but a first one of zero
   * bytes would leave buf unallocated: nothing to copy then. */
  if (n) memcpy(rx->buf + rx->len, data, n);
  rx->len += n;
  if (!eor) return;
  uint8_t *buf = rx->buf;
  size_t len = rx->len;
  rx->buf = NULL;
  rx->len = rx->cap = 0;
  handle_message(s, sid, ppid, buf, len);
  free(buf);
}

static void handle_stream_reset(mc_sctp *s, const struct sctp_stream_reset_event *ev, size_t len) {
  if (len < sizeof *ev) return;
  size_t avail = MC_MIN((size_t)ev->strreset_length, len);
  size_t count = avail > sizeof *ev ? (avail - sizeof *ev) / sizeof(uint16_t) : 0;
  bool all = count == 0;
  size_t n = all ? MC_SCTP_MAX_CHANNELS : count;
  uint16_t flags = ev->strreset_flags;
  for (size_t i = 0; i < n && !s->dead; i++) {
    uint16_t sid = all ? (uint16_t)i : ev->strreset_stream_list[i];
    if (sid >= MC_SCTP_MAX_CHANNELS) continue;
    struct channel *c = s->ch[sid];
    if (!c) continue;
    if (flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED)) {
      if (flags & SCTP_STREAM_RESET_OUTGOING_SSN) {
        /* RFC 6525 5.1: "in progress" when both sides reset at once: ask
         * again on the next turn, a bounded number of times. */
        if (c->reset_tries < 20) {
          c->reset_tries++;
          c->reset_sent = false;
          s->resets_pending = true;
          MC_LOGD(COMP, "outgoing stream reset refused, retrying id=%u try=%u", sid, c->reset_tries);
          continue;
        }
        MC_LOGW(COMP, "outgoing stream reset refused id=%u", sid);
        c->out_reset_done = true;
      }
    } else if (flags & SCTP_STREAM_RESET_INCOMING_SSN) {
      /* RFC 8831 6.7: the peer closed; reset ours too. */
      c->in_reset_done = true;
      c->state = CH_CLOSED;
      drop_queue(c);
      sendq_remove(s, c);
      s->rx[sid].len = 0;
      if (!c->reset_wanted) {
        c->reset_wanted = true;
        s->resets_pending = true;
      }
      fire_closed(s, c);
      if (s->dead || s->ch[sid] != c) continue;
    } else if (flags & SCTP_STREAM_RESET_OUTGOING_SSN) {
      c->out_reset_done = true;
    }
    if (c->in_reset_done && c->out_reset_done) channel_free(s, c);
  }
}

static void handle_notification(mc_sctp *s, const uint8_t *buf, size_t len) {
  const union sctp_notification *n = (const void *)buf;
  if (len < sizeof n->sn_header) return;
  switch (n->sn_header.sn_type) {
    case SCTP_ASSOC_CHANGE: {
      if (len < sizeof n->sn_assoc_change) return;
      const struct sctp_assoc_change *ac = &n->sn_assoc_change;
      switch (ac->sac_state) {
        case SCTP_COMM_UP:
          s->streams = MC_MIN(MC_MIN(ac->sac_outbound_streams, ac->sac_inbound_streams), MC_SCTP_MAX_CHANNELS);
          MC_LOGI(COMP, "association up streams_out=%u streams_in=%u", ac->sac_outbound_streams,
                  ac->sac_inbound_streams);
          set_state(s, MC_SCTP_STATE_CONNECTED);
          report_state(s);
          break;
        case SCTP_RESTART:
          MC_LOGW(COMP, "association restarted by the peer");
          break;
        case SCTP_COMM_LOST:
        case SCTP_SHUTDOWN_COMP:
        case SCTP_CANT_STR_ASSOC:
          MC_LOGI(COMP, "association down state=%u error=%u", ac->sac_state, ac->sac_error);
          set_state(s, MC_SCTP_STATE_CLOSED);
          close_all_channels(s);
          report_state(s);
          break;
        default:
          break;
      }
      break;
    }
    case SCTP_STREAM_RESET_EVENT:
      handle_stream_reset(s, &n->sn_strreset_event, len);
      break;
    case SCTP_PARTIAL_DELIVERY_EVENT:
      if (len >= sizeof n->sn_pdapi_event && n->sn_pdapi_event.pdapi_indication == SCTP_PARTIAL_DELIVERY_ABORTED) {
        uint32_t sid = n->sn_pdapi_event.pdapi_stream;
        if (sid < MC_SCTP_MAX_CHANNELS) {
          free(s->rx[sid].buf);
          memset(&s->rx[sid], 0, sizeof s->rx[sid]);
        }
      }
      break;
    case SCTP_SEND_FAILED_EVENT:
      MC_LOGD(COMP, "message abandoned (partial reliability)");
      break;
    case SCTP_SENDER_DRY_EVENT:
    default:
      break;
  }
}

static void read_all(mc_sctp *s) {
  while (!s->dead && s->sock) {
    struct sctp_rcvinfo info;
    struct sockaddr_conn from;
    socklen_t infolen = sizeof info, fromlen = sizeof from;
    unsigned int infotype = 0;
    int flags = 0;
    memset(&info, 0, sizeof info);
    ssize_t n = usrsctp_recvv(s->sock, s->rbuf, MC_SCTP_LOCAL_MAX_MESSAGE, (struct sockaddr *)&from, &fromlen, &info,
                              &infolen, &infotype, &flags);
    if (n < 0) {
      if (errno != EWOULDBLOCK && errno != EAGAIN && errno != ENOTCONN)
        MC_LOGD(COMP, "recv failed errno=%d", errno);
      break;
    }
    if (n == 0) break;
    if (flags & MSG_NOTIFICATION) {
      /* Notifications are far smaller than the buffer and come whole. */
      handle_notification(s, s->rbuf, (size_t)n);
      continue;
    }
    if (infotype != SCTP_RECVV_RCVINFO) {
      MC_LOGW(COMP, "message without receive info dropped len=%zd", n);
      continue;
    }
    handle_piece(s, info.rcv_sid, ntohl(info.rcv_ppid), s->rbuf, (size_t)n, (flags & MSG_EOR) != 0);
  }
}

/* ---- driving ---- */

static void destroy(mc_sctp *s);

/* with_events: only mc_sctp_receive and mc_sctp_handle_timers read and raise
 * events, and only at the outermost level. */
static void process(mc_sctp *s, bool with_events) {
  if (s->dead) return;
  flush_channels(s);
  flush_resets(s);
  if (with_events && s->depth == 1) {
    read_all(s);
    fire_pending(s);
    flush_channels(s);
    flush_resets(s);
  }
  flush_output(s);
}

static void leave(mc_sctp *s) {
  if (--s->depth == 0 && s->dead) destroy(s);
}

static void close_socket(mc_sctp *s) {
  if (!s->sock) return;
  usrsctp_close(s->sock);
  s->sock = NULL;
}

static void destroy(mc_sctp *s) {
  close_socket(s);
  usrsctp_deregister_address(s);
  pthread_mutex_lock(&reg_lock);
  for (struct mc_sctp **pp = &reg_head; *pp; pp = &(*pp)->reg_next) {
    if (*pp == s) {
      *pp = s->reg_next;
      break;
    }
  }
  free(s->out);
  s->out = NULL;
  pthread_mutex_unlock(&reg_lock);
  for (size_t i = 0; i < MC_SCTP_MAX_CHANNELS; i++) {
    if (s->ch[i]) channel_free(s, s->ch[i]);
    free(s->rx[i].buf);
  }
  free(s->rbuf);
  free(s);
}

/* ---- API ---- */

static int setopt(struct socket *sock, int level, int name, const void *val, socklen_t len, const char *what) {
  if (usrsctp_setsockopt(sock, level, name, val, len) == 0) return MC_OK;
  MC_LOGE(COMP, "setsockopt %s failed errno=%d", what, errno);
  return MC_EIO;
}

static int configure_socket(mc_sctp *s) {
  struct socket *so = s->sock;
  if (usrsctp_set_non_blocking(so, 1) != 0) return MC_EIO;
  /* Abort on close: the DTLS transport under us is going away too. */
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  if (setopt(so, SOL_SOCKET, SO_LINGER, &lg, sizeof lg, "SO_LINGER")) return MC_EIO;
  int sndbuf = SCTP_SNDBUF, rcvbuf = SCTP_RCVBUF;
  if (setopt(so, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf, "SO_SNDBUF")) return MC_EIO;
  if (setopt(so, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf, "SO_RCVBUF")) return MC_EIO;
  socklen_t optlen = sizeof sndbuf;
  if (usrsctp_getsockopt(so, SOL_SOCKET, SO_SNDBUF, &sndbuf, &optlen) == 0 && sndbuf > 0)
    s->send_limit = (size_t)sndbuf;
  else
    s->send_limit = SCTP_SNDBUF;
  /* RFC 8831 6.7 closes channels with stream resets (RFC 6525). */
  struct sctp_assoc_value av = {.assoc_id = SCTP_ALL_ASSOC, .assoc_value = SCTP_ENABLE_RESET_STREAM_REQ};
  if (setopt(so, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, sizeof av, "SCTP_ENABLE_STREAM_RESET")) return MC_EIO;
  int on = 1;
  if (setopt(so, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on, "SCTP_NODELAY")) return MC_EIO;
  if (setopt(so, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on, "SCTP_RECVRCVINFO")) return MC_EIO;
  static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, SCTP_SENDER_DRY_EVENT,
                                    SCTP_PARTIAL_DELIVERY_EVENT, SCTP_SEND_FAILED_EVENT};
  for (size_t i = 0; i < MC_ARRAY_LEN(events); i++) {
    struct sctp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.se_assoc_id = SCTP_ALL_ASSOC;
    ev.se_type = events[i];
    ev.se_on = 1;
    if (setopt(so, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev, "SCTP_EVENT")) return MC_EIO;
  }
  /* RFC 8831 6.2: up to 65535 streams; browsers ask for 1024 (the JS API's limit). */
  struct sctp_initmsg im;
  memset(&im, 0, sizeof im);
  im.sinit_num_ostreams = SCTP_STREAMS;
  im.sinit_max_instreams = SCTP_STREAMS;
  if (setopt(so, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof im, "SCTP_INITMSG")) return MC_EIO;
  /* No path MTU discovery over DTLS: a fixed MTU that fits (RFC 8261 5). */
  struct sctp_paddrparams spp;
  memset(&spp, 0, sizeof spp);
  spp.spp_flags = SPP_PMTUD_DISABLE;
  spp.spp_pathmtu = SCTP_MTU;
  if (setopt(so, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &spp, sizeof spp, "SCTP_PEER_ADDR_PARAMS")) return MC_EIO;
  /* A message arrives in pieces when it outgrows the partial delivery
   * point; reading whole messages keeps those rare. */
  uint32_t pdp = MC_SCTP_LOCAL_MAX_MESSAGE;
  (void)usrsctp_setsockopt(so, IPPROTO_SCTP, SCTP_PARTIAL_DELIVERY_POINT, &pdp, sizeof pdp);
  struct sockaddr_conn sconn;
  memset(&sconn, 0, sizeof sconn);
  sconn.sconn_family = AF_CONN;
  sconn.sconn_port = htons(s->cfg.local_port);
  sconn.sconn_addr = s;
  if (usrsctp_bind(so, (struct sockaddr *)&sconn, sizeof sconn) != 0) {
    MC_LOGE(COMP, "bind failed errno=%d", errno);
    return MC_EIO;
  }
  return MC_OK;
}

int mc_sctp_new(const struct mc_sctp_config *config, const struct mc_sctp_callbacks *cbs, void *user,
                mc_sctp **out) {
  if (!config || !cbs || !out) return MC_EINVAL;
  *out = NULL;
  ensure_init();
  int err = MC_ENOMEM;
  mc_sctp *s = calloc(1, sizeof *s);
  if (!s) return MC_ENOMEM;
  s->cfg = *config;
  if (!s->cfg.local_port) s->cfg.local_port = MC_SCTP_DEFAULT_PORT;
  if (!s->cfg.remote_port) s->cfg.remote_port = MC_SCTP_DEFAULT_PORT;
  s->cbs = *cbs;
  s->user = user;
  s->state = s->reported_state = MC_SCTP_STATE_NEW;
  s->rbuf = malloc(MC_SCTP_LOCAL_MAX_MESSAGE);
  if (!s->rbuf) goto fail;
  pthread_mutex_lock(&reg_lock);
  s->reg_next = reg_head;
  reg_head = s;
  pthread_mutex_unlock(&reg_lock);
  usrsctp_register_address(s);
  err = MC_EIO;
  s->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  if (!s->sock) {
    MC_LOGE(COMP, "usrsctp_socket failed errno=%d", errno);
    goto fail;
  }
  err = configure_socket(s);
  if (err) goto fail;
  *out = s;
  return MC_OK;
fail:
  destroy(s);
  return err;
}

/* Both ends connect, each to its own sconn_addr: the address is only the
 * handle conn_output gets back (simultaneous open, RFC 4960 5.2.1). */
static int sctp_connect(mc_sctp *s) {
  struct sockaddr_conn sconn;
  memset(&sconn, 0, sizeof sconn);
  sconn.sconn_family = AF_CONN;
  sconn.sconn_port = htons(s->cfg.remote_port);
  sconn.sconn_addr = s;
  if (usrsctp_connect(s->sock, (struct sockaddr *)&sconn, sizeof sconn) != 0 && errno != EINPROGRESS) {
    MC_LOGE(COMP, "connect failed errno=%d", errno);
    return MC_EIO;
  }
  set_state(s, MC_SCTP_STATE_CONNECTING);
  return MC_OK;
}

int mc_sctp_start(mc_sctp *s) {
  if (!s || s->dead) return MC_EINVAL;
  if (s->state != MC_SCTP_STATE_NEW) return MC_ESTATE;
  s->depth++;
  int err = sctp_connect(s);
  process(s, false);
  leave(s);
  return err;
}

void mc_sctp_test_deliver(mc_sctp *s, bool notification, uint16_t sid, uint32_t ppid, const uint8_t *data,
                          size_t len, bool eor) {
  if (!s || s->dead || (!data && len)) return;
  s->depth++;
  if (notification) {
    /* usrsctp's buffer is aligned for the notification structs; a copy
     * keeps a fuzzer's bytes the same. */
    size_t n = MC_MIN(len, (size_t)MC_SCTP_LOCAL_MAX_MESSAGE);
    if (n) memcpy(s->rbuf, data, n);
    handle_notification(s, s->rbuf, n);
  } else {
    handle_piece(s, sid, ppid, data, len, eor);
  }
  fire_pending(s);
  leave(s);
}

void mc_sctp_receive(mc_sctp *s, const uint8_t *data, size_t len) {
  if (!s || s->dead || !data || !len) return;
  s->depth++;
  /* The peer's INIT can overtake our own mc_sctp_start (its DTLS finished
   * first): a socket that is not connecting would answer it with an ABORT. */
  if (s->state == MC_SCTP_STATE_NEW) sctp_connect(s);
  if (s->sock) usrsctp_conninput(s, data, len, 0);
  process(s, true);
  leave(s);
}

void mc_sctp_handle_timers(uint32_t elapsed_ms) {
  ensure_init();
  usrsctp_handle_timers(elapsed_ms);
  /* Timers may have queued packets or made room in any instance. Each is
   * pinned (depth) while any callback runs, so a callback may free any. */
  mc_sctp *stack[16], **list = stack;
  size_t n = 0;
  pthread_mutex_lock(&reg_lock);
  for (mc_sctp *p = reg_head; p; p = p->reg_next) n++;
  if (n > MC_ARRAY_LEN(stack)) list = malloc(n * sizeof *list);
  if (list) {
    n = 0;
    for (mc_sctp *p = reg_head; p; p = p->reg_next) {
      list[n++] = p;
      p->depth++;
    }
  }
  pthread_mutex_unlock(&reg_lock);
  if (!list) return;
  for (size_t i = 0; i < n; i++) {
    if (list[i]->depth == 1) process(list[i], true);
    else process(list[i], false);
  }
  for (size_t i = 0; i < n; i++) leave(list[i]);
  if (list != stack) free(list);
}

enum mc_sctp_state mc_sctp_state(const mc_sctp *s) { return s ? s->state : MC_SCTP_STATE_CLOSED; }

static int pick_id(const mc_sctp *s) {
  for (unsigned id = s->cfg.is_dtls_client ? 0 : 1; id < s->streams; id += 2)
    if (!s->ch[id]) return (int)id;
  return -1;
}

int mc_sctp_open_channel(mc_sctp *s, const struct mc_dc_init *init, uint16_t *id_out) {
  if (!s || s->dead || !init) return MC_EINVAL;
  if (s->state != MC_SCTP_STATE_CONNECTED) return MC_ESTATE;
  const char *label = init->label ? init->label : "";
  const char *protocol = init->protocol ? init->protocol : "";
  if (strlen(label) > MC_SCTP_LABEL_MAX || strlen(protocol) > MC_SCTP_LABEL_MAX) return MC_EINVAL;
  if (init->max_retransmits < -1 || init->max_packet_lifetime < -1) return MC_EINVAL;
  if (init->max_retransmits >= 0 && init->max_packet_lifetime >= 0) return MC_EINVAL;
  if (init->negotiated && init->id < 0) return MC_EINVAL;
  int id = init->id;
  if (id < 0) {
    id = pick_id(s);
    if (id < 0) return MC_EINVAL;
  }
  if (id >= (int)s->streams || s->ch[id]) return MC_EINVAL;

  struct mc_dcep_open open;
  memset(&open, 0, sizeof open);
  uint8_t type = MC_DCEP_RELIABLE;
  uint32_t reliability = 0;
  if (init->max_retransmits >= 0) {
    type = MC_DCEP_PARTIAL_RELIABLE_REXMIT;
    reliability = (uint32_t)init->max_retransmits;
  } else if (init->max_packet_lifetime >= 0) {
    type = MC_DCEP_PARTIAL_RELIABLE_TIMED;
    reliability = (uint32_t)init->max_packet_lifetime;
  }
  if (!init->ordered) type |= 0x80;

  struct channel *c = calloc(1, sizeof *c);
  if (!c) return MC_ENOMEM;
  c->id = (uint16_t)id;
  dc_policy(c, type, reliability);
  mc_strcpy(c->label, sizeof c->label, label);
  mc_strcpy(c->protocol, sizeof c->protocol, protocol);
  s->ch[id] = c;
  s->depth++;
  int err = MC_OK;
  if (init->negotiated) {
    /* RFC 8832 6 does not apply: both sides opened the stream. */
    c->state = CH_OPEN;
    c->acked = true;
    c->open_pending = true;
    s->events_pending = true;
  } else {
    /* RFC 8832 5.1, sent ordered and reliably on the channel's own stream. */
    c->state = CH_OPENING;
    open.channel_type = type;
    open.reliability = reliability;
    memcpy(open.label, c->label, sizeof open.label);
    memcpy(open.protocol, c->protocol, sizeof open.protocol);
    uint8_t buf[12 + 2 * MC_SCTP_LABEL_MAX];
    size_t len = 0;
    err = mc_dcep_write_open(&open, buf, sizeof buf, &len);
    if (!err) err = enqueue(s, c, buf, len, PPID_DCEP);
    if (err) {
      channel_free(s, c);
      goto out;
    }
  }
  MC_LOGI(COMP, "channel opening id=%d negotiated=%d type=0x%02x", id, (int)init->negotiated, type);
  *id_out = (uint16_t)id;
  process(s, false);
out:
  leave(s);
  return err;
}

int mc_sctp_send(mc_sctp *s, uint16_t id, const uint8_t *data, size_t len, bool binary) {
  if (!s || s->dead || (len && !data) || id >= MC_SCTP_MAX_CHANNELS) return MC_EINVAL;
  struct channel *c = s->ch[id];
  if (s->state != MC_SCTP_STATE_CONNECTED || !c || (c->state != CH_OPEN && c->state != CH_OPENING))
    return MC_ESTATE;
  if ((s->cfg.remote_max_message_size && len > s->cfg.remote_max_message_size) || len > s->send_limit)
    return MC_ETOOBIG;
  uint32_t ppid = binary ? (len ? PPID_BINARY : PPID_BINARY_EMPTY) : (len ? PPID_STRING : PPID_STRING_EMPTY);
  s->depth++;
  int err = MC_OK;
  int r = SEND_WOULD_BLOCK;
  if (!c->head) r = sctp_send_one(s, c, data, len, ppid);
  if (r == SEND_WOULD_BLOCK) err = enqueue(s, c, data, len, ppid);
  else if (r < 0) err = r;
  process(s, false);
  leave(s);
  return err;
}

size_t mc_sctp_buffered_amount(const mc_sctp *s, uint16_t id) {
  if (!s || id >= MC_SCTP_MAX_CHANNELS || !s->ch[id]) return 0;
  return s->ch[id]->buffered;
}

int mc_sctp_set_buffered_amount_low_threshold(mc_sctp *s, uint16_t id, size_t threshold) {
  if (!s || s->dead || id >= MC_SCTP_MAX_CHANNELS || !s->ch[id]) return MC_EINVAL;
  s->ch[id]->low_threshold = threshold;
  return MC_OK;
}

int mc_sctp_close_channel(mc_sctp *s, uint16_t id) {
  if (!s || s->dead || id >= MC_SCTP_MAX_CHANNELS || !s->ch[id]) return MC_EINVAL;
  struct channel *c = s->ch[id];
  if (c->state == CH_CLOSING || c->state == CH_CLOSED) return MC_OK;
  c->state = CH_CLOSING;
  c->reset_wanted = true;
  s->resets_pending = true;
  MC_LOGI(COMP, "channel closing id=%u buffered=%zu", id, c->buffered);
  s->depth++;
  process(s, false);
  leave(s);
  return MC_OK;
}

void mc_sctp_free(mc_sctp *s) {
  if (!s) return;
  if (s->dead) return;
  if (s->depth > 0) {
    /* Inside one of our callbacks: no more callbacks, freed on unwind. */
    s->dead = true;
    return;
  }
  /* SO_LINGER 0: usrsctp_close sends the ABORT, which still goes out. */
  s->depth++;
  close_socket(s);
  flush_output(s);
  s->dead = true;
  s->depth--;
  destroy(s);
}
