{#- Money is DECIMAL end to end, never DOUBLE, and every computed amount is rounded once,
    HALF-UP (half a cent away from zero: 36.925 -> 36.93, -36.925 -> -36.93). Why half-up:
    it is what tills, invoices and spreadsheets print, so a marketer checking a figure by
    hand gets the same cent; the amounts are rounded per line, order or customer, not
    summed after rounding many halves, so half-even's bias correction buys nothing here;
    and it is the native rounding of DECIMAL in DuckDB and in Spark (`round`), the engine
    this project moves to next.

    Traps these macros exist for (dbt unit tests on half cents and tests/test_local_days.py
    pin them; docs/models.md lists every place money is rounded):
      * a DECIMAL divided by anything is a DOUBLE in DuckDB (73.85 / 2 = 36.924999...),
        and casting that DOUBLE to DECIMAL(18, 2) gives 36.92: divide with divide_half_up;
      * round() of a DOUBLE rounds the binary value; round() of a DECIMAL rounds half-up:
        round only DECIMALs (round_money);
      * avg() of a DECIMAL is a DOUBLE: sum and count, then divide_half_up. -#}

{#- A DECIMAL expression rounded half-up to `scale` decimals, as DECIMAL(18, scale). -#}
{% macro round_money(expression, scale=2) -%}
    {{ return(adapter.dispatch('round_money')(expression, scale)) }}
{%- endmacro %}
{% macro default__round_money(expression, scale) -%}
    cast(round({{ expression }}, {{ scale }}) as decimal(18, {{ scale }}))
{%- endmacro %}

{#- numerator / denominator computed exactly and rounded once to `scale` decimals, as
    DECIMAL(38, scale); NULL when the denominator is 0 or NULL. Both operands must be
    DECIMALs or integers with at most `input_scale` decimals (they are scaled to whole
    numbers by 10^input_scale, so no digit is lost). `rounding`: 'half_up' (the money
    rule), or 'ceiling' (the smallest amount at or above the quotient, for thresholds). -#}
{% macro divide_half_up(numerator, denominator, scale=2, input_scale=2, rounding='half_up') -%}
    {%- if rounding not in ['half_up', 'ceiling'] -%}
        {{ exceptions.raise_compiler_error("divide_half_up: rounding must be half_up or ceiling, got " ~ rounding) }}
    {%- endif -%}
    {{ return(adapter.dispatch('divide_half_up')(numerator, denominator, scale, input_scale, rounding)) }}
{%- endmacro %}
{% macro default__divide_half_up(numerator, denominator, scale, input_scale, rounding) -%}
    {{ _divide_half_up_sql(numerator, denominator, scale, input_scale, rounding, 'hugeint', _floor_div_operator) }}
{%- endmacro %}

{#- Spark has no 128-bit integer: DECIMAL(38, 0) holds the same digits. Its `div` returns a
    64-bit integer, too small for a scaled rate, so the floor of a quotient of two positive
    whole numbers is (a - a mod b) / b, a division that is exact. -#}
{% macro spark__divide_half_up(numerator, denominator, scale, input_scale, rounding) -%}
    {{ _divide_half_up_sql(numerator, denominator, scale, input_scale, rounding, 'decimal(38, 0)', _exact_floor_div) }}
{%- endmacro %}

{#- floor(a / b) of two non-negative whole numbers. -#}
{% macro _floor_div_operator(a, b) -%} ({{ a }} // {{ b }}) {%- endmacro %}
{% macro _exact_floor_div(a, b) -%}
    cast((({{ a }}) - pmod({{ a }}, {{ b }})) / ({{ b }}) as decimal(38, 0))
{%- endmacro %}

{% macro _divide_half_up_sql(numerator, denominator, scale, input_scale, rounding, whole, div) -%}
    {#- in whole numbers (HUGEINT: 38 digits): q = round(|n| * 10^scale / |d|), sign after -#}
    {%- set n -%} cast(({{ numerator }}) * {{ 10 ** input_scale }} as {{ whole }}) {%- endset -%}
    {%- set d -%} cast(({{ denominator }}) * {{ 10 ** input_scale }} as {{ whole }}) {%- endset -%}
    {%- set unit = '1' if scale == 0 else '0.' ~ '0' * (scale - 1) ~ '1' -%}
    case when ({{ denominator }}) <> 0 then
        cast(
            (case when ({{ n }} < 0) <> ({{ d }} < 0) then -1 else 1 end)
            {%- if rounding == 'half_up' %}
            * {{ div('(2 * abs(' ~ n ~ ') * ' ~ 10 ** scale ~ ' + abs(' ~ d ~ '))', '(2 * abs(' ~ d ~ '))') }}
            {%- else %}
            * case when ({{ n }} < 0) <> ({{ d }} < 0)
                then {{ div('abs(' ~ n ~ ') * ' ~ 10 ** scale, 'abs(' ~ d ~ ')') }}
                else {{ div('(abs(' ~ n ~ ') * ' ~ 10 ** scale ~ ' + abs(' ~ d ~ ') - 1)', 'abs(' ~ d ~ ')') }} end
            {%- endif %}
        as decimal({{ 37 - scale }}, 0)) * {{ unit }}
    end
{%- endmacro %}

{#- Money in the reporting currency (var reporting_currency) from a local amount and the
    DECIMAL rate of stg_reference__fx_rates: amount x rate, exact, rounded half-up to the
    cent. Rounded per row, so sums over lines and over orders agree. -#}
{% macro to_reporting_currency(amount, rate) -%}
    {{ round_money('cast(' ~ amount ~ ' as decimal(18, 2)) * ' ~ rate) }}
{%- endmacro %}
