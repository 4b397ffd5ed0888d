/* Delay and jitter for the network lab, where the kernel has no netem: an
 * NFQUEUE program that holds each queued packet's verdict until its
 * release time (now + delay +- jitter), then accepts it. Packets leave in
 * arrival order unless --reorder is given (then a packet drawn a shorter
 * delay may overtake, as on a multi-path link).
 *
 *   iptables -A FORWARD -p udp -j NFQUEUE --queue-num N
 *   delayer --queue N --delay-ms 50 [--jitter-ms 15] [--reorder] [--seed S]
 *           [--burst-ms ON --period-ms P]
 *
 * With --burst-ms, every packet that arrives during the first ON ms of each
 * period of P ms is dropped: loss in bursts, timed here rather than by
 * switching firewall rules (whose own latency would stretch the bursts).
 *
 * Runs until SIGTERM/SIGINT; on exit every held packet is accepted, so
 * stopping the delayer never drops traffic. Prints one line per second
 * while packets flow: "delayer: packets N held H p50 MS". */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_HELD 65536

struct held {
  uint32_t id;
  uint64_t release_us;
};

static struct held heap[MAX_HELD]; /* min-heap on release_us, then id */
static size_t nheld;
static volatile sig_atomic_t stop;
static int delay_ms, jitter_ms, burst_ms, period_ms;
static uint64_t start_us;
static bool reorder;
static uint64_t last_release_us, rng = 0x9e3779b97f4a7c15ull;
static unsigned long long packets, dropped;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double uniform(void) { /* xorshift64*, [0, 1) */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static bool earlier(const struct held *a, const struct held *b) {
  return a->release_us < b->release_us || (a->release_us == b->release_us && a->id < b->id);
}

static void heap_push(struct held h) {
  size_t i = nheld++;
  heap[i] = h;
  while (i > 0 && earlier(&heap[i], &heap[(i - 1) / 2])) {
    struct held t = heap[i];
    heap[i] = heap[(i - 1) / 2];
    heap[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
}

static struct held heap_pop(void) {
  struct held top = heap[0];
  heap[0] = heap[--nheld];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < nheld && earlier(&heap[l], &heap[m])) m = l;
    if (r < nheld && earlier(&heap[r], &heap[m])) m = r;
    if (m == i) break;
    struct held t = heap[i];
    heap[i] = heap[m];
    heap[m] = t;
    i = m;
  }
  return top;
}

static int on_packet(struct nfq_q_handle *q, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  packets++;
  if (burst_ms && (now_us() - start_us) / 1000 % (uint64_t)period_ms < (uint64_t)burst_ms) {
    dropped++;
    return nfq_set_verdict(q, id, NF_DROP, 0, NULL);
  }
  if (nheld >= MAX_HELD) return nfq_set_verdict(q, id, NF_ACCEPT, 0, NULL); /* never drop */
  double d = delay_ms + (jitter_ms ? (uniform() * 2 - 1) * jitter_ms : 0);
  if (d < 0) d = 0;
  uint64_t rel = now_us() + (uint64_t)(d * 1000);
  if (!reorder && rel < last_release_us) rel = last_release_us;
  last_release_us = rel;
  heap_push((struct held){id, rel});
  return 0;
}

static void release_due(struct nfq_q_handle *q, bool all) {
  uint64_t now = now_us();
  while (nheld && (all || heap[0].release_us <= now)) {
    struct held h = heap_pop();
    nfq_set_verdict(q, h.id, NF_ACCEPT, 0, NULL);
  }
}

static void on_signal(int s) {
  (void)s;
  stop = 1;
}

int main(int argc, char **argv) {
  int queue = -1;
  static const struct option opts[] = {{"queue", required_argument, NULL, 'q'},
                                       {"delay-ms", required_argument, NULL, 'd'},
                                       {"jitter-ms", required_argument, NULL, 'j'},
                                       {"reorder", no_argument, NULL, 'r'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"burst-ms", required_argument, NULL, 'b'},
                                       {"period-ms", required_argument, NULL, 'p'},
                                       {NULL, 0, NULL, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'q': queue = atoi(optarg); break;
    case 'd': delay_ms = atoi(optarg); break;
    case 'j': jitter_ms = atoi(optarg); break;
    case 'r': reorder = true; break;
    case 's': rng = strtoull(optarg, NULL, 0) | 1; break;
    case 'b': burst_ms = atoi(optarg); break;
    case 'p': period_ms = atoi(optarg); break;
    default: return 2;
    }
  }
  if (queue < 0 || queue > 65535 || delay_ms < 0 || jitter_ms < 0 || jitter_ms > delay_ms || burst_ms < 0 ||
      (burst_ms && period_ms <= burst_ms)) {
    fprintf(stderr, "usage: delayer --queue N --delay-ms MS [--jitter-ms MS <= delay] [--reorder] [--seed S]\n"
                    "               [--burst-ms ON --period-ms P > ON]\n");
    return 2;
  }
  struct nfq_handle *h = nfq_open();
  if (!h) {
    fprintf(stderr, "delayer: cannot open NFQUEUE (nfnetlink_queue): %s\n", strerror(errno));
    return 1;
  }
  struct nfq_q_handle *q = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
  if (!q || nfq_set_mode(q, NFQNL_COPY_META, 0) < 0) {
    fprintf(stderr, "delayer: cannot bind queue %d: %s\n", queue, strerror(errno));
    nfq_close(h);
    return 1;
  }
  nfq_set_queue_maxlen(q, MAX_HELD);
  start_us = now_us();
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  int fd = nfq_fd(h);
  char buf[65536] __attribute__((aligned));
  printf("delayer: queue %d delay %d ms jitter %d ms%s\n", queue, delay_ms, jitter_ms, reorder ? " reorder" : "");
  fflush(stdout);
  uint64_t last_report = now_us();
  unsigned long long last_packets = 0;
  while (!stop) {
    int timeout = 100;
    if (nheld) {
      uint64_t now = now_us();
      timeout = heap[0].release_us <= now ? 0 : (int)((heap[0].release_us - now + 999) / 1000);
      if (timeout > 100) timeout = 100;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, timeout);
    if (n > 0) {
      ssize_t len;
      /* Drain what is there without blocking. */
      while ((len = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) nfq_handle_packet(h, buf, (int)len);
    }
    release_due(q, false);
    uint64_t now = now_us();
    if (now - last_report >= 1000000 && packets != last_packets) {
      printf("delayer: packets %llu held %zu dropped %llu\n", packets, nheld, dropped);
      fflush(stdout);
      last_report = now;
      last_packets = packets;
    }
  }
  release_due(q, true);
  nfq_destroy_queue(q);
  nfq_close(h);
  return 0;
}
