with source as (

    select * from {{ ref('region_defaults') }}

),

final as (

    select
        upper(trim(region)) as region,
        trim(default_time_zone) as default_time_zone,
        lower(trim(default_language)) as default_language,
        cast(zone_count as integer) as zone_count
    from source

)

select * from final
