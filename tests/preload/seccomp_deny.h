/* Seccomp filters for the tests' programs, as a sandbox installs them:
 * filter_syscalls(NRS, N, ACTION): the N system calls NRS (at most 8) get
 * ACTION (SECCOMP_RET_ERRNO | err, SECCOMP_RET_TRAP, SECCOMP_RET_KILL_PROCESS),
 * the rest is allowed. deny_syscall(NR, ERR): NR fails with ERR;
 * trap_syscall(NR): NR raises SIGSYS in its thread, for the program's
 * handler. 0, or -1 with a message. */
#pragma once
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>

static int filter_syscalls(const unsigned* nrs, unsigned n, unsigned action) {
  struct sock_filter f[11];
  unsigned k = 0;
  if (n > 8) return -1;
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (unsigned i = 0; i < n; ++i)  /* a match jumps over the rest and the allow */
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[i], (unsigned char)(n - i), 0);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action);
  struct sock_fprog prog = {(unsigned short)k, f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
    perror("seccomp");
    return -1;
  }
  return 0;
}

static int deny_syscall(unsigned nr, unsigned err) { return filter_syscalls(&nr, 1, SECCOMP_RET_ERRNO | err); }
static int trap_syscall(unsigned nr) { return filter_syscalls(&nr, 1, SECCOMP_RET_TRAP); }
