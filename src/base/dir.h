/*
 * Output directories: made when missing, checked to be writable directories, with one error
 * line naming the path otherwise (the report's and the allocation report's folders).
 */
#ifndef ZEPTO_BASE_DIR_H
#define ZEPTO_BASE_DIR_H

#include "zepto/zepto.h"

/* Makes the directory named by the printf-style fmt (mode 0755) unless it exists; fails when
 * the path is not a directory or cannot be written. */
int zb_make_dir(struct zepto_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
