-- The interval macros reproduce published values: Newcombe (1998), "Interval estimation for
-- the difference between independent proportions", Statistics in Medicine 17, table II,
-- method 10 (hybrid score), 95%, to the 4 decimals printed there. Rows returned = wrong.
with cases as (

    select * from (values
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926)
    ) as published (xt, nt, xc, nc, expected_low, expected_high)

),

computed as (

    select
        *,
        {{ newcombe_bound('xt', 'nt', 'xc', 'nc', 'low', z=1.959964) }} as low,
        {{ newcombe_bound('xt', 'nt', 'xc', 'nc', 'high', z=1.959964) }} as high
    from cases

)

select * from computed
where abs(low - expected_low) > 0.00005 or abs(high - expected_high) > 0.00005
    or low is null or high is null
