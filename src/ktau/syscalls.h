/*
 * Names of the system calls by number (x86-64), generated at build time from <asm/unistd_64.h>.
 */
#ifndef ZEPTO_KTAU_SYSCALLS_H
#define ZEPTO_KTAU_SYSCALLS_H

extern const unsigned ktau_syscall_count;
extern const char *const ktau_syscall_names[]; /* NULL for unused numbers */

/* "getppid", or "syscall_<nr>" written into buf when the number has no name. */
const char *ktau_syscall_name(long nr, char *buf, unsigned long len);

#endif
