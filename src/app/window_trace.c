/* A test hook: with MEDCALL_UI_TRACE=FILE the window appends each distinct
 * string it draws to FILE, once, as a line ('\n' inside written as "\n").
 * tests/ui reads it to know which words are on the screen (which language)
 * when pixels cannot say: a font without the script draws boxes. Without
 * the variable it costs one getenv. Main thread only, like all drawing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/window_private.h"

#define TRACE_SLOTS 4096 /* distinct strings remembered; later ones are not traced */

static FILE *trace_file;
static bool trace_checked;
static uint64_t trace_seen[TRACE_SLOTS]; /* FNV-1a hashes, 0 free */
static int trace_count;

static bool first_time(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 1099511628211ull;
  if (h == 0) h = 1;
  for (size_t i = h % TRACE_SLOTS, n = 0; n < TRACE_SLOTS; i = (i + 1) % TRACE_SLOTS, n++) {
    if (trace_seen[i] == h) return false;
    if (trace_seen[i] == 0) {
      if (trace_count >= TRACE_SLOTS * 3 / 4) return false;
      trace_seen[i] = h;
      trace_count++;
      return true;
    }
  }
  return false;
}

void win_trace_text(const char *s) {
  if (!trace_checked) {
    trace_checked = true;
    const char *path = getenv("MEDCALL_UI_TRACE");
    if (path && *path) trace_file = fopen(path, "a");
  }
  if (!trace_file || !s || !*s || !first_time(s)) return;
  for (const char *p = s; *p; p++) {
    if (*p == '\n') fputs("\\n", trace_file);
    else fputc(*p, trace_file);
  }
  fputc('\n', trace_file);
  fflush(trace_file);
}
