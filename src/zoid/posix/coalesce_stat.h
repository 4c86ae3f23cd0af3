/*
 * The counters of collective coalescing (coalesce*.c), in the order zp_coalesce_stat() returns
 * them: shared by the daemon and `zepto zoid stat` (src/cli/zoid_stat.c). New counters go at the
 * end, so that an older CLI still reads the ones it knows.
 */
#ifndef ZEPTO_COALESCE_STAT_H
#define ZEPTO_COALESCE_STAT_H

/* X(name, what it counts) */
#define ZPC_COUNTERS(X)                                                                            \
    X(read_calls, "zp_pread calls received")                                                       \
    X(read_bytes_asked, "bytes the zp_pread calls asked for")                                      \
    X(read_backend_ops, "pread(2)/read(2) the daemon made")                                        \
    X(read_backend_bytes, "bytes those returned")                                                  \
    X(read_joined, "reads answered by another caller's read in flight")                            \
    X(read_retained, "reads answered by a read completed just before")                             \
    X(write_calls, "zp_pwrite calls received")                                                     \
    X(write_bytes_asked, "bytes those carried")                                                    \
    X(write_backend_ops, "pwrite(2)/write(2) the daemon made")                                     \
    X(write_backend_bytes, "bytes those wrote")                                                    \
    X(write_aggregated, "writes buffered for collective buffering (relaxed sessions)")             \
    X(write_flushes, "flushes of buffered writes (full stripe, fsync, close, read, timeout)")      \
    X(meta_calls, "zp_fstatat/zp_faccessat/zp_openat calls on paths received")                     \
    X(meta_backend_ops, "lookups the daemon made for them")                                        \
    X(meta_joined, "of those calls, answered by another caller's lookup")                          \
    X(write_direct, "large aligned writes of relaxed sessions sent straight to the backend")       \
    X(write_messages, "zp_pwrite and zp_pwrite_many calls received (a batch counts once)")         \
    X(descriptors_lent, "open files lent to same-node clients (zp_lend), read and written there")  \
    X(company_waits, "reads and lookups that waited (at most the window) for others to share")     \
    X(read_spliced_bytes, "of read_backend_bytes, sent from the file's pages without a copy")      \
    X(write_spliced_bytes, "of write_backend_bytes, spliced from the client's socket to the file")

enum zpc_counter {
#define ZPC_ENUM(name, what) ZPC_##name,
    ZPC_COUNTERS(ZPC_ENUM)
#undef ZPC_ENUM
        ZPC_NCOUNTERS
};

#endif
