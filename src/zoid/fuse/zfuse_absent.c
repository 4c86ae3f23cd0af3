/*
 * `zepto zoid mount` in a build without libfuse3: says so, so that the rest of zoid builds and the
 * command still parses its arguments.
 */
#include <errno.h>

#include "zoid/fuse/zfuse.h"

int zfuse_mount(const struct zfuse_opts *o, struct zepto_err *err)
{
    (void)o;
    return zepto_fail(err, ENOSYS,
                      "built without libfuse3: install libfuse3-dev (fuse3-devel) and rebuild");
}
