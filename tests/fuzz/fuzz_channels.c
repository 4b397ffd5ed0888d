/* libFuzzer target: what the peer sends on the data channels of a call
 * (src/app/channels.c): the file channel's JSON header, the control
 * channel's state message, and the file name cleaner on any bytes. */
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "medcall/errors.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

static void check_safe(const char *name, size_t cap) {
  size_t len = strlen(name);
  FUZZ_ASSERT(len > 0 && len < cap);
  FUZZ_ASSERT(name[0] != '.' && name[0] != ' ');
  FUZZ_ASSERT(name[len - 1] != '.' && name[len - 1] != ' ');
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)name[i];
    FUZZ_ASSERT(ch >= 0x20 && ch != 0x7f && ch != '/' && ch != '\\');
  }
  /* already safe: cleaning again changes nothing */
  char again[256];
  call_channels_safe_name(name, again, sizeof again);
  FUZZ_ASSERT(strcmp(again, name) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct call_file_header h;
  if (call_channels_parse_file_header(data, size, &h) == MC_OK) {
    check_safe(h.name, sizeof h.name);
    FUZZ_ASSERT(h.mime[0] && strlen(h.mime) < sizeof h.mime);
  }
  bool mic = false, cam = false;
  bool paused = false;
  int rc = call_channels_parse_state(data, size, &mic, &cam, &paused);
  FUZZ_ASSERT(rc == MC_OK || rc == MC_ENOTFOUND || rc == MC_EPARSE);

  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  char name[256];
  size_t cap = 8 + (size ? data[0] % 248 : 0);
  call_channels_safe_name(text, name, cap);
  check_safe(name, cap);
  free(text);
  return 0;
}
