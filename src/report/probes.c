/*
 * The sections of `zepto report`, in page order. A new part adds its probe here.
 */
#include "report/probe.h"

extern const struct zr_probe zr_probe_noise;
extern const struct zr_probe zr_probe_bigmem;
extern const struct zr_probe zr_probe_ktau;
extern const struct zr_probe zr_probe_tune;

const struct zr_probe *const zr_probes[] = {
    &zr_probe_noise, &zr_probe_bigmem, &zr_probe_ktau, &zr_probe_tune, NULL,
};
