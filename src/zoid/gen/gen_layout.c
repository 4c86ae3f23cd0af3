/*
 * Builds the wire-layout table of a function (gen_layout.h): the one place that decides which
 * parameter goes into which part of the request and of the reply, and in which order.
 */
#include <errno.h>
#include <stdlib.h>

#include "zoid/gen/gen_layout.h"

/* Which part of the request or reply parameter a belongs to, for each part. */
static bool belongs(const struct zg_param *a, enum zg_part_id id)
{
    switch (id) {
    case ZG_REQ_FIXED:
        return a->kind == ZG_VALUE || (a->kind == ZG_OBJ && zg_sends(a) && !a->nullable);
    case ZG_REQ_FLAGS: return a->nullable;
    case ZG_REQ_STRLENS: return a->kind == ZG_STRING;
    case ZG_REQ_VARIABLE:
        return a->kind == ZG_STRING || (zg_is_array(a) && zg_sends(a) && !a->zerocopy) ||
               (a->kind == ZG_OBJ && zg_sends(a) && a->nullable);
    case ZG_REQ_ZEROCOPY: return zg_is_array(a) && zg_sends(a) && a->zerocopy;
    case ZG_REP_OBJS: return a->kind == ZG_OBJ && zg_returns(a);
    case ZG_REP_ARRAYS: return zg_is_array(a) && zg_returns(a);
    default: return false;
    }
}

int zg_layout_build(struct zg_func *fn)
{
    struct zg_layout *l = calloc(1, sizeof(*l));
    int *idx = calloc((size_t)(fn->nparams ? fn->nparams : 1) * ZG_NPARTS, sizeof(int));
    if (!l || !idx) {
        free(l);
        free(idx);
        return -ENOMEM;
    }
    for (int id = 0; id < ZG_NPARTS; id++) {
        l->part[id].at = idx + (size_t)id * (size_t)fn->nparams;
        for (int i = 0; i < fn->nparams; i++)
            if (belongs(&fn->params[i], (enum zg_part_id)id))
                l->part[id].at[l->part[id].n++] = i;
    }
    l->has_ret = !(fn->ret.base == ZG_VOID && !fn->ret.pointer);
    fn->layout = l;
    return 0;
}

void zg_layout_free(struct zg_func *fn)
{
    if (!fn->layout)
        return;
    free(fn->layout->part[0].at);
    free(fn->layout);
    fn->layout = NULL;
}
