/* Private to src/turn. */
#ifndef MC_TURN_PRIVATE_H
#define MC_TURN_PRIVATE_H

#include "turn/turn.h"

/* mc_turn_explain with the server's kind ("TURN server", "STUN server"). */
const char *mc_turn_explain_as(char *buf, size_t cap, const char *kind, const char *server,
                               enum mc_turn_transport transport, uint16_t code, const char *reason, int err,
                               bool with_credentials);

#endif
