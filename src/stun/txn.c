/* STUN client transactions (RFC 8489 6.2.1 over UDP, 6.2.2 over TCP/TLS).
 * The table never reads a clock: every deadline derives from the now_ms its
 * owner passes in, so tests drive time explicitly.
 *
 * Callbacks may call back into the table (start, cancel_user, even a nested
 * tick): the table never touches an entry after a callback and rescans from
 * the start instead. */
#include <stdlib.h>
#include <string.h>

#include "stun/stun_private.h"

struct mc_stun_txn {
  struct mc_stun_txn *next;
  uint8_t txid[MC_STUN_TXID_LEN];
  uint16_t method;
  bool reliable;
  unsigned sends;    /* how many times the request went out */
  uint64_t rto;
  uint64_t interval; /* the wait after the latest send */
  uint64_t deadline; /* next retransmission, or the timeout after the last */
  void *user;
  size_t len;
  uint8_t msg[];
};

struct mc_stun_txn_table {
  struct mc_stun_txn_callbacks cbs;
  void *user;
  struct mc_stun_txn *head;
};

mc_stun_txn_table *mc_stun_txn_table_new(const struct mc_stun_txn_callbacks *cbs, void *table_user) {
  if (!cbs || !cbs->send || !cbs->done) return NULL;
  mc_stun_txn_table *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->cbs = *cbs;
  t->user = table_user;
  return t;
}

void mc_stun_txn_table_free(mc_stun_txn_table *t) {
  if (!t) return;
  struct mc_stun_txn *x = t->head;
  while (x) {
    struct mc_stun_txn *next = x->next;
    free(x);
    x = next;
  }
  free(t);
}

static struct mc_stun_txn *find(const mc_stun_txn_table *t, const uint8_t *txid) {
  for (struct mc_stun_txn *x = t->head; x; x = x->next)
    if (memcmp(x->txid, txid, MC_STUN_TXID_LEN) == 0) return x;
  return NULL;
}

static void unlink_txn(mc_stun_txn_table *t, struct mc_stun_txn *x) {
  for (struct mc_stun_txn **pp = &t->head; *pp; pp = &(*pp)->next) {
    if (*pp == x) {
      *pp = x->next;
      return;
    }
  }
}

/* RFC 8489 6.2.1: the first send is at 0, then the wait doubles (RTO, 2 RTO,
 * 4 RTO...) until Rc sends; after the last, the client waits Rm * RTO.
 * RFC 8489 6.2.2: over a reliable transport one send and Ti. */
int mc_stun_txn_start(mc_stun_txn_table *t, const uint8_t *msg, size_t len, uint32_t rto_ms, bool reliable,
                      void *txn_user, uint64_t now_ms) {
  if (!t || !msg || len < MC_STUN_HEADER_LEN) return MC_EINVAL;
  if (find(t, msg + 8)) return MC_EINVAL; /* txids must be unique to match responses */
  struct mc_stun_txn *x = calloc(1, sizeof *x + len);
  if (!x) return MC_ENOMEM;
  uint8_t cls;
  mc_stun_type_decode(mc_get_be16(msg), &x->method, &cls);
  memcpy(x->txid, msg + 8, MC_STUN_TXID_LEN);
  memcpy(x->msg, msg, len);
  x->len = len;
  x->user = txn_user;
  x->reliable = reliable;
  x->sends = 1;
  x->rto = rto_ms ? rto_ms : MC_STUN_RTO_MS;
  x->interval = reliable ? MC_STUN_TI_MS : x->rto;
  x->deadline = now_ms + x->interval;
  x->next = t->head;
  t->head = x;
  MC_LOGD("stun", "txn start method=0x%03x reliable=%d", (unsigned)x->method, (int)reliable);
  t->cbs.send(txn_user, x->msg, x->len, t->user);
  return MC_OK;
}

bool mc_stun_txn_handle_response(mc_stun_txn_table *t, const mc_stun_msg *msg, const uint8_t *buf, size_t len) {
  if (!t || !msg) return false;
  if (msg->cls != MC_STUN_SUCCESS && msg->cls != MC_STUN_ERROR) return false;
  struct mc_stun_txn *x = find(t, msg->txid);
  /* RFC 8489 6.3: a response carries its request's method; a matching
   * txid with another method is not an answer to this request. */
  if (!x || x->method != msg->method) return false;
  unlink_txn(t, x);
  void *user = x->user;
  free(x);
  t->cbs.done(user, MC_OK, msg, buf, len, t->user);
  return true;
}

void mc_stun_txn_cancel_user(mc_stun_txn_table *t, void *txn_user) {
  if (!t) return;
  struct mc_stun_txn **pp = &t->head;
  while (*pp) {
    struct mc_stun_txn *x = *pp;
    if (x->user == txn_user) {
      *pp = x->next;
      free(x);
    } else {
      pp = &x->next;
    }
  }
}

void mc_stun_txn_tick(mc_stun_txn_table *t, uint64_t now_ms) {
  if (!t) return;
  bool again = true;
  while (again) {
    again = false;
    for (struct mc_stun_txn *x = t->head; x; x = x->next) {
      if (x->deadline > now_ms) continue;
      if (!x->reliable && x->sends < MC_STUN_RC) {
        x->sends++;
        /* The last send waits Rm * RTO instead of doubling. */
        x->interval = x->sends == MC_STUN_RC ? x->rto * MC_STUN_RM : x->interval * 2;
        /* From the time of this send: a late tick delays the schedule
         * rather than bunching retransmissions. */
        x->deadline = now_ms + x->interval;
        t->cbs.send(x->user, x->msg, x->len, t->user);
      } else {
        unlink_txn(t, x);
        void *user = x->user;
        MC_LOGD("stun", "txn timeout method=0x%03x sends=%u", (unsigned)x->method, x->sends);
        free(x);
        t->cbs.done(user, MC_ETIMEDOUT, NULL, NULL, 0, t->user);
      }
      again = true;
      break;
    }
  }
}

uint64_t mc_stun_txn_next_deadline(const mc_stun_txn_table *t) {
  uint64_t best = UINT64_MAX;
  if (!t) return best;
  for (const struct mc_stun_txn *x = t->head; x; x = x->next)
    if (x->deadline < best) best = x->deadline;
  return best;
}

size_t mc_stun_txn_count(const mc_stun_txn_table *t) {
  size_t n = 0;
  if (!t) return 0;
  for (const struct mc_stun_txn *x = t->head; x; x = x->next) n++;
  return n;
}
