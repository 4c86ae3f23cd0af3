/*
 * `zepto zoid mount` in a build without libfuse3: says so, so that the rest of zoid builds and the
 * command still parses its arguments.
 */
#include <errno.h>

#include "zepto/zoid_mount.h"

int zoid_mount(const struct zoid_mount_opts *o, struct zepto_err *err)
{
    (void)o;
    return zepto_fail(err, ENOSYS,
                      "built without libfuse3: install libfuse3-dev (fuse3-devel) and rebuild");
}
