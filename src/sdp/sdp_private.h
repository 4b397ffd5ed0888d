/* Shared inside src/sdp only. */
#ifndef MC_SDP_PRIVATE_H
#define MC_SDP_PRIVATE_H

#include <stdbool.h>

#include "sdp/sdp.h"

/* True when every count in the model is within its array's bound, as
 * mc_sdp_parse guarantees; a hand-built model is checked before use. */
bool sdp_model_counts_ok(const mc_sdp *s);

#endif
