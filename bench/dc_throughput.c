/* dc_throughput: data channel throughput of two mc_sctp back to back in one
 * process (no DTLS, no sockets): 64 KiB ordered reliable binary messages
 * from A to B for about 3 s, the sender keeping its buffered amount between
 * 1 and 4 MiB like a bufferedAmountLow-driven application. Prints figures;
 * never fails on time. Usage: dc_throughput [SECONDS] [MESSAGE_BYTES] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sctp/sctp.h"
#include "util/util.h"

struct pkt {
  struct pkt *next;
  size_t len;
  uint8_t data[];
};

struct side {
  mc_sctp *s;
  struct pkt *head, *tail;
  bool connected, open;
  uint64_t bytes, msgs, pkts;
  bool bad;
};

static struct side A, B;
static uint64_t expect_index;

static void on_send(const uint8_t *data, size_t len, void *user) {
  struct side *p = user;
  struct pkt *k = malloc(sizeof *k + len);
  if (!k) abort();
  k->next = NULL;
  k->len = len;
  memcpy(k->data, data, len);
  if (p->tail) p->tail->next = k;
  else p->head = k;
  p->tail = k;
  p->pkts++;
}

static void on_state(enum mc_sctp_state st, void *user) {
  ((struct side *)user)->connected = st == MC_SCTP_STATE_CONNECTED;
}

static void on_open(uint16_t id, const char *label, const char *protocol, bool remote, void *user) {
  (void)id, (void)label, (void)protocol, (void)remote;
  ((struct side *)user)->open = true;
}

static void on_message(uint16_t id, const uint8_t *data, size_t len, bool binary, void *user) {
  (void)id, (void)binary;
  struct side *p = user;
  if (len < 8 || mc_get_be64(data) != expect_index) p->bad = true;
  expect_index++;
  p->bytes += len;
  p->msgs++;
}

static const struct mc_sctp_callbacks cbs = {.send = on_send, .on_state = on_state, .on_channel_open = on_open,
                                             .on_message = on_message};

static bool deliver(struct side *from, struct side *to) {
  struct pkt *k = from->head;
  from->head = from->tail = NULL;
  bool moved = k != NULL;
  while (k) {
    struct pkt *n = k->next;
    mc_sctp_receive(to->s, k->data, k->len);
    free(k);
    k = n;
  }
  return moved;
}

static uint64_t last_tick;
static void pump(void) {
  deliver(&A, &B);
  deliver(&B, &A);
  uint64_t now = mc_now_ms();
  if (now != last_tick) {
    mc_sctp_handle_timers((uint32_t)(now - last_tick));
    last_tick = now;
  }
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 3.0;
  size_t msg = argc > 2 ? (size_t)atol(argv[2]) : 65536;
  if (seconds <= 0 || msg < 8 || msg > MC_SCTP_LOCAL_MAX_MESSAGE) {
    fprintf(stderr, "usage: %s [SECONDS] [MESSAGE_BYTES 8..%d]\n", argv[0], MC_SCTP_LOCAL_MAX_MESSAGE);
    return 2;
  }
  mc_log_init_from_env();
  if (!getenv("MEDCALL_LOG")) mc_log_set_level(MC_LOG_WARN);
  struct mc_sctp_config ca = {.is_dtls_client = true, .remote_max_message_size = MC_SCTP_LOCAL_MAX_MESSAGE};
  struct mc_sctp_config cb = {.is_dtls_client = false, .remote_max_message_size = MC_SCTP_LOCAL_MAX_MESSAGE};
  if (mc_sctp_new(&ca, &cbs, &A, &A.s) || mc_sctp_new(&cb, &cbs, &B, &B.s)) return 1;
  last_tick = mc_now_ms();
  uint64_t t0 = mc_now_us();
  mc_sctp_start(A.s);
  mc_sctp_start(B.s);
  while (!(A.connected && B.connected) && mc_now_us() - t0 < 10000000) pump();
  if (!A.connected) {
    fprintf(stderr, "association did not come up\n");
    return 1;
  }
  double connect_ms = (mc_now_us() - t0) / 1000.0;
  struct mc_dc_init init = {.label = "bench", .ordered = true, .max_retransmits = -1, .max_packet_lifetime = -1, .id = -1};
  uint16_t id;
  if (mc_sctp_open_channel(A.s, &init, &id)) return 1;
  while (!(A.open && B.open)) pump();

  uint8_t *buf = malloc(msg);
  for (size_t i = 0; i < msg; i++) buf[i] = (uint8_t)(i * 13);
  uint64_t index = 0;
  uint64_t start = mc_now_us(), end = start + (uint64_t)(seconds * 1e6);
  double cpu0 = cpu_s();
  uint64_t pk0 = A.pkts + B.pkts;
  while (mc_now_us() < end) {
    while (mc_sctp_buffered_amount(A.s, id) < 4u * 1024 * 1024) {
      mc_put_be64(buf, index);
      if (mc_sctp_send(A.s, id, buf, msg, true) != MC_OK) break;
      index++;
    }
    pump();
  }
  double elapsed = (mc_now_us() - start) / 1e6;
  double cpu = cpu_s() - cpu0;
  uint64_t pkts = A.pkts + B.pkts - pk0;
  printf("dc_throughput: %zu-byte messages, ordered reliable, in process, no DTLS\n", msg);
  printf("association up in %.1f ms\n", connect_ms);
  printf("%.1f Mbit/s (%llu messages, %.1f MB in %.2f s), %.0f packets/s, data %s\n", B.bytes * 8 / elapsed / 1e6,
         (unsigned long long)B.msgs, B.bytes / 1e6, elapsed, pkts / elapsed, B.bad ? "CORRUPT" : "in order");
  /* Both ends share one thread: on a busy machine the process gets less
   * than a core, and the figure per CPU second is the steadier one. */
  printf("CPU %.0f%% of one core (both ends), %.1f Mbit per CPU second\n", 100 * cpu / elapsed,
         cpu > 0 ? B.bytes * 8 / cpu / 1e6 : 0.0);
  mc_sctp_free(A.s);
  mc_sctp_free(B.s);
  for (struct side *p = &A; p; p = p == &A ? &B : NULL)
    while (p->head) {
      struct pkt *k = p->head;
      p->head = k->next;
      free(k);
    }
  free(buf);
  return B.bad ? 1 : 0;
}
