/* The app's language: gettext's domain "medcall" (po/), chosen by the
 * environment as gettext always does, or by --lang / the config file's
 * "lang". See i18n.h and docs/app.md "Languages". */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/i18n.h"
#include "util/util.h"
#include "medcall/errors.h"

#define DOMAIN "medcall"
#ifndef MEDCALL_LOCALEDIR
#define MEDCALL_LOCALEDIR "/usr/share/locale"
#endif

static bool lang_from_command_line;

static void bind_catalogs(void) {
  const char *dir = getenv("MEDCALL_LOCALEDIR");
  bindtextdomain(DOMAIN, dir && *dir ? dir : MEDCALL_LOCALEDIR);
  /* The window (SDL_ttf) and the terminal both take UTF-8, whatever LC_CTYPE says. */
  bind_textdomain_codeset(DOMAIN, "UTF-8");
  textdomain(DOMAIN);
}

/* The language part of the locale the environment names for messages
 * ("ko_KR" of "ko_KR.UTF-8"); false for none, C or POSIX. */
static bool env_language(char *out, size_t cap) {
  static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
  const char *v = NULL;
  for (size_t i = 0; i < sizeof vars / sizeof vars[0] && !v; i++) {
    v = getenv(vars[i]);
    if (v && !*v) v = NULL;
  }
  if (!v || !strcmp(v, "C") || !strcmp(v, "POSIX") || !strncmp(v, "C.", 2)) return false;
  size_t n = strcspn(v, ".@");
  if (n == 0 || n >= cap) return false;
  memcpy(out, v, n);
  out[n] = '\0';
  return true;
}

void app_i18n_init(void) {
  /* Never LC_ALL: LC_NUMERIC stays "C" (a decimal comma would change the
   * stdout lines and the --stats-json figures). */
  if (!setlocale(LC_CTYPE, "")) setlocale(LC_CTYPE, "C.UTF-8");
  if (!setlocale(LC_MESSAGES, "")) {
    /* The locale asked for is not generated on this machine (Debian ships
     * only C.UTF-8): gettext still finds its catalog through LANGUAGE, which
     * it reads whenever LC_MESSAGES is not "C". */
    char lang[32];
    const char *language = getenv("LANGUAGE");
    if (env_language(lang, sizeof lang)) {
      if (!language || !*language) setenv("LANGUAGE", lang, 1);
      setlocale(LC_MESSAGES, "C.UTF-8");
    }
  }
  bind_catalogs();
}

int app_i18n_set_lang(const char *lang) {
  if (!lang) return MC_EINVAL;
  if (!strcmp(lang, "en")) {
    /* No catalog: the strings as written. */
    setlocale(LC_MESSAGES, "C");
  } else if (!strcmp(lang, "ko")) {
    setenv("LANGUAGE", "ko", 1);
    /* gettext ignores LANGUAGE under "C"; C.UTF-8 is always there on Debian. */
    if (!setlocale(LC_MESSAGES, "ko_KR.UTF-8")) setlocale(LC_MESSAGES, "C.UTF-8");
  } else {
    return MC_EINVAL;
  }
  /* setlocale already tells gettext to forget what it looked up; binding
   * again says so whatever libc this is. */
  bind_catalogs();
  return MC_OK;
}

int app_i18n_take_lang_option(int *argc, char **argv) {
  const char *lang = NULL;
  int out = 1;
  bool done = false; /* after "--" nothing is an option */
  for (int i = 1; i < *argc; i++) {
    const char *a = argv[i];
    if (!done && !strcmp(a, "--")) done = true;
    if (!done && !strcmp(a, "--lang")) {
      if (i + 1 >= *argc) {
        fprintf(stderr, _("medcall: --lang wants a language: %s\n"), APP_LANGS);
        return MC_EINVAL;
      }
      lang = argv[++i];
      continue;
    }
    if (!done && !strncmp(a, "--lang=", 7)) {
      lang = a + 7;
      continue;
    }
    argv[out++] = argv[i];
  }
  *argc = out;
  argv[out] = NULL;
  if (!lang) return MC_OK;
  if (app_i18n_set_lang(lang) != MC_OK) {
    fprintf(stderr, _("medcall: --lang wants one of %s, not '%s'\n"), APP_LANGS, lang);
    return MC_EINVAL;
  }
  lang_from_command_line = true;
  return MC_OK;
}

bool app_i18n_lang_from_command_line(void) { return lang_from_command_line; }

const char *app_strerror(int err) { return mc_tr(mc_strerror(err)); }
