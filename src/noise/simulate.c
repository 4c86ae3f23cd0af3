/* placeholder: being written */
#include <errno.h>
#include "zepto/noise.h"
int zn_sim_algo_parse(const char *s, enum zn_sim_algo *algo, struct zepto_err *err)
{
    (void)s; (void)algo;
    return zepto_fail(err, ENOSYS, "not yet");
}
const char *zn_sim_algo_name(enum zn_sim_algo algo)
{
    (void)algo;
    return "";
}
double zn_sim_closed_form_ns(const struct zn_sim_opts *o)
{
    (void)o;
    return 0;
}
int zn_simulate(const struct zn_sim_opts *o, struct zn_sim_result *r, struct zepto_err *err)
{
    (void)o; (void)r;
    return zepto_fail(err, ENOSYS, "not yet");
}
