/*
 * The report's bigmem section, part 2: a static-array program (zepto-bigmem-static-demo) run
 * plain and under `zepto bigmem run --static`, paired rounds: page faults touching its arrays,
 * run time, and whether its arrays landed in huge pages (src/report/bigmem_static.c).
 */
#ifndef ZEPTO_REPORT_BIGMEM_STATIC_H
#define ZEPTO_REPORT_BIGMEM_STATIC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "zepto/bigmem.h"

struct zb_json;

/* One kind of run (plain, bigmem), medians over the rounds. */
struct zr_bms_kind {
    double faults;       /* minor faults touching the arrays */
    double touch_ms;     /* time touching them */
    double wall_ms;      /* the whole run, start-up and moving included */
    uint64_t data_bytes; /* the program's writable segments */
    uint64_t huge_bytes; /* of which in huge pages (smaps) */
    char pages[16];      /* the largest pages backing them */
    char checksum[32];
};

struct zr_bms {
    bool ran;
    char error[ZEPTO_ERR_MSG_MAX]; /* why it did not run */
    char pages_arg[8];             /* --pages given to bigmem run: 2M, or thp without a pool */
    char pool_note[ZEPTO_ERR_MSG_MAX];
    struct zbm_pool_change pool;
    unsigned rounds;
    bool checksums_equal;
    struct zr_bms_kind plain, bigmem;
};

/* 2 MiB pages the comparison needs (the program's data and bigmem's default first chunk). */
#define ZR_BMS_POOL_PAGES 64

/* Runs `rounds` pairs. `pool_ok`: the 2 MiB pool has ZR_BMS_POOL_PAGES free (else THP). */
void zr_bms_run(unsigned rounds, bool pool_ok, struct zr_bms *r);
void zr_bms_json(const struct zr_bms *r, struct zb_json *j);
void zr_bms_html(const struct zr_bms *r, FILE *f);

#endif
