/* user_dirs.c: user-dirs.dirs parsed as xdg-user-dir reads it, strictly;
 * the download folder chosen from it, then $XDG_DOWNLOAD_DIR, ~/Downloads,
 * ~ (issue 15 item 4). Korean folder names are UTF-8 paths like any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "check.h"

#define HOME "/home/민수"

static int lookup(const char *text, const char *name, char *out, size_t cap) {
  return call_user_dirs_lookup((const uint8_t *)text, strlen(text), name, HOME, out, cap);
}

/* The file's value for DOWNLOAD, or "" when lookup fails. */
static const char *download(const char *text) {
  static char out[512];
  if (lookup(text, "DOWNLOAD", out, sizeof out) != 0) out[0] = 0;
  return out;
}

static void test_parse(void) {
  /* What xdg-user-dirs-update writes on a Korean desktop. */
  const char *korean = "# This file is written by xdg-user-dirs-update\n"
                       "# If you want to change or add directories, just edit the line you're\n"
                       "XDG_DESKTOP_DIR=\"$HOME/바탕화면\"\n"
                       "XDG_DOWNLOAD_DIR=\"$HOME/다운로드\"\n"
                       "XDG_DOCUMENTS_DIR=\"$HOME/문서\"\n";
  CHECK_STR(download(korean), HOME "/다운로드");
  char out[512];
  CHECK_EQ_INT(lookup(korean, "DOCUMENTS", out, sizeof out), 0);
  CHECK_STR(out, HOME "/문서");
  CHECK_EQ_INT(lookup(korean, "MUSIC", out, sizeof out), MC_ENOTFOUND);
  /* A prefix of another name is not that name. */
  CHECK_EQ_INT(lookup("XDG_DOWNLOADS_DIR=\"/x\"\nXDG_DOWNLOAD_DIRECTORY=\"/y\"\n", "DOWNLOAD", out, sizeof out),
               MC_ENOTFOUND);

  CHECK_STR(download("XDG_DOWNLOAD_DIR=\"/srv/받은 파일\""), "/srv/받은 파일"); /* absolute, no final newline */
  CHECK_STR(download("  \tXDG_DOWNLOAD_DIR = \"$HOME/Downloads\"  \n"), HOME "/Downloads");
  CHECK_STR(download("XDG_DOWNLOAD_DIR=\"$HOME\"\n"), HOME); /* a disabled folder is the home */
  CHECK_STR(download("XDG_DOWNLOAD_DIR=\"$HOME/\"\n"), HOME);
  CHECK_STR(download("XDG_DOWNLOAD_DIR=\"/\"\n"), "/");
  /* Shell escapes: \" \\ \$ \` and nothing else. */
  CHECK_STR(download("XDG_DOWNLOAD_DIR=\"$HOME/a \\\"b\\\" \\\\ \\$c \\`d\"\n"), HOME "/a \"b\" \\ $c `d");
  /* The last line wins, as when a shell sources the file; a bad line
   * after a good one leaves the good one. */
  CHECK_STR(download("XDG_DOWNLOAD_DIR=\"/one\"\nXDG_DOWNLOAD_DIR=\"/two\"\n"), "/two");
  CHECK_STR(download("XDG_DOWNLOAD_DIR=\"/one\"\nXDG_DOWNLOAD_DIR=\"two\"\n"), "/one");
  /* Comments and blank lines; a commented-out line is not read. */
  CHECK_STR(download("\n\n# XDG_DOWNLOAD_DIR=\"/no\"\n   # x\nXDG_DOWNLOAD_DIR=\"/yes\"\n\n"), "/yes");

  /* Not the form: skipped. */
  static const char *const bad[] = {
      "XDG_DOWNLOAD_DIR=\"relative/path\"\n",      /* relative (user-dirs.dirs(5)) */
      "XDG_DOWNLOAD_DIR=\"~/Downloads\"\n",        /* ~ is the shell's, not the file's */
      "XDG_DOWNLOAD_DIR=$HOME/Downloads\n",        /* unquoted */
      "XDG_DOWNLOAD_DIR='$HOME/Downloads'\n",      /* single quotes */
      "XDG_DOWNLOAD_DIR=\"$HOME/Downloads\n",      /* no closing quote */
      "XDG_DOWNLOAD_DIR=\"$HOME/Down\nloads\"\n",  /* a quote across lines */
      "XDG_DOWNLOAD_DIR=\"$HOMEX/Downloads\"\n",   /* another variable */
      "XDG_DOWNLOAD_DIR=\"$HOME/$USER\"\n",        /* a shell would expand it */
      "XDG_DOWNLOAD_DIR=\"$HOME/`id`\"\n",         /* or run it */
      "XDG_DOWNLOAD_DIR=\"$HOME/a\\nb\"\n",        /* \n is not an escape of the form */
      "XDG_DOWNLOAD_DIR=\"$HOME/a\\",              /* a backslash at the very end */
      "XDG_DOWNLOAD_DIR=\"$HOME/a\" b\n",          /* something after the value */
      "XDG_DOWNLOAD_DIR=\"$HOME/a\"\r\n",          /* nor a carriage return */
      "XDG_DOWNLOAD_DIR=\"$HOME/a\tb\"\n",         /* a control character */
      "XDG_DOWNLOAD_DIR=\"$HOME/\xed\x8c\"\n",     /* a cut UTF-8 sequence */
      "XDG_DOWNLOAD_DIR=\"$HOME/\xc0\xaf\"\n",     /* an overlong '/' */
      "XDG_DOWNLOAD_DIR=\"$HOME/\xed\xa0\x80\"\n", /* a surrogate */
      "XDG_DOWNLOAD_DIR\n",
      "XDG_DOWNLOAD_DIR=\n",
      "XDG_DOWNLOAD_DIR=\"",
      "XDG_",
      "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (download(bad[i])[0]) fprintf(stderr, "bad line %zu accepted\n", i);
    CHECK_STR(download(bad[i]), "");
  }

  /* The length given is the end: bytes after it are never read. */
  const char *cut = "XDG_DOWNLOAD_DIR=\"/abc\"\nXDG_DOWNLOAD_DIR=\"/later\"\n";
  CHECK_EQ_INT(call_user_dirs_lookup((const uint8_t *)cut, 24, "DOWNLOAD", HOME, out, sizeof out), 0);
  CHECK_STR(out, "/abc");
  CHECK_EQ_INT(call_user_dirs_lookup((const uint8_t *)cut, 22, "DOWNLOAD", HOME, out, sizeof out), MC_ENOTFOUND);
  /* Too long for the output: said so, never cut. */
  CHECK_EQ_INT(lookup("XDG_DOWNLOAD_DIR=\"$HOME/다운로드\"\n", "DOWNLOAD", out, sizeof HOME + 3), MC_ETOOBIG);
  CHECK_EQ_INT(lookup("XDG_DOWNLOAD_DIR=\"/abc\"\n", "DOWNLOAD", out, 4), MC_ETOOBIG);
  CHECK_EQ_INT(lookup("XDG_DOWNLOAD_DIR=\"/abc\"\n", "DOWNLOAD", out, 5), 0);
  CHECK_EQ_INT(call_user_dirs_lookup(NULL, 0, "DOWNLOAD", HOME, out, sizeof out), MC_EINVAL);
}

static char tmp[256];

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static const char *download_dir(void) {
  static char out[4096];
  call_download_dir(out, sizeof out);
  return out;
}

static void test_download_dir(void) {
  snprintf(tmp, sizeof tmp, "/tmp/medcall-userdirs.XXXXXX");
  CHECK(mkdtemp(tmp) != NULL);
  char home[512], config[600], file[700], korean[600], downloads[600], env_dir[600];
  snprintf(home, sizeof home, "%s/home", tmp);
  snprintf(config, sizeof config, "%s/.config", home);
  snprintf(file, sizeof file, "%s/user-dirs.dirs", config);
  snprintf(korean, sizeof korean, "%s/다운로드", home);
  snprintf(downloads, sizeof downloads, "%s/Downloads", home);
  snprintf(env_dir, sizeof env_dir, "%s/env", tmp);
  CHECK(mkdir(home, 0700) == 0 && mkdir(config, 0700) == 0 && mkdir(korean, 0700) == 0 &&
        mkdir(env_dir, 0700) == 0);
  setenv("HOME", home, 1);
  unsetenv("XDG_CONFIG_HOME");
  unsetenv("XDG_DOWNLOAD_DIR");

  /* Nothing at all: the home. */
  CHECK_STR(download_dir(), home);
  CHECK(mkdir(downloads, 0700) == 0);
  CHECK_STR(download_dir(), downloads);
  setenv("XDG_DOWNLOAD_DIR", env_dir, 1);
  CHECK_STR(download_dir(), env_dir);
  /* The desktop's file wins over the variable, as with xdg-user-dir. */
  write_file(file, "XDG_DOWNLOAD_DIR=\"$HOME/다운로드\"\n");
  CHECK_STR(download_dir(), korean);
  /* $XDG_CONFIG_HOME, when absolute, is where the file is. */
  char other[600], other_file[700];
  snprintf(other, sizeof other, "%s/other-config", tmp);
  snprintf(other_file, sizeof other_file, "%s/user-dirs.dirs", other);
  CHECK(mkdir(other, 0700) == 0);
  write_file(other_file, "XDG_DOWNLOAD_DIR=\"$HOME/Downloads\"\n");
  setenv("XDG_CONFIG_HOME", other, 1);
  CHECK_STR(download_dir(), downloads);
  setenv("XDG_CONFIG_HOME", "relative", 1);
  CHECK_STR(download_dir(), korean);
  unsetenv("XDG_CONFIG_HOME");
  /* A folder that does not exist, or a line not of the form: the next choice. */
  write_file(file, "XDG_DOWNLOAD_DIR=\"$HOME/없음\"\n");
  CHECK_STR(download_dir(), env_dir);
  write_file(file, "XDG_DOWNLOAD_DIR=\"$HOME/$(id)\"\n");
  CHECK_STR(download_dir(), env_dir);
  unsetenv("XDG_DOWNLOAD_DIR");
  CHECK_STR(download_dir(), downloads);
  /* The file is also a file in the way: a folder named user-dirs.dirs. */
  unlink(file);
  CHECK(mkdir(file, 0700) == 0);
  CHECK_STR(download_dir(), downloads);
  unsetenv("HOME");
  CHECK_STR(download_dir(), ".");

  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  CHECK(system(cmd) == 0);
}

int main(void) {
  test_parse();
  test_download_dir();
  return CHECK_DONE();
}
