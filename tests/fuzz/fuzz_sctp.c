/* libFuzzer target: the SCTP glue's handling of what usrsctp delivers
 * (src/sctp/sctp.c): notifications (association changes, stream resets
 * with their stream lists and lengths, partial-delivery aborts, send
 * failures) and message pieces (reassembly, DCEP, the size limit), in any
 * order, interleaved with the application's sends and closes.
 *
 * Input: records of
 *   [kind 1][sid 2][ppid 4][len 2][len bytes]
 * kind & 3: 0 a notification, 1 a piece, 2 a last piece (eor), 3 the
 * application closes channel sid or sends len bytes on it (kind & 4). */
#include <stdlib.h>
#include <string.h>

#include "sctp/sctp.h"
#include "sctp/sctp_private.h"
#include "util/util.h"

static void on_send(const uint8_t *data, size_t len, void *user) { (void)data, (void)len, (void)user; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool quiet;
  if (!quiet) {
    mc_log_set_level(MC_LOG_OFF);
    quiet = true;
  }
  static const struct mc_sctp_callbacks cbs = {.send = on_send};
  struct mc_sctp_config cfg = {.is_dtls_client = size > 0 && (data[0] & 1),
                               .remote_max_message_size = MC_SCTP_DEFAULT_REMOTE_MAX_MESSAGE};
  mc_sctp *s = NULL;
  if (mc_sctp_new(&cfg, &cbs, NULL, &s) != MC_OK) return 0;
  size_t off = size > 0 ? 1 : 0;
  while (off + 9 <= size) {
    uint8_t kind = data[off];
    uint16_t sid = mc_get_be16(data + off + 1);
    uint32_t ppid = mc_get_be32(data + off + 3);
    size_t len = mc_get_be16(data + off + 7);
    off += 9;
    if (len > size - off) len = size - off;
    const uint8_t *p = data + off;
    off += len;
    switch (kind & 3) {
    case 0:
      mc_sctp_test_deliver(s, true, 0, 0, p, len, false);
      break;
    case 1:
    case 2:
      mc_sctp_test_deliver(s, false, sid, ppid, p, len, (kind & 3) == 2);
      break;
    default:
      if (kind & 4) (void)mc_sctp_send(s, sid, p, len, true);
      else (void)mc_sctp_close_channel(s, sid);
      break;
    }
  }
  mc_sctp_free(s);
  return 0;
}
