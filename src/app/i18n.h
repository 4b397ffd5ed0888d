/* The app's language (i18n.c): gettext with the catalogs of po/ (Korean
 * and English). What a person reads is wrapped in _() (N_() in static
 * tables, translated where shown; ngettext for English plurals); what
 * scripts read stays as it is: the lines on standard output ("link:",
 * "state:", "verify:", ...), logs (MC_LOG*) and protocol words. */
#ifndef MC_APP_I18N_H
#define MC_APP_I18N_H

#include <libintl.h>
#include <stdbool.h>

#define _(s) gettext(s)
#define N_(s) (s)

/* The languages --lang and the config file's "lang" take. */
#define APP_LANGS "ko, en"

/* Once, first thing in main: the language from the environment (LANGUAGE,
 * LC_ALL, LC_MESSAGES, LANG: gettext's rules), Korean even where the
 * ko_KR.UTF-8 locale is not generated. Only LC_MESSAGES and LC_CTYPE
 * follow the environment: LC_NUMERIC stays "C", so numbers on standard
 * output and in JSON never take a decimal comma. The catalogs come from
 * $MEDCALL_LOCALEDIR when set (tests, a build tree: meson devenv), else
 * from the installed localedir. */
void app_i18n_init(void);
/* "ko" or "en" over the environment (--lang, the config file's lang);
 * MC_EINVAL for anything else. Before any thread starts. */
int app_i18n_set_lang(const char *lang);
/* Takes every "--lang L" and "--lang=L" out of argv (any command, any
 * position), applying the last one: 0, or MC_EINVAL with a sentence on
 * stderr for a language medcall does not speak. */
int app_i18n_take_lang_option(int *argc, char **argv);
/* Whether the command line chose the language (it wins over the config file). */
bool app_i18n_lang_from_command_line(void);
/* mc_strerror's words in the user's language (the same English), for
 * sentences a person reads; mc_strerror itself stays English for logs. */
const char *app_strerror(int err);

#endif
