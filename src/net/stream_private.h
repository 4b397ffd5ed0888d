/* Shared between stream.c and listen.c only. */
#ifndef MC_NET_STREAM_PRIVATE_H
#define MC_NET_STREAM_PRIVATE_H

#include "net/net.h"

/* Accepts the pending connection of server into a new open, plain stream
 * that does not read yet and has no callbacks. */
int mc_stream_accept(uv_stream_t *server, mc_stream **out);
/* Starts reading an accepted stream (after its owner set the callbacks). */
int mc_stream_start_reading(mc_stream *s);

#endif
