with source as (

    select * from {{ ref('fx_rates') }}

),

renamed as (

    select
        upper(trim(currency)) as currency,
        cast(units_per_usd as decimal(18, 6)) as units_per_usd
    from source

),

final as (

    select
        rates.currency,
        upper('{{ var("reporting_currency") }}') as reporting_currency,
        cast({{ divide_half_up('reporting.units_per_usd', 'rates.units_per_usd', scale=12, input_scale=6) }}
            as decimal(22, 12)) as rate_to_reporting
    from renamed as rates
    cross join (
        select units_per_usd from renamed
        where currency = upper('{{ var("reporting_currency") }}')
    ) as reporting

)

select * from final
