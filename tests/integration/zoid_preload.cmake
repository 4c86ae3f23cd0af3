# Tests of libzoid-preload.so and `zepto zoid run`.
