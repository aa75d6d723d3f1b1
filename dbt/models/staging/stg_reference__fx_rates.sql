-- One row per currency the fx_rates seed knows: the rate to the reporting currency.
with source as (

    select * from {{ ref('fx_rates') }}

),

renamed as (

    select
        upper(trim(currency)) as currency,
        cast(units_per_usd as double) as units_per_usd
    from source

),

final as (

    select
        rates.currency,
        upper('{{ var("reporting_currency") }}') as reporting_currency,
        reporting.units_per_usd / rates.units_per_usd as rate_to_reporting
    from renamed as rates
    cross join (
        select units_per_usd from renamed
        where currency = upper('{{ var("reporting_currency") }}')
    ) as reporting

)

select * from final
