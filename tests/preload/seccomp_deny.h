/* deny_syscall(NR, ERR): installs a seccomp filter under which system call NR
 * fails with ERR, as a sandbox's does; the rest is allowed. trap_syscall(NR):
 * NR raises SIGSYS in its thread instead (SECCOMP_RET_TRAP), for the
 * program's handler. 0, or -1 with a message. For the drop-in tests'
 * programs. */
#pragma once
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>

static int filter_syscall(unsigned nr, unsigned action) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof f / sizeof f[0], f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
    perror("seccomp");
    return -1;
  }
  return 0;
}

static int deny_syscall(unsigned nr, unsigned err) { return filter_syscall(nr, SECCOMP_RET_ERRNO | err); }
static int trap_syscall(unsigned nr) { return filter_syscall(nr, SECCOMP_RET_TRAP); }
