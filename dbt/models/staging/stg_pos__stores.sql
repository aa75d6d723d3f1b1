-- Store reference snapshot: one row per location.
with source as (

    select * from {{ source('raw', 'pos_stores') }}

),

renamed as (

    select
        trim(location_id) as location_id,
        trim(location_name) as location_name,
        upper(trim(country)) as country,
        trim(time_zone) as time_zone,
        upper(trim(currency)) as currency,
        _loaded_at
    from source

),

final as (

    select * from renamed
    qualify row_number() over (partition by location_id order by _loaded_at desc) = 1

)

select * from final
