/* Fuzzes JSEP (RFC 9429) with remote descriptions: whatever parses is given
 * to mc_jsep_set_remote as an offer and, to a peer with an offer out, as an
 * answer. Nothing may crash; a refusal must come with a sentence; every
 * description we produce must write and parse back to an equal model and be
 * accepted by our own set_local. */
#include <stdlib.h>
#include <string.h>

#include "sdp/sdp.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fp[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                               17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static mc_sdp in, out, back;
static char text[256 * 1024];

static void roundtrip(const mc_sdp *s) {
  size_t n = 0;
  int line;
  char why[128];
  if (mc_sdp_write(s, text, sizeof text, &n) != 0) abort();
  if (mc_sdp_parse((const uint8_t *)text, n, &back, &line, why, sizeof why) != 0) abort();
  if (!mc_sdp_equal(s, &back)) abort();
}

static mc_jsep *peer(void) {
  struct mc_jsep_config c = {"fuzz", "fuzzpassword0123456789", fp, 32, "cname", false};
  struct mc_jsep_track a = {1, 0, "s", "a"}, v = {2, 3, "s", "v"};
  mc_jsep *j = NULL;
  if (mc_jsep_new(&c, &j) != 0 || mc_jsep_add_transceiver(j, MC_MEDIA_AUDIO, &a, NULL) != 0 ||
      mc_jsep_add_transceiver(j, MC_MEDIA_VIDEO, &v, NULL) != 0 || mc_jsep_add_data(j) != 0)
    abort();
  return j;
}

static void check_refusal(int rc, const char *why) {
  if (rc != 0 && (rc != MC_EINVAL || why[0] == '\0')) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mc_log_set_level(MC_LOG_OFF);
  int line;
  char why[256];
  if (mc_sdp_parse(data, size, &in, &line, why, sizeof why) != 0) return 0;

  /* as the peer's offer */
  mc_jsep *j = peer();
  int rc = mc_jsep_set_remote(j, MC_SDP_OFFER, &in, why, sizeof why);
  check_refusal(rc, why);
  if (rc == 0) {
    if (mc_jsep_create_answer(j, &out) != 0) abort();
    roundtrip(&out);
    if (mc_jsep_set_local(j, MC_SDP_ANSWER, &back) != 0) abort();
    if (mc_jsep_state(j) != MC_JSEP_STABLE) abort();
    const struct mc_jsep_transport *t;
    if (mc_jsep_transport(j, &t) != 0) abort();
    /* a renegotiation from our side keeps every m-line */
    if (mc_jsep_create_offer(j, &out) != 0) abort();
    if (out.media_count < in.media_count) abort();
    roundtrip(&out);
    if (mc_jsep_set_local(j, MC_SDP_OFFER, &back) != 0) abort();
  }
  mc_jsep_free(j);

  /* as the answer to our offer */
  j = peer();
  if (mc_jsep_create_offer(j, &out) != 0) abort();
  roundtrip(&out);
  if (mc_jsep_set_local(j, MC_SDP_OFFER, &back) != 0) abort();
  rc = mc_jsep_set_remote(j, MC_SDP_ANSWER, &in, why, sizeof why);
  check_refusal(rc, why);
  if (rc == 0 && mc_jsep_state(j) != MC_JSEP_STABLE) abort();
  if (rc == 0) {
    if (mc_jsep_create_offer(j, &out) != 0) abort();
    roundtrip(&out);
  }
  mc_jsep_free(j);
  return 0;
}
