/* Test helper: run part of a test in a forked child inside a private network
 * namespace, so that its interfaces, routes and multicast never touch the
 * host's. Needs root and iproute2; without them the part is skipped, not
 * failed. Static functions: include it from one test file. */
#ifndef MC_TEST_NETNS_H
#define MC_TEST_NETNS_H

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* The exit status by which a namespace child says it could not set up its
 * namespace (the part is skipped). */
#define NETNS_SKIP 77

/* Runs child() in a forked process in a new network namespace, after the
 * shell command setup (NULL: none) has succeeded there; child()'s return is
 * the exit status. False if it was skipped (said on stderr, naming what),
 * else true with *status its waitpid status for the caller to check. */
static bool netns_run(const char *what, const char *setup, int (*child)(void), int *status) {
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) != 0) _exit(NETNS_SKIP);
    if (setup && system(setup) != 0) _exit(NETNS_SKIP);
    _exit(child());
  }
  int st = 0;
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
  *status = st;
  if (WIFEXITED(st) && WEXITSTATUS(st) == NETNS_SKIP) {
    fprintf(stderr, "skip: %s needs a private network namespace (root, ip)\n", what);
    return false;
  }
  return true;
}

#endif
