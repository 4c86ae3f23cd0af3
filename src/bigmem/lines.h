/*
 * Reading /proc files line by line without allocating (region.c): shared by the region and
 * static-segment checks of libzepto-bigmem.so.
 */
#ifndef ZEPTO_BIGMEM_LINES_H
#define ZEPTO_BIGMEM_LINES_H

#include <stdint.h>

/* Calls fn for each line of a file (cut at 8 KiB); stops when fn returns nonzero. 0 or -errno. */
int zbm_each_line(const char *path, int (*fn)(const char *line, void *arg), void *arg);
/* The number after the colon of an smaps line ("Rss:  1234 kB"). */
uint64_t zbm_field_kb(const char *line);

#endif
