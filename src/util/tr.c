/* mc_tr (util.h): the one place the library meets gettext. */
#include <errno.h>
#include <libintl.h>

#include "util/util.h"

const char *mc_tr(const char *msgid) {
  /* Sentences are often built next to strerror(errno): keep errno. */
  int saved = errno;
  const char *s = dgettext("medcall", msgid);
  errno = saved;
  return s;
}
