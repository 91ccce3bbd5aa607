{# Stage names as exports write them, mapped to the seed's stage_name: the seed name, or its English label,
   in any case. A name wins over another stage's label, so every alias maps to exactly one stage. #}
{% macro pipeline_stage_aliases(stages_relation) -%}
    select stage_name, lower(stage_name) as stage_alias
    from {{ stages_relation }}
    union
    select labels.stage_name, lower(labels.label_en) as stage_alias
    from {{ stages_relation }} as labels
    where labels.label_en is not null
      and lower(labels.label_en) not in (select lower(names.stage_name) from {{ stages_relation }} as names)
{%- endmacro %}
