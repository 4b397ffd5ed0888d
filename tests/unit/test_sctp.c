/* Unit tests for src/sctp: the DCEP codec, and two mc_sctp wired back to back
 * in process (A's packets are queued and fed to B, and back), driven by a
 * pump that also calls mc_sctp_handle_timers with the real elapsed time. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sctp/sctp.h"
#include "util/util.h"

/* ---- DCEP codec ---- */

static void test_dcep_codec(void) {
  struct mc_dcep_open o, r;
  memset(&o, 0, sizeof o);
  o.channel_type = MC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED;
  o.priority = 256;
  o.reliability = 3;
  strcpy(o.label, "chat");
  strcpy(o.protocol, "x-proto");
  uint8_t buf[600];
  size_t len = 0;
  CHECK_EQ_INT(mc_dcep_write_open(&o, buf, sizeof buf, &len), MC_OK);
  CHECK_EQ_INT(len, 12 + 4 + 7);
  /* RFC 8832 5.1 layout */
  static const uint8_t want[] = {0x03, 0x81, 0x01, 0x00, 0, 0, 0, 3, 0, 4, 0, 7,
                                 'c',  'h',  'a',  't',  'x', '-', 'p', 'r', 'o', 't', 'o'};
  CHECK_EQ_INT(len, sizeof want);
  CHECK_MEM(buf, want, sizeof want);
  CHECK_EQ_INT(mc_dcep_parse_open(buf, len, &r), MC_OK);
  CHECK_EQ_INT(r.channel_type, o.channel_type);
  CHECK_EQ_INT(r.priority, 256);
  CHECK_EQ_INT(r.reliability, 3);
  CHECK_STR(r.label, "chat");
  CHECK_STR(r.protocol, "x-proto");

  /* Empty label and protocol, and the longest allowed. */
  memset(&o, 0, sizeof o);
  CHECK_EQ_INT(mc_dcep_write_open(&o, buf, sizeof buf, &len), MC_OK);
  CHECK_EQ_INT(len, 12);
  CHECK_EQ_INT(mc_dcep_parse_open(buf, len, &r), MC_OK);
  CHECK_STR(r.label, "");
  memset(o.label, 'L', MC_SCTP_LABEL_MAX);
  memset(o.protocol, 'P', MC_SCTP_LABEL_MAX);
  CHECK_EQ_INT(mc_dcep_write_open(&o, buf, sizeof buf, &len), MC_OK);
  CHECK_EQ_INT(len, 12 + 2 * MC_SCTP_LABEL_MAX);
  CHECK_EQ_INT(mc_dcep_parse_open(buf, len, &r), MC_OK);
  CHECK_EQ_INT(strlen(r.label), MC_SCTP_LABEL_MAX);
  CHECK_EQ_INT(strlen(r.protocol), MC_SCTP_LABEL_MAX);
  CHECK_EQ_INT(mc_dcep_write_open(&o, buf, len - 1, &len), MC_ETOOBIG);

  /* Malformed input. */
  uint8_t m[40];
  memcpy(m, want, sizeof want);
  CHECK_EQ_INT(mc_dcep_parse_open(m, 11, &r), MC_EPARSE);            /* short header */
  CHECK_EQ_INT(mc_dcep_parse_open(m, sizeof want - 1, &r), MC_EPARSE); /* protocol cut */
  CHECK_EQ_INT(mc_dcep_parse_open(m, sizeof want + 5, &r), MC_OK);   /* trailing bytes ignored */
  m[0] = MC_DCEP_ACK;
  CHECK_EQ_INT(mc_dcep_parse_open(m, sizeof want, &r), MC_EPARSE);
  m[0] = MC_DCEP_OPEN;
  m[1] = 0x03; /* unknown channel type */
  CHECK_EQ_INT(mc_dcep_parse_open(m, sizeof want, &r), MC_EPARSE);
  m[1] = 0x81;
  mc_put_be16(m + 8, 0xffff); /* label length beyond the buffer */
  CHECK_EQ_INT(mc_dcep_parse_open(m, sizeof want, &r), MC_EPARSE);
  mc_put_be16(m + 8, 0);
  mc_put_be16(m + 10, 0xfffe); /* protocol length beyond the buffer */
  CHECK_EQ_INT(mc_dcep_parse_open(m, sizeof want, &r), MC_EPARSE);
  mc_put_be16(m + 8, 4);
  mc_put_be16(m + 10, 7);
  m[13] = 0; /* NUL inside the label */
  CHECK_EQ_INT(mc_dcep_parse_open(m, sizeof want, &r), MC_EPARSE);
  /* A label longer than we keep, even when the bytes are all there. */
  static uint8_t big[12 + 300];
  memset(big, 'a', sizeof big);
  big[0] = MC_DCEP_OPEN;
  big[1] = 0;
  mc_put_be16(big + 8, 300);
  mc_put_be16(big + 10, 0);
  CHECK_EQ_INT(mc_dcep_parse_open(big, sizeof big, &r), MC_EPARSE);
  mc_put_be16(big + 8, 256);
  mc_put_be16(big + 10, 44);
  CHECK_EQ_INT(mc_dcep_parse_open(big, sizeof big, &r), MC_OK);
  CHECK_EQ_INT(mc_dcep_parse_open(NULL, 0, &r), MC_EINVAL);
}

/* ---- back-to-back harness ---- */

#define MAX_IDS MC_SCTP_MAX_CHANNELS

struct pkt {
  struct pkt *next;
  size_t len;
  uint8_t data[];
};

struct expect {
  uint32_t next_index; /* ordered: index of the next message */
  uint32_t received;
  uint64_t bytes;
  uint32_t corrupt;
  uint32_t out_of_order;
  uint32_t binary_wrong;
  uint32_t seen_mask[64]; /* unordered: which of the first 2048 indexes arrived (dups) */
  uint32_t dups;
};

struct peer {
  const char *name;
  mc_sctp *s;
  struct pkt *head, *tail; /* packets this peer sent, not yet delivered */
  size_t max_pkt;
  uint64_t pkts_sent;
  enum mc_sctp_state state;
  int state_changes;
  bool opened[MAX_IDS], opened_remote[MAX_IDS], closed[MAX_IDS];
  char label[MAX_IDS][MC_SCTP_LABEL_MAX + 1], protocol[MAX_IDS][MC_SCTP_LABEL_MAX + 1];
  int open_events, close_events;
  int low_events[MAX_IDS];
  struct expect ex[MAX_IDS];
  /* raw capture of the last message per id, for small checks */
  uint8_t last[64];
  size_t last_len;
  bool last_binary;
  int last_id;
  /* free this peer from inside a callback when set */
  bool free_in_callback;
  int callbacks_after_free;
  bool freed;
};

static struct peer A, B;
static unsigned drop_every; /* drop every Nth packet in each direction, 0: none */
static uint64_t pkt_counter;

/* Message i on a test channel: a 4-byte index, then a pattern derived from
 * the index, so that order, length and content are checked without storing
 * what was sent. Messages shorter than 4 bytes carry no index. */
static uint8_t pattern_byte(uint32_t index, size_t j) { return (uint8_t)((index * 2654435761u) >> 24 ^ (j * 131u + (j >> 8))); }

static void fill_message(uint8_t *buf, size_t len, uint32_t index) {
  uint8_t hdr[4];
  mc_put_be32(hdr, index);
  for (size_t j = 0; j < len; j++) buf[j] = j < 4 ? hdr[j] : pattern_byte(index, j);
}

/* Sizes follow from the index too: 0..max, with a few empty and tiny ones. */
static size_t size_for(uint32_t index, size_t max) {
  uint32_t h = index * 2246822519u + 374761393u;
  h ^= h >> 15;
  h *= 2654435761u;
  h ^= h >> 13;
  if (index % 50 == 3) return 0;
  if (index % 50 == 7) return 4;
  return 4 + h % (max - 4 + 1);
}

static bool binary_for(uint32_t index) { return index % 3 != 0; }

static struct peer *other(struct peer *p) { return p == &A ? &B : &A; }

static void on_send(const uint8_t *data, size_t len, void *user) {
  struct peer *p = user;
  if (p->freed) p->callbacks_after_free++;
  struct pkt *k = malloc(sizeof *k + len);
  if (!k) abort();
  k->next = NULL;
  k->len = len;
  memcpy(k->data, data, len);
  if (p->tail) p->tail->next = k;
  else p->head = k;
  p->tail = k;
  if (len > p->max_pkt) p->max_pkt = len;
  p->pkts_sent++;
}

static void on_state(enum mc_sctp_state state, void *user) {
  struct peer *p = user;
  if (p->freed) p->callbacks_after_free++;
  p->state = state;
  p->state_changes++;
}

static void on_channel_open(uint16_t id, const char *label, const char *protocol, bool remote, void *user) {
  struct peer *p = user;
  if (p->freed) p->callbacks_after_free++;
  p->opened[id] = true;
  p->opened_remote[id] = remote;
  p->closed[id] = false;
  mc_strcpy(p->label[id], sizeof p->label[id], label);
  mc_strcpy(p->protocol[id], sizeof p->protocol[id], protocol);
  memset(&p->ex[id], 0, sizeof p->ex[id]);
  p->low_events[id] = 0;
  p->open_events++;
}

/* Checks one message against what fill_message would have sent. */
static void on_message(uint16_t id, const uint8_t *data, size_t len, bool binary, void *user) {
  struct peer *p = user;
  if (p->freed) p->callbacks_after_free++;
  struct expect *e = &p->ex[id];
  p->last_len = MC_MIN(len, sizeof p->last);
  memcpy(p->last, data, p->last_len);
  p->last_binary = binary;
  p->last_id = id;
  e->received++;
  e->bytes += len;
  if (len >= 4) {
    uint32_t index = mc_get_be32(data);
    bool ok = len == size_for(index, 256 * 1024) || len == size_for(index, 64 * 1024) ||
              len == size_for(index, 16 * 1024) || len == size_for(index, 100) || len == 65536;
    size_t bad_at = 0;
    for (size_t j = 4; ok && j < len; j++)
      if (data[j] != pattern_byte(index, j)) { ok = false; bad_at = j; }
    if (!ok && getenv("SCTP_TEST_DEBUG")) fprintf(stderr, "corrupt index=%u len=%zu at=%zu\n", index, len, bad_at);
    if (!ok) e->corrupt++;
    if (binary != binary_for(index)) e->binary_wrong++;
    if (index != e->next_index) e->out_of_order++;
    e->next_index = index + 1;
    if (index < 2048) {
      if (e->seen_mask[index / 32] & (1u << (index % 32))) e->dups++;
      e->seen_mask[index / 32] |= 1u << (index % 32);
    }
  } else {
    e->next_index++;
  }
  if (p->free_in_callback) {
    p->free_in_callback = false;
    p->freed = true;
    mc_sctp_free(p->s);
    p->s = NULL;
  }
}

static void on_low(uint16_t id, void *user) {
  struct peer *p = user;
  if (p->freed) p->callbacks_after_free++;
  p->low_events[id]++;
}

static void on_closed(uint16_t id, void *user) {
  struct peer *p = user;
  if (p->freed) p->callbacks_after_free++;
  p->closed[id] = true;
  p->close_events++;
}

static const struct mc_sctp_callbacks cbs = {
    .send = on_send,
    .on_state = on_state,
    .on_channel_open = on_channel_open,
    .on_message = on_message,
    .on_buffered_amount_low = on_low,
    .on_channel_closed = on_closed,
};

static void drop_packets(struct peer *p) {
  while (p->head) {
    struct pkt *k = p->head;
    p->head = k->next;
    free(k);
  }
  p->tail = NULL;
}

/* Delivers what each side sent so far to the other; true when anything moved. */
static bool deliver(void) {
  bool moved = false;
  struct peer *ps[2] = {&A, &B};
  for (int i = 0; i < 2; i++) {
    struct peer *p = ps[i], *q = other(p);
    struct pkt *k = p->head;
    p->head = p->tail = NULL;
    while (k) {
      struct pkt *n = k->next;
      pkt_counter++;
      bool drop = drop_every && pkt_counter % drop_every == 0;
      if (!drop && q->s) mc_sctp_receive(q->s, k->data, k->len);
      free(k);
      k = n;
      moved = true;
    }
  }
  return moved;
}

static uint64_t last_tick;

static void pump_once(void) {
  bool moved = deliver();
  uint64_t now = mc_now_ms();
  if (!moved && now == last_tick) {
    usleep(1000);
    now = mc_now_ms();
  }
  if (now != last_tick) {
    mc_sctp_handle_timers((uint32_t)(now - last_tick));
    last_tick = now;
  }
}

/* Pumps until cond holds; the limit only stops a hang, it is far above
 * what a working stack needs. */
typedef bool (*cond_fn)(void *arg);
static bool pump_until(cond_fn cond, void *arg, unsigned limit_ms) {
  uint64_t start = mc_now_ms();
  while (!cond(arg)) {
    if (mc_now_ms() - start > limit_ms) return false;
    pump_once();
  }
  return true;
}

static void pump_for(unsigned ms) {
  uint64_t start = mc_now_ms();
  while (mc_now_ms() - start < ms) pump_once();
}

static bool both_connected(void *arg) {
  (void)arg;
  return A.state == MC_SCTP_STATE_CONNECTED && B.state == MC_SCTP_STATE_CONNECTED;
}

static void peer_reset(struct peer *p, const char *name) {
  drop_packets(p);
  memset(p, 0, sizeof *p);
  p->name = name;
  p->last_id = -1;
}

static bool connect_pair(uint64_t a_remote_max, uint64_t b_remote_max) {
  peer_reset(&A, "A");
  peer_reset(&B, "B");
  drop_every = 0;
  struct mc_sctp_config ca = {.is_dtls_client = true, .remote_max_message_size = a_remote_max};
  struct mc_sctp_config cb = {.is_dtls_client = false, .remote_max_message_size = b_remote_max};
  if (mc_sctp_new(&ca, &cbs, &A, &A.s) != MC_OK) return false;
  if (mc_sctp_new(&cb, &cbs, &B, &B.s) != MC_OK) return false;
  if (mc_sctp_state(A.s) != MC_SCTP_STATE_NEW) return false;
  if (mc_sctp_start(A.s) != MC_OK) return false;
  /* B's start is left to its first packet half of the time, as when A's
   * DTLS finishes first. */
  static int round;
  if (round++ % 2 == 0 && mc_sctp_start(B.s) != MC_OK) return false;
  last_tick = mc_now_ms();
  return pump_until(both_connected, NULL, 20000);
}

static void free_pair(void) {
  if (A.s) mc_sctp_free(A.s);
  if (B.s) mc_sctp_free(B.s);
  A.s = B.s = NULL;
  drop_packets(&A);
  drop_packets(&B);
}

struct open_wait {
  struct peer *p;
  uint16_t id;
};
static bool is_open(void *arg) {
  struct open_wait *w = arg;
  return w->p->opened[w->id];
}
static bool is_closed(void *arg) {
  struct open_wait *w = arg;
  return w->p->closed[w->id];
}

static bool open_both(struct peer *opener, const struct mc_dc_init *init, uint16_t *id) {
  if (mc_sctp_open_channel(opener->s, init, id) != MC_OK) return false;
  struct open_wait w1 = {opener, *id}, w2 = {other(opener), *id};
  return pump_until(is_open, &w1, 10000) && pump_until(is_open, &w2, 10000);
}

/* ---- a stream of indexed messages from one side, keeping the sender's
 * buffer bounded like an application that watches bufferedAmount ---- */

struct flow {
  struct peer *from;
  uint16_t id;
  uint32_t count, sent;
  size_t max_size;
};

static int flow_step(struct flow *f, uint8_t *buf) {
  while (f->sent < f->count && f->from->s && mc_sctp_buffered_amount(f->from->s, f->id) < 1024 * 1024) {
    size_t len = size_for(f->sent, f->max_size);
    fill_message(buf, len, f->sent);
    int err = mc_sctp_send(f->from->s, f->id, buf, len, binary_for(f->sent));
    if (err) return err;
    f->sent++;
  }
  return MC_OK;
}

struct flows {
  struct flow *f;
  size_t n;
  uint8_t *buf;
  int err;
};

static bool flows_done(void *arg) {
  struct flows *fl = arg;
  bool done = true;
  for (size_t i = 0; i < fl->n; i++) {
    struct flow *f = &fl->f[i];
    int err = flow_step(f, fl->buf);
    if (err && !fl->err) fl->err = err;
    if (err) return true;
    if (other(f->from)->ex[f->id].received < f->count) done = false;
  }
  return done;
}

/* ---- tests ---- */

static void test_connect_and_dcep(void) {
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  CHECK_EQ_INT(mc_sctp_state(A.s), MC_SCTP_STATE_CONNECTED);
  CHECK_EQ_INT(mc_sctp_state(B.s), MC_SCTP_STATE_CONNECTED);
  CHECK(A.max_pkt <= 1200 && B.max_pkt <= 1200);

  /* In-band from the DTLS client: even ids; from the server: odd. */
  struct mc_dc_init init = {.label = "chat", .protocol = "x-proto", .ordered = true, .max_retransmits = -1,
                            .max_packet_lifetime = -1, .id = -1};
  uint16_t ida = 999, idb = 999, idb2 = 999;
  CHECK(open_both(&A, &init, &ida));
  CHECK_EQ_INT(ida, 0);
  CHECK(A.opened[ida] && !A.opened_remote[ida]);
  CHECK(B.opened[ida] && B.opened_remote[ida]);
  CHECK_STR(B.label[ida], "chat");
  CHECK_STR(B.protocol[ida], "x-proto");
  CHECK_STR(A.label[ida], "chat");

  init.label = NULL;
  init.protocol = NULL;
  CHECK(open_both(&B, &init, &idb));
  CHECK_EQ_INT(idb, 1);
  CHECK(B.opened[idb] && !B.opened_remote[idb]);
  CHECK(A.opened[idb] && A.opened_remote[idb]);
  CHECK_STR(A.label[idb], "");
  CHECK(open_both(&B, &init, &idb2));
  CHECK_EQ_INT(idb2, 3);

  /* Taken id and bad combinations. */
  uint16_t x;
  struct mc_dc_init bad = init;
  bad.id = 0;
  CHECK_EQ_INT(mc_sctp_open_channel(A.s, &bad, &x), MC_EINVAL);
  bad.id = -1;
  bad.max_retransmits = 1;
  bad.max_packet_lifetime = 100;
  CHECK_EQ_INT(mc_sctp_open_channel(A.s, &bad, &x), MC_EINVAL);
  bad = init;
  bad.negotiated = true;
  bad.id = -1;
  CHECK_EQ_INT(mc_sctp_open_channel(A.s, &bad, &x), MC_EINVAL);
  bad.id = 5000;
  CHECK_EQ_INT(mc_sctp_open_channel(A.s, &bad, &x), MC_EINVAL);

  /* Messages on both: text and binary flags, empty messages. */
  CHECK_EQ_INT(mc_sctp_send(A.s, ida, (const uint8_t *)"hi", 2, false), MC_OK);
  pump_for(50);
  CHECK_EQ_INT(B.ex[ida].received, 1);
  CHECK_EQ_INT(B.last_len, 2);
  CHECK(memcmp(B.last, "hi", 2) == 0 && !B.last_binary);
  CHECK_EQ_INT(mc_sctp_send(B.s, idb, NULL, 0, true), MC_OK);
  pump_for(50);
  CHECK_EQ_INT(A.ex[idb].received, 1);
  CHECK_EQ_INT(A.last_len, 0);
  CHECK(A.last_binary);
  CHECK_EQ_INT(A.last_id, idb);
  CHECK_EQ_INT(mc_sctp_send(B.s, idb, NULL, 0, false), MC_OK);
  pump_for(50);
  CHECK_EQ_INT(A.ex[idb].received, 2);
  CHECK(!A.last_binary && A.last_len == 0);
  free_pair();
}

/* Messages may go right after the OPEN, before the ACK (RFC 8832 6). */
static void test_send_before_ack(void) {
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  struct mc_dc_init init = {.label = "early", .ordered = false, .max_retransmits = -1, .max_packet_lifetime = -1, .id = -1};
  uint16_t id;
  CHECK_EQ_INT(mc_sctp_open_channel(A.s, &init, &id), MC_OK);
  uint8_t buf[100];
  for (uint32_t i = 0; i < 20; i++) {
    size_t len = size_for(i, 100);
    fill_message(buf, len, i);
    CHECK_EQ_INT(mc_sctp_send(A.s, id, buf, len, binary_for(i)), MC_OK);
  }
  pump_for(100);
  CHECK(A.opened[id] && B.opened[id]);
  CHECK_EQ_INT(B.ex[id].received, 20);
  CHECK_EQ_INT(B.ex[id].out_of_order, 0);
  CHECK_EQ_INT(B.ex[id].corrupt, 0);
  free_pair();
}

static void test_negotiated(void) {
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  struct mc_dc_init init = {.label = "neg", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = -1,
                            .negotiated = true, .id = 7};
  uint16_t ia = 0, ib = 0;
  CHECK_EQ_INT(mc_sctp_open_channel(A.s, &init, &ia), MC_OK);
  CHECK_EQ_INT(mc_sctp_open_channel(B.s, &init, &ib), MC_OK);
  CHECK_EQ_INT(ia, 7);
  CHECK_EQ_INT(ib, 7);
  uint64_t pa = A.pkts_sent, pb = B.pkts_sent;
  pump_for(30);
  CHECK(A.opened[7] && !A.opened_remote[7]);
  CHECK(B.opened[7] && !B.opened_remote[7]);
  CHECK_EQ_INT(A.open_events, 1);
  CHECK_EQ_INT(B.open_events, 1);
  /* No DCEP: nothing went on the wire for the open. */
  CHECK_EQ_INT(A.pkts_sent, pa);
  CHECK_EQ_INT(B.pkts_sent, pb);
  CHECK_EQ_INT(mc_sctp_send(A.s, 7, (const uint8_t *)"ping", 4, false), MC_OK);
  CHECK_EQ_INT(mc_sctp_send(B.s, 7, (const uint8_t *)"pong", 4, true), MC_OK);
  pump_for(50);
  CHECK_EQ_INT(B.ex[7].received, 1);
  CHECK_EQ_INT(A.ex[7].received, 1);
  CHECK(memcmp(A.last, "pong", 4) == 0 && A.last_binary);
  CHECK(memcmp(B.last, "ping", 4) == 0 && !B.last_binary);
  free_pair();
}

/* 1,000 ordered reliable messages of 0..256 KiB one way while 300 go the
 * other way, byte-exact and in order. */
static void test_ordered_bulk(void) {
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  struct mc_dc_init init = {.label = "bulk", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = -1, .id = -1};
  uint16_t ida, idb;
  CHECK(open_both(&A, &init, &ida));
  CHECK(open_both(&B, &init, &idb));
  struct flow f[2] = {{&A, ida, 1000, 0, 256 * 1024}, {&B, idb, 300, 0, 16 * 1024}};
  struct flows fl = {f, 2, malloc(256 * 1024), 0};
  CHECK(pump_until(flows_done, &fl, 100000));
  CHECK_EQ_INT(fl.err, 0);
  CHECK_EQ_INT(B.ex[ida].received, 1000);
  CHECK_EQ_INT(B.ex[ida].corrupt, 0);
  CHECK_EQ_INT(B.ex[ida].out_of_order, 0);
  CHECK_EQ_INT(B.ex[ida].binary_wrong, 0);
  CHECK_EQ_INT(A.ex[idb].received, 300);
  CHECK_EQ_INT(A.ex[idb].corrupt, 0);
  CHECK_EQ_INT(A.ex[idb].out_of_order, 0);
  CHECK_EQ_INT(A.ex[idb].binary_wrong, 0);
  uint64_t total = 0;
  for (uint32_t i = 0; i < 1000; i++) total += size_for(i, 256 * 1024);
  CHECK_EQ_INT(B.ex[ida].bytes, total);
  CHECK(A.max_pkt <= 1200 && B.max_pkt <= 1200);
  free(fl.buf);
  free_pair();
}

static void test_unordered_and_unreliable(void) {
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  struct mc_dc_init un = {.label = "u", .ordered = false, .max_retransmits = -1, .max_packet_lifetime = -1, .id = -1};
  struct mc_dc_init rtx0 = {.label = "r0", .ordered = false, .max_retransmits = 0, .max_packet_lifetime = -1, .id = -1};
  struct mc_dc_init ttl = {.label = "t", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = 500, .id = -1};
  uint16_t i1, i2, i3;
  CHECK(open_both(&A, &un, &i1));
  CHECK(open_both(&A, &rtx0, &i2));
  CHECK(open_both(&B, &ttl, &i3));
  struct flow f[3] = {{&A, i1, 300, 0, 16 * 1024}, {&A, i2, 300, 0, 16 * 1024}, {&B, i3, 300, 0, 16 * 1024}};
  struct flows fl = {f, 3, malloc(64 * 1024), 0};
  CHECK(pump_until(flows_done, &fl, 60000));
  CHECK_EQ_INT(fl.err, 0);
  CHECK_EQ_INT(B.ex[i1].received, 300);
  CHECK_EQ_INT(B.ex[i1].corrupt, 0);
  CHECK_EQ_INT(B.ex[i1].dups, 0);
  CHECK_EQ_INT(B.ex[i2].received, 300);
  CHECK_EQ_INT(B.ex[i2].corrupt, 0);
  CHECK_EQ_INT(A.ex[i3].received, 300);
  CHECK_EQ_INT(A.ex[i3].out_of_order, 0);
  CHECK_EQ_INT(A.ex[i3].corrupt, 0);
  free(fl.buf);
  free_pair();
}

/* Every 20th packet lost: a reliable channel still delivers everything
 * (fast retransmit and the T3 timer through mc_sctp_handle_timers), a
 * maxRetransmits=0 one delivers a subset, never a corrupt message. */
static void test_loss(void) {
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  struct mc_dc_init rel = {.label = "rel", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = -1, .id = -1};
  struct mc_dc_init pr = {.label = "pr", .ordered = false, .max_retransmits = 0, .max_packet_lifetime = -1, .id = -1};
  uint16_t ir, ip;
  CHECK(open_both(&A, &rel, &ir));
  CHECK(open_both(&A, &pr, &ip));
  drop_every = 20;
  pkt_counter = 0;
  struct flow f[1] = {{&A, ir, 300, 0, 64 * 1024}};
  struct flows fl = {f, 1, malloc(64 * 1024), 0};
  CHECK(pump_until(flows_done, &fl, 100000));
  CHECK_EQ_INT(fl.err, 0);
  CHECK_EQ_INT(B.ex[ir].received, 300);
  CHECK_EQ_INT(B.ex[ir].corrupt, 0);
  CHECK_EQ_INT(B.ex[ir].out_of_order, 0);

  /* Partial reliability: send 300 messages of up to 16 KiB, then let the
   * association settle. */
  uint8_t *buf = fl.buf;
  for (uint32_t i = 0; i < 300; i++) {
    size_t len = size_for(i, 16 * 1024);
    fill_message(buf, len, i);
    CHECK_EQ_INT(mc_sctp_send(A.s, ip, buf, len, binary_for(i)), MC_OK);
    pump_once();
  }
  pump_for(1500);
  fprintf(stderr, "loss: partial reliability delivered %u of 300\n", B.ex[ip].received);
  CHECK(B.ex[ip].received > 0);
  CHECK(B.ex[ip].received < 300);
  CHECK_EQ_INT(B.ex[ip].corrupt, 0);
  CHECK_EQ_INT(B.ex[ip].dups, 0);
  CHECK_EQ_INT(B.ex[ip].binary_wrong, 0);
  /* The reliable channel still works after the abandoned messages. */
  drop_every = 0;
  CHECK_EQ_INT(mc_sctp_send(A.s, ir, (const uint8_t *)"end", 3, false), MC_OK);
  pump_for(100);
  CHECK_EQ_INT(B.ex[ir].received, 301);
  free(buf);
  free_pair();
}

static void test_max_message(void) {
  /* A may send 64 KiB (B's default), B may send anything. */
  CHECK(connect_pair(MC_SCTP_DEFAULT_REMOTE_MAX_MESSAGE, 0));
  struct mc_dc_init init = {.label = "m", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = -1,
                            .negotiated = true, .id = 2};
  uint16_t id;
  CHECK_EQ_INT(mc_sctp_open_channel(A.s, &init, &id), MC_OK);
  CHECK_EQ_INT(mc_sctp_open_channel(B.s, &init, &id), MC_OK);
  pump_for(20);
  size_t big = MC_SCTP_LOCAL_MAX_MESSAGE + 4096;
  uint8_t *buf = malloc(big);
  fill_message(buf, 65536, 1);
  CHECK_EQ_INT(mc_sctp_send(A.s, 2, buf, 65537, true), MC_ETOOBIG);
  CHECK_EQ_INT(mc_sctp_send(A.s, 2, buf, 65536, binary_for(1)), MC_OK);
  pump_for(50);
  CHECK_EQ_INT(B.ex[2].received, 1);
  CHECK_EQ_INT(B.ex[2].bytes, 65536);
  CHECK_EQ_INT(B.ex[2].corrupt, 0);
  /* Above what A accepts: B may send it (no limit given), A drops it and
   * takes the next one. */
  memset(buf, 0x5a, big);
  CHECK_EQ_INT(mc_sctp_send(B.s, 2, buf, big, true), MC_OK);
  CHECK_EQ_INT(mc_sctp_send(B.s, 2, buf, MC_SCTP_LOCAL_MAX_MESSAGE, true), MC_OK);
  CHECK_EQ_INT(mc_sctp_send(B.s, 2, (const uint8_t *)"after", 5, false), MC_OK);
  pump_for(300);
  CHECK_EQ_INT(A.ex[2].received, 2);
  CHECK_EQ_INT(A.ex[2].bytes, MC_SCTP_LOCAL_MAX_MESSAGE + 5);
  CHECK_EQ_INT(A.last_len, 5);
  CHECK(memcmp(A.last, "after", 5) == 0);
  free(buf);
  free_pair();
}

static bool all_bytes_in(void *arg) {
  uint64_t *want = arg;
  return B.ex[0].bytes >= *want;
}

static void test_buffered_amount(void) {
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  struct mc_dc_init init = {.label = "buf", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = -1, .id = -1};
  uint16_t id;
  CHECK(open_both(&A, &init, &id));
  CHECK_EQ_INT(id, 0);
  const size_t threshold = 1024 * 1024;
  CHECK_EQ_INT(mc_sctp_set_buffered_amount_low_threshold(A.s, id, threshold), MC_OK);
  uint8_t *buf = malloc(65536);
  fill_message(buf, 65536, 7);
  size_t prev = 0;
  bool grew = true;
  const int count = 20 * 16; /* 20 MiB */
  for (int i = 0; i < count; i++) {
    CHECK_EQ_INT(mc_sctp_send(A.s, id, buf, 65536, binary_for(7)), MC_OK);
    size_t now = mc_sctp_buffered_amount(A.s, id);
    if (now < prev) grew = false;
    prev = now;
  }
  CHECK(grew);
  fprintf(stderr, "buffered: %zu bytes after 20 MiB without pumping\n", prev);
  CHECK(prev >= 16u * 1024 * 1024);
  CHECK(prev <= 20u * 1024 * 1024);
  CHECK_EQ_INT(A.low_events[id], 0);
  uint64_t want = (uint64_t)count * 65536;
  CHECK(pump_until(all_bytes_in, &want, 60000));
  CHECK_EQ_INT(mc_sctp_buffered_amount(A.s, id), 0);
  CHECK_EQ_INT(A.low_events[id], 1);
  CHECK_EQ_INT(B.ex[id].received, count);
  CHECK_EQ_INT(B.ex[id].corrupt, 0);
  /* A second crossing fires once more. */
  for (int i = 0; i < 64; i++) CHECK_EQ_INT(mc_sctp_send(A.s, id, buf, 65536, binary_for(7)), MC_OK);
  CHECK(mc_sctp_buffered_amount(A.s, id) > threshold);
  want += 64 * 65536;
  CHECK(pump_until(all_bytes_in, &want, 60000));
  CHECK_EQ_INT(A.low_events[id], 2);
  free(buf);
  free_pair();
}

static void test_close(void) {
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  struct mc_dc_init init = {.label = "c", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = -1, .id = -1};
  uint16_t i0, i1, i2;
  CHECK(open_both(&A, &init, &i0));
  CHECK(open_both(&A, &init, &i1));
  CHECK(open_both(&B, &init, &i2));
  /* Close with messages still buffered: they go out first. */
  uint8_t *buf = malloc(65536);
  fill_message(buf, 65536, 7);
  for (int i = 0; i < 64; i++) CHECK_EQ_INT(mc_sctp_send(A.s, i0, buf, 65536, binary_for(7)), MC_OK);
  CHECK_EQ_INT(mc_sctp_close_channel(A.s, i0), MC_OK);
  CHECK_EQ_INT(mc_sctp_send(A.s, i0, buf, 10, true), MC_ESTATE);
  struct open_wait wa = {&A, i0}, wb = {&B, i0};
  CHECK(pump_until(is_closed, &wa, 10000));
  CHECK(pump_until(is_closed, &wb, 10000));
  CHECK_EQ_INT(B.ex[i0].received, 64);
  CHECK_EQ_INT(B.ex[i0].corrupt, 0);
  CHECK_EQ_INT(mc_sctp_send(A.s, i0, buf, 10, true), MC_ESTATE);
  CHECK_EQ_INT(mc_sctp_send(B.s, i0, buf, 10, true), MC_ESTATE);
  /* The other channels are untouched. */
  CHECK_EQ_INT(mc_sctp_send(A.s, i1, buf, 10, false), MC_OK);
  pump_for(30);
  CHECK_EQ_INT(B.ex[i1].received, 1);
  /* The side that did not open it closes it. */
  CHECK_EQ_INT(mc_sctp_close_channel(A.s, i2), MC_OK);
  struct open_wait wa2 = {&A, i2}, wb2 = {&B, i2};
  CHECK(pump_until(is_closed, &wa2, 10000));
  CHECK(pump_until(is_closed, &wb2, 10000));
  CHECK_EQ_INT(mc_sctp_send(B.s, i2, buf, 10, true), MC_ESTATE);
  /* Both close at once. */
  CHECK_EQ_INT(mc_sctp_close_channel(A.s, i1), MC_OK);
  CHECK_EQ_INT(mc_sctp_close_channel(B.s, i1), MC_OK);
  struct open_wait wa3 = {&A, i1}, wb3 = {&B, i1};
  CHECK(pump_until(is_closed, &wa3, 10000));
  CHECK(pump_until(is_closed, &wb3, 10000));
  pump_for(50);
  CHECK_EQ_INT(A.close_events, 3);
  CHECK_EQ_INT(B.close_events, 3);
  /* The ids are free again once both directions were reset. */
  uint16_t again = 999;
  CHECK(open_both(&A, &init, &again));
  CHECK_EQ_INT(again, 0);
  CHECK_EQ_INT(mc_sctp_send(A.s, again, (const uint8_t *)"re", 2, false), MC_OK);
  pump_for(30);
  CHECK_EQ_INT(B.ex[again].received, 1);
  free(buf);
  free_pair();
}


/* Both sides send a burst on their own channel and close it at once, with
 * packets lost both ways (the lab's call-eim hung this way): each side's
 * reset of a stream it still had data in flight on reached the other
 * before that data, the other answered "in progress" (RFC 6525 5.2.2) and,
 * when the last packet to arrive was a retransmission that filled a gap,
 * usrsctp never performed the deferred reset: every retransmitted request
 * got "in progress" again and the channel never closed. */
static void test_close_while_sending_under_loss(void) {
  static const unsigned drops[] = {0, 9, 13, 23, 31, 41};
  uint8_t *buf = malloc(65536);
  fill_message(buf, 65536, 3);
  int rounds = 0, aborted = 0;
  for (size_t r = 0; r < sizeof drops / sizeof drops[0]; r++) {
    for (int round = 0; round < 2; round++) {
      CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
      struct mc_dc_init init = {.label = "bulk", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = -1, .id = -1};
      uint16_t ia, ib;
      CHECK(open_both(&A, &init, &ia));
      CHECK(open_both(&B, &init, &ib));
      pkt_counter = (uint64_t)round; /* shifts which packets the loss hits */
      drop_every = drops[r];
      for (int i = 0; i < 16; i++) {
        CHECK_EQ_INT(mc_sctp_send(A.s, ia, buf, 65536, true), MC_OK);
        CHECK_EQ_INT(mc_sctp_send(B.s, ib, buf, 65536, true), MC_OK);
      }
      CHECK_EQ_INT(mc_sctp_close_channel(A.s, ia), MC_OK);
      CHECK_EQ_INT(mc_sctp_close_channel(B.s, ib), MC_OK);
      struct open_wait w[4] = {{&A, ia}, {&B, ia}, {&A, ib}, {&B, ib}};
      bool closed = true;
      for (int k = 0; k < 4; k++) closed = pump_until(is_closed, &w[k], 15000) && closed;
      if (!closed) fprintf(stderr, "test_sctp: a channel did not close (drop every %u, round %d)\n", drops[r], round);
      CHECK(closed);
      rounds++;
      if (A.state != MC_SCTP_STATE_CONNECTED || B.state != MC_SCTP_STATE_CONNECTED) {
        /* usrsctp sometimes aborts the association under this much loss
         * (a separate problem, noted in docs/peer-connection.md); the channels
         * close with it, which is all this test is about. */
        aborted++;
      } else {
        CHECK_EQ_INT(B.ex[ia].received, 16);
        CHECK_EQ_INT(A.ex[ib].received, 16);
      }
      free_pair();
    }
  }
  printf("close while sending: %d rounds, %d ended by an abort\n", rounds, aborted);
  CHECK(aborted * 2 < rounds);
  free(buf);
}

static bool b_closed(void *arg) {
  (void)arg;
  return B.state == MC_SCTP_STATE_CLOSED;
}

static void test_free(void) {
  /* Free one side while connected, with data in flight: the ABORT closes
   * the other, whose channels close with it. */
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  struct mc_dc_init init = {.label = "f", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = -1, .id = -1};
  uint16_t id;
  CHECK(open_both(&A, &init, &id));
  uint8_t *buf = malloc(65536);
  fill_message(buf, 65536, 7);
  for (int i = 0; i < 100; i++) CHECK_EQ_INT(mc_sctp_send(A.s, id, buf, 65536, binary_for(7)), MC_OK);
  pump_once();
  mc_sctp_free(A.s);
  A.s = NULL;
  CHECK(pump_until(b_closed, NULL, 10000));
  CHECK(B.closed[id]);
  CHECK_EQ_INT(mc_sctp_send(B.s, id, buf, 10, true), MC_ESTATE);
  uint16_t x;
  CHECK_EQ_INT(mc_sctp_open_channel(B.s, &init, &x), MC_ESTATE);
  free_pair();

  /* Free from inside a callback: no callback after it. */
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  CHECK(open_both(&A, &init, &id));
  for (int i = 0; i < 20; i++) CHECK_EQ_INT(mc_sctp_send(A.s, id, buf, 65536, binary_for(7)), MC_OK);
  B.free_in_callback = true;
  pump_for(200);
  CHECK(B.freed);
  CHECK_EQ_INT(B.ex[id].received, 1);
  CHECK_EQ_INT(B.callbacks_after_free, 0);
  free_pair();

  /* Free before start and right after start. */
  mc_sctp *s = NULL;
  struct mc_sctp_config c = {.is_dtls_client = true};
  CHECK_EQ_INT(mc_sctp_new(&c, &cbs, &A, &s), MC_OK);
  mc_sctp_free(s);
  CHECK_EQ_INT(mc_sctp_new(&c, &cbs, &A, &s), MC_OK);
  CHECK_EQ_INT(mc_sctp_start(s), MC_OK);
  CHECK_EQ_INT(mc_sctp_start(s), MC_ESTATE);
  uint16_t y;
  CHECK_EQ_INT(mc_sctp_open_channel(s, &init, &y), MC_ESTATE);
  mc_sctp_free(s);
  mc_sctp_free(NULL);
  drop_packets(&A);
  free(buf);
}

/* Garbage from DTLS is dropped by usrsctp's checks. */
static void test_garbage(void) {
  CHECK(connect_pair(MC_SCTP_LOCAL_MAX_MESSAGE, MC_SCTP_LOCAL_MAX_MESSAGE));
  uint8_t junk[1200];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 7 + 3);
  for (size_t n = 1; n <= sizeof junk; n += 37) mc_sctp_receive(B.s, junk, n);
  pump_for(20);
  CHECK_EQ_INT(mc_sctp_state(B.s), MC_SCTP_STATE_CONNECTED);
  free_pair();
}

int main(void) {
  mc_log_init_from_env();
  if (!getenv("MEDCALL_LOG")) mc_log_set_level(MC_LOG_WARN);
  test_dcep_codec();
  test_connect_and_dcep();
  test_send_before_ack();
  test_negotiated();
  test_unordered_and_unreliable();
  test_max_message();
  test_close();
  test_close_while_sending_under_loss();
  test_buffered_amount();
  test_loss();
  test_ordered_bulk();
  test_free();
  test_garbage();
  return CHECK_DONE();
}
