# Tests of `zepto zoid mount`.
