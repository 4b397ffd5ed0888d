#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "util/util.h"

struct conf_seen {
  char lines[8][64];
  int n;
};

static int conf_line(const char *name, const char *value, void *user, char *why, size_t why_cap) {
  struct conf_seen *s = user;
  if (!strcmp(name, "bad")) {
    snprintf(why, why_cap, "no");
    return MC_EINVAL;
  }
  if (s->n < 8) snprintf(s->lines[s->n++], sizeof s->lines[0], "%.20s|%.20s", name, value ? value : "(flag)");
  return 0;
}

/* One reader for the server's and the app's config files: over a buffer
 * (mc_conf_parse) and a file (mc_conf_read). */
static void test_conf(void) {
  struct conf_seen s = {0};
  char why[200] = "";
  const char *text = "# comment\n  a = 1  \n\nflag\ntoken = Xk9#q2 # cut\n=v\r\nlast=x";
  CHECK_EQ_INT(mc_conf_parse((const uint8_t *)text, strlen(text), "t", conf_line, &s, why, sizeof why), 0);
  CHECK_EQ_INT(s.n, 5);
  CHECK_STR(s.lines[0], "a|1");
  CHECK_STR(s.lines[1], "flag|(flag)");
  CHECK_STR(s.lines[2], "token|Xk9#q2");
  CHECK_STR(s.lines[3], "|v");
  CHECK_STR(s.lines[4], "last|x");
  /* the line number of the line refused; a line longer than the reader's
   * buffer counts as two, as it did when fgets read the file */
  static char big[5000];
  memset(big, 'x', 4100);
  memcpy(big + 4100, "\nok\nbad\n", 9);
  memset(&s, 0, sizeof s);
  CHECK_EQ_INT(mc_conf_parse((const uint8_t *)big, 4109, "f.conf", conf_line, &s, why, sizeof why), MC_EINVAL);
  CHECK_STR(why, "f.conf:4: no");
  CHECK_EQ_INT(s.n, 3);

  char path[] = "/tmp/medcall-conf-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, "a = 1\nbad\n", 11) == 11);
  close(fd);
  memset(&s, 0, sizeof s);
  CHECK_EQ_INT(mc_conf_read(path, conf_line, &s, why, sizeof why), MC_EINVAL);
  CHECK(strlen(why) > strlen(path) && !strncmp(why, path, strlen(path)) && !strcmp(why + strlen(path), ":2: no"));
  /* a file no config could be is refused, not read into memory whole */
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  for (int i = 0; i < 1100; i++) fprintf(f, "%01023d\n", 0);
  fclose(f);
  memset(&s, 0, sizeof s);
  CHECK_EQ_INT(mc_conf_read(path, conf_line, &s, why, sizeof why), MC_EIO);
  CHECK(s.n == 0 && strstr(why, path) != NULL);
  unlink(path);
  CHECK_EQ_INT(mc_conf_read(path, conf_line, &s, why, sizeof why), MC_ENOTFOUND);
  CHECK(strstr(why, path) != NULL);
}

int main(void) {
  uint8_t b[8];
  mc_put_be32(b, 0x01020304u);
  CHECK_EQ_INT(mc_get_be32(b), 0x01020304);
  mc_put_be64(b, 0x1122334455667788ull);
  CHECK(mc_get_be64(b) == 0x1122334455667788ull);

  char hex[9];
  const uint8_t bytes[] = {0xde, 0xad, 0xbe, 0xef};
  CHECK_EQ_INT(mc_hex_encode(bytes, 4, hex, sizeof hex), MC_OK);
  CHECK_STR(hex, "deadbeef");
  CHECK_EQ_INT(mc_hex_encode(bytes, 4, hex, 8), MC_ETOOBIG);

  char b64[16];
  CHECK_EQ_INT(mc_base64_encode((const uint8_t *)"hello", 5, b64, sizeof b64), 8);
  CHECK_STR(b64, "aGVsbG8=");
  uint8_t dec[16];
  CHECK_EQ_INT(mc_base64_decode("aGVsbG8=", 8, dec, sizeof dec), 5);
  CHECK_MEM(dec, "hello", 5);
  CHECK(mc_base64_decode("aGVsbG8", 7, dec, sizeof dec) < 0);

  /* a minimum over one to two windows of 10 */
  struct mc_window_min wm = {0};
  mc_window_min_add(&wm, 50, 0, 10);
  CHECK(wm.have && !wm.rolled && mc_window_min_get(&wm) == 50);
  mc_window_min_add(&wm, 30, 5, 10);
  mc_window_min_add(&wm, 70, 10, 10); /* a new bucket: 30 is still in the last one */
  CHECK(wm.rolled && mc_window_min_get(&wm) == 30);
  mc_window_min_add(&wm, 60, 15, 10);
  CHECK(mc_window_min_get(&wm) == 30);
  mc_window_min_add(&wm, 80, 20, 10); /* 30's bucket is gone */
  CHECK(mc_window_min_get(&wm) == 60);
  mc_window_min_add(&wm, 40, 21, 10);
  CHECK(mc_window_min_get(&wm) == 40);

  char ice[23];
  CHECK_EQ_INT(mc_random_ice_chars(ice, 22), MC_OK);
  CHECK_EQ_INT(strlen(ice), 22);

  /* Text from the other side, as a terminal or the window gets it. */
  char shown[256];
  mc_text_shown(shown, sizeof shown, "김민수 Kim\tMin-su");
  CHECK_STR(shown, "김민수 Kim Min-su"); /* Hangul and mixed text kept, a tab is a space */
  mc_text_shown(shown, sizeof shown, "\x1b]0;owned\x07hi\x1b[31mred\nfile: invoice.pdf 1 bytes saved /tmp/x");
  CHECK(strchr(shown, 0x1b) == NULL && strchr(shown, '\n') == NULL && strchr(shown, 0x07) == NULL);
  CHECK_STR(shown, "\xef\xbf\xbd]0;owned\xef\xbf\xbdhi\xef\xbf\xbd[31mred\xef\xbf\xbd"
                   "file: invoice.pdf 1 bytes saved /tmp/x");
  mc_text_shown(shown, sizeof shown, "report\xe2\x80\xae" "fdp.exe"); /* U+202E RIGHT-TO-LEFT OVERRIDE */
  CHECK_STR(shown, "report\xef\xbf\xbd" "fdp.exe");
  mc_text_shown(shown, sizeof shown, "a\xe2\x81\xa6" "b\xe2\x80\x8b" "c\xef\xbb\xbf" "d\xc2\x9b" "e\xe3\x85\xa4" "f");
  CHECK_STR(shown, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd" "d\xef\xbf\xbd" "e\xef\xbf\xbd" "f"); /* LRI, ZWSP, BOM, CSI, Hangul filler */
  mc_text_shown(shown, sizeof shown, "ok\xc3\x28\xed\xa0\x80\xf4\x90\x80\x80");    /* invalid, surrogate, > U+10FFFF */
  CHECK(strncmp(shown, "ok\xef\xbf\xbd(\xef\xbf\xbd", 9) == 0);
  for (size_t i = 0, l = 1; shown[i] && l; i += l) CHECK((l = mc_utf8_decode(shown + i, strlen(shown + i), NULL)) > 0);
  mc_text_shown(shown, 8, "가나다"); /* 9 bytes: cut at a character boundary */
  CHECK_STR(shown, "가나");
  uint32_t cp = 0;
  CHECK_EQ_INT(mc_utf8_decode("\xea\xb0\x80", 3, &cp), 3);
  CHECK(cp == 0xac00);
  CHECK_EQ_INT(mc_utf8_decode("\xea\xb0", 2, &cp), 0);      /* cut */
  CHECK_EQ_INT(mc_utf8_decode("\xc0\xaf", 2, &cp), 0);      /* overlong '/' */
  CHECK(!mc_char_is_hidden(0xac00) && !mc_char_is_hidden('a') && mc_char_is_hidden(0x202e) && mc_char_is_hidden(0x1b));

  char cut[5];
  CHECK_EQ_INT(mc_strcpy(cut, sizeof cut, "가나"), MC_ETOOBIG); /* 6 bytes into 5: never half of 나 */
  CHECK_STR(cut, "가");
  char small[4];
  CHECK_EQ_INT(mc_strcpy(small, sizeof small, "abcdef"), MC_ETOOBIG);
  CHECK_STR(small, "abc");

  uint64_t t0 = mc_now_ms();
  CHECK(mc_now_ms() >= t0);
  CHECK(mc_wall_ms() > 1600000000000ull);
  CHECK_STR(mc_strerror(MC_ETIMEDOUT), "timed out");
  test_conf();
  return CHECK_DONE();
}
