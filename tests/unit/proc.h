/* Test helper: child processes (servers) on 127.0.0.1 that never outlive the
 * test. Each child gets PR_SET_PDEATHSIG, so it dies even if the test is
 * SIGKILLed; the test also calls proc_kill_all from its atexit and fatal-signal
 * handlers. Static functions: include it from one test file (or from one
 * header that a test file includes). */
#ifndef MC_TEST_PROC_H
#define MC_TEST_PROC_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"

struct test_proc {
  pid_t pid;      /* -1 or 0: not running */
  uint16_t port;  /* proc_spawn waits until this accepts TCP */
  uint16_t port2; /* and this one too, if not 0 */
  char log[256];  /* the child's stdout and stderr */
};

/* Every child started, for proc_kill_all. */
static struct test_proc *all_procs[8];

/* Polling step while waiting for a child (a hang guard, not a pass criterion). */
#define PROC_POLL_US 20000

/* port is free on 127.0.0.1 right now for a socket of type (SOCK_DGRAM or SOCK_STREAM). */
static bool proc_port_free(uint16_t port, int type) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) return false;
  bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* The first of count consecutive ports all free for both UDP and TCP on
 * 127.0.0.1, or 0. */
static uint16_t proc_pick_ports(unsigned count) {
  for (int i = 0; i < 200; i++) {
    uint16_t p = (uint16_t)(20000 + mc_random_u32() % 30000);
    bool ok = true;
    for (unsigned k = 0; k < count && ok; k++)
      ok = proc_port_free((uint16_t)(p + k), SOCK_STREAM) && proc_port_free((uint16_t)(p + k), SOCK_DGRAM);
    if (ok) return p;
  }
  return 0;
}

static bool proc_tcp_listening(uint16_t port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* Starts argv (NULL-terminated) with stdout+stderr to p->log and waits until
 * p->port (and p->port2, if set) accept TCP. False if it could not start,
 * exited, or did not listen within 250 polls (then it is left to
 * proc_kill_all). */
static bool proc_spawn(struct test_proc *p, const char *const *argv) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    /* the child dies with us, whatever way we go */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  p->pid = pid;
  for (size_t i = 0; i < MC_ARRAY_LEN(all_procs); i++)
    if (!all_procs[i] || all_procs[i] == p) {
      all_procs[i] = p;
      break;
    }
  for (int i = 0; i < 250; i++) {
    if (proc_tcp_listening(p->port) && (!p->port2 || proc_tcp_listening(p->port2))) return true;
    if (waitpid(pid, NULL, WNOHANG) == pid) {
      p->pid = -1;
      return false;
    }
    usleep(PROC_POLL_US);
  }
  return false;
}

/* SIGTERM, up to grace_ms for it to exit, then SIGKILL. Returns its exit
 * status (128 + signal if a signal ended it), or -1 if it was not running or
 * had to be killed. */
static int proc_stop(struct test_proc *p, int grace_ms) {
  /* stopped, it needs no killing at exit (and p may be on a stack that is gone by then) */
  for (size_t i = 0; i < MC_ARRAY_LEN(all_procs); i++)
    if (all_procs[i] == p) all_procs[i] = NULL;
  if (p->pid <= 0) return -1;
  kill(p->pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < grace_ms / (PROC_POLL_US / 1000); i++) {
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
      p->pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    usleep(PROC_POLL_US);
  }
  kill(p->pid, SIGKILL);
  waitpid(p->pid, NULL, 0);
  p->pid = -1;
  return -1;
}

/* Waits up to ms for p to exit by itself; its exit status as proc_stop's,
 * or -1 (still running: left to the caller). */
__attribute__((unused)) static int proc_wait_exit(struct test_proc *p, int ms) {
  if (p->pid <= 0) return -1;
  int status = 0;
  for (int i = 0; i < ms / (PROC_POLL_US / 1000); i++) {
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
      for (size_t k = 0; k < MC_ARRAY_LEN(all_procs); k++)
        if (all_procs[k] == p) all_procs[k] = NULL;
      p->pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    usleep(PROC_POLL_US);
  }
  return -1;
}

/* rm -rf dir (the test's own mkdtemp directory), then dir is "". Not for a
 * signal handler. */
static void proc_remove_dir(char *dir) {
  if (!dir[0]) return;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  dir[0] = '\0';
}

/* SIGKILLs every child still running; reap waits for each. Only
 * async-signal-safe calls (kill, waitpid): usable from a signal handler. */
static void proc_kill_all(bool reap) {
  for (size_t i = 0; i < MC_ARRAY_LEN(all_procs); i++)
    if (all_procs[i] && all_procs[i]->pid > 0) {
      kill(all_procs[i]->pid, SIGKILL);
      if (reap) {
        waitpid(all_procs[i]->pid, NULL, 0);
        all_procs[i]->pid = -1;
      }
    }
}

#endif
