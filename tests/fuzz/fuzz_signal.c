/* Fuzz target: the signaling message validator (src/signal/). Any input must
 * parse or be refused with a known error code; an accepted message must have
 * the fields its type promises. An accepted offer, answer or candidate,
 * rebuilt for the peer (mc_signal_relay_json), must parse again to the same
 * fields, and nothing else is rebuilt. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signal/signal.h"

static bool same(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static void relay_round_trip(const mc_signal_msg *m) {
  char *text = mc_signal_relay_json(m);
  bool relayed = m->type == MC_SIG_OFFER || m->type == MC_SIG_ANSWER || m->type == MC_SIG_CANDIDATE;
  if (!relayed) {
    if (text) abort();
    return;
  }
  if (!text) abort();
  mc_signal_msg b;
  enum mc_signal_error e = MC_SIGERR_NONE;
  if (mc_signal_parse((const uint8_t *)text, strlen(text), &b, &e, NULL) != 0) abort();
  if (b.type != m->type || !same(b.sdp, m->sdp) || !same(b.candidate, m->candidate) || !same(b.sdp_mid, m->sdp_mid) ||
      b.sdp_mline_index != m->sdp_mline_index)
    abort();
  mc_signal_msg_clear(&b);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mc_signal_msg m;
  enum mc_signal_error e = MC_SIGERR_NONE;
  enum mc_signal_type t = MC_SIG_UNKNOWN;
  if (mc_signal_parse(data, size, &m, &e, &t) == 0) {
    if (!mc_signal_type_from_client(m.type)) abort();
    switch (m.type) {
    case MC_SIG_JOIN:
      if (!m.room || !m.name || !mc_signal_id_valid(m.room, strlen(m.room))) abort();
      break;
    case MC_SIG_RESUME:
      if (!m.session || !mc_signal_id_valid(m.session, strlen(m.session))) abort();
      break;
    case MC_SIG_OFFER:
    case MC_SIG_ANSWER:
      if (!m.sdp || strncmp(m.sdp, "v=0", 3) != 0) abort();
      break;
    case MC_SIG_CANDIDATE:
      if (!m.candidate || m.sdp_mline_index > 255) abort();
      break;
    default:
      break;
    }
    relay_round_trip(&m);
    mc_signal_msg_clear(&m);
  } else {
    if (e <= MC_SIGERR_NONE || e >= MC_SIGERR_COUNT) abort();
    char *s = mc_signal_error_json(e, mc_signal_type_from_client(t) ? t : MC_SIG_UNKNOWN);
    free(s);
  }
  enum mc_signal_type peek;
  (void)mc_signal_peek_type(data, size, &peek);
  return 0;
}
