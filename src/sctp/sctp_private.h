/* For tests/fuzz only: what usrsctp hands the glue, delivered directly, so
 * that a fuzz target reaches the glue's own parsing (notifications, the
 * stream-reset event's stream list, message reassembly) without forging
 * SCTP packets with valid tags and checksums. Never called by the library. */
#ifndef MC_SCTP_PRIVATE_H
#define MC_SCTP_PRIVATE_H

#include "sctp/sctp.h"

/* One notification (union sctp_notification bytes, as read with
 * MSG_NOTIFICATION) or one piece of a message on stream sid (eor: its
 * last piece), then the events they raise, as after a receive. */
void mc_sctp_test_deliver(mc_sctp *s, bool notification, uint16_t sid, uint32_t ppid, const uint8_t *data,
                          size_t len, bool eor);

#endif
