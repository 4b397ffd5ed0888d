/* Fuzz target: the room link a person pastes into `medcall join`
 * (mc_signal_parse_link, src/signal/client.c). Any text either becomes a
 * signaling URL and a room id, or is refused with a sentence. What it
 * accepts is checked: "wss://HOST[:PORT]/ws" with the link's host and port,
 * a room id the protocol allows, and the same result from the link rebuilt
 * out of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signal/signal.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *link = malloc(size + 1);
  if (!link) return 0;
  memcpy(link, data, size);
  link[size] = '\0';
  char ws[300], room[MC_SIGNAL_ID_LEN_MAX + 1], why[300];
  /* The output sizes vary with the first byte so the "too long" refusals
   * are reached too. */
  size_t ws_cap = size ? 8 + data[0] % (sizeof ws - 8) : sizeof ws;
  size_t room_cap = size ? 1 + data[size - 1] % sizeof room : sizeof room;
  int rc = mc_signal_parse_link(link, ws, ws_cap, room, room_cap, why, sizeof why);
  if (rc != 0) {
    FUZZ_ASSERT(rc == MC_EINVAL && why[0] != '\0');
    free(link);
    return 0;
  }
  FUZZ_ASSERT(why[0] == '\0');
  size_t wl = strlen(ws);
  FUZZ_ASSERT(wl < ws_cap && !strncmp(ws, "wss://", 6) && wl > 9 && !strcmp(ws + wl - 3, "/ws"));
  FUZZ_ASSERT(strlen(room) < room_cap && mc_signal_id_valid(room, strlen(room)));
  /* The host and port come from the link as they were written. */
  FUZZ_ASSERT(!strncmp(link, "https://", 8) && !strncmp(link + 8, ws + 6, wl - 9));
  FUZZ_ASSERT(strchr(ws + 6, '/') == ws + wl - 3 && !strchr(ws, '?') && !strchr(ws, '#') && !strchr(ws, '@'));

  char again[400], ws2[300], room2[MC_SIGNAL_ID_LEN_MAX + 1];
  snprintf(again, sizeof again, "https://%.*s/r/%s#x", (int)(wl - 9), ws + 6, room);
  FUZZ_ASSERT(mc_signal_parse_link(again, ws2, sizeof ws2, room2, sizeof room2, why, sizeof why) == 0);
  FUZZ_ASSERT(!strcmp(ws2, ws) && !strcmp(room2, room));
  free(link);
  return 0;
}
