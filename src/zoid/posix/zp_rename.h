/*
 * Force-included (-include) into every source of the posix plugin: its zp_* functions are
 * renamed zpd_* (daemon), since the zepto executable also holds the client stubs of the same
 * names (zposix_client.c, for `zepto zoid mount`). zposix.h and the generated dispatch then
 * declare and call the renamed functions.
 */
#ifndef ZEPTO_ZP_RENAME_H
#define ZEPTO_ZP_RENAME_H
#define zp_close          zpd_close
#define zp_dup            zpd_dup
#define zp_faccessat      zpd_faccessat
#define zp_fallocate      zpd_fallocate
#define zp_fchmodat       zpd_fchmodat
#define zp_fchownat       zpd_fchownat
#define zp_fcntl          zpd_fcntl
#define zp_flock          zpd_flock
#define zp_fstatat        zpd_fstatat
#define zp_fstatfs        zpd_fstatfs
#define zp_fsync          zpd_fsync
#define zp_ftruncate      zpd_ftruncate
#define zp_getdents       zpd_getdents
#define zp_linkat         zpd_linkat
#define zp_lock           zpd_lock
#define zp_lseek          zpd_lseek
#define zp_mkdirat        zpd_mkdirat
#define zp_mknodat        zpd_mknodat
#define zp_openat         zpd_openat
#define zp_pread          zpd_pread
#define zp_pwrite         zpd_pwrite
#define zp_readlinkat     zpd_readlinkat
#define zp_renameat2      zpd_renameat2
#define zp_session_attach zpd_session_attach
#define zp_session_new    zpd_session_new
#define zp_statfs         zpd_statfs
#define zp_statx          zpd_statx
#define zp_symlinkat      zpd_symlinkat
#define zp_truncate       zpd_truncate
#define zp_unlinkat       zpd_unlinkat
#define zp_utimensat      zpd_utimensat
#endif
