"""Altair chart builders. Each takes a small frame already aggregated by `queries`, plus translated titles, and
returns a chart; pages never build encodings themselves. Colours carry meaning consistently: blue = the rate or
count itself, green/red = significantly above/below, grey = not significant or too few cases."""

from __future__ import annotations

import altair as alt
import pandas as pd

# Fonts are the browser's own (no web fonts): CJK text falls back to the system's Noto Sans CJK.
FONT = "'Source Sans Pro', 'Source Sans 3', 'Noto Sans CJK SC', 'Noto Sans SC', 'Microsoft YaHei', sans-serif"
BLUE, LIGHT_BLUE, GREEN, RED, GREY, ORANGE = "#1f77b4", "#9ecae1", "#2ca02c", "#d62728", "#9e9e9e", "#ff7f0e"
# Categories without a good/bad meaning (content types): no green or red, which mean above/below here.
CATEGORY_SCALE = alt.Scale(range=[BLUE, ORANGE, "#9467bd", "#17becf", "#8c564b", "#bcbd22", GREY])
SIG_COLORS = {"above": GREEN, "below": RED, "not_significant": GREY, "too_few": "#cfcfcf", "company": BLUE}


STEP_LABELS = "split(replace(datum.label, ' → ', ' →|'), '|')"


def rows_height(n: int, step: int = 34, overhead: int = 90) -> int:
    """Streamlit fits the whole chart (axes and legend included) into its height: room per row plus overhead."""
    return overhead + step * max(n, 1)


def _finish(chart: alt.Chart, height: int = 280, present: bool = False) -> alt.Chart:
    size = 16 if present else 12
    return (chart.properties(height=int(height * (1.25 if present else 1)))
            .configure(font=FONT)
            .configure_axis(labelFontSize=size, titleFontSize=size, labelLimit=220)
            .configure_legend(labelFontSize=size, titleFontSize=size, orient="bottom")
            .configure_view(strokeWidth=0))


def pct_axis(title: str) -> alt.Axis:
    return alt.Axis(format=".0%", title=title)


def rate_with_ci(df: pd.DataFrame, cat: str, cat_title: str, rate_title: str, order: str | None = None,
                 text_col: str | None = None, present: bool = False, height: int | None = None) -> alt.Chart:
    """Horizontal dot per category with its 95% interval as a bar; `cat` sorted by `order`."""
    sort = alt.EncodingSortField(field=order, order="ascending") if order else None
    y = alt.Y(f"{cat}:N", sort=sort, title=cat_title, axis=alt.Axis(labelExpr=STEP_LABELS))
    base = alt.Chart(df).encode(y=y)
    tip = [alt.Tooltip(f"{cat}:N", title=cat_title), alt.Tooltip("conversion_rate:Q", format=".1%", title=rate_title),
           alt.Tooltip("ci_low:Q", format=".1%"), alt.Tooltip("ci_high:Q", format=".1%"),
           alt.Tooltip("advanced:Q"), alt.Tooltip("decided:Q"), alt.Tooltip("open:Q")]
    ci = base.mark_rule(strokeWidth=3, color=LIGHT_BLUE).encode(
        x=alt.X("ci_low:Q", scale=alt.Scale(domain=[0, 1]), axis=pct_axis(rate_title)), x2="ci_high:Q", tooltip=tip)
    dot = base.mark_point(filled=True, size=120, color=BLUE).encode(x="conversion_rate:Q", tooltip=tip)
    layers = [ci, dot]
    if text_col:
        layers.append(base.mark_text(align="left", dx=8, dy=-10, fontSize=14 if present else 11).encode(
            x="conversion_rate:Q", text=f"{text_col}:N"))
    return _finish(alt.layer(*layers), height or rows_height(len(df), 44, 70), present)


def funnel_bars(df: pd.DataFrame, cat: str, cat_title: str, value_cols: list[tuple[str, str]], count_title: str,
                order: str | None = None, present: bool = False) -> alt.Chart:
    """Grouped horizontal bars per category (e.g. reached / decided / advanced per stage)."""
    long = df.melt(id_vars=[c for c in (cat, order) if c], value_vars=[c for c, _ in value_cols],
                   var_name="series", value_name="value")
    names = dict(value_cols)
    long["series"] = long["series"].map(names)
    sort = alt.EncodingSortField(field=order, order="ascending") if order else None
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y(f"{cat}:N", sort=sort, title=cat_title, axis=alt.Axis(labelExpr=STEP_LABELS)),
        yOffset=alt.YOffset("series:N", sort=[n for _, n in value_cols]),
        x=alt.X("value:Q", title=count_title),
        color=alt.Color("series:N", sort=[n for _, n in value_cols], title=None,
                        scale=alt.Scale(range=[LIGHT_BLUE, BLUE, "#08519c", GREEN, ORANGE][: len(value_cols)])),
        tooltip=[alt.Tooltip(f"{cat}:N", title=cat_title), alt.Tooltip("series:N", title=""),
                 alt.Tooltip("value:Q", format=",")])
    return _finish(chart, rows_height(len(long), 20, 110), present)


def step_funnel(df: pd.DataFrame, step: str, value: str, label: str, step_title: str, value_title: str,
                present: bool = False) -> alt.Chart:
    """Bars of one count per funnel step in the given order, with a text label (count · step % · cum %)."""
    order = df[step].tolist()
    base = alt.Chart(df).encode(y=alt.Y(f"{step}:N", sort=order, title=step_title))
    bars = base.mark_bar(color=BLUE).encode(x=alt.X(f"{value}:Q", title=value_title),
                                            tooltip=[alt.Tooltip(f"{step}:N"), alt.Tooltip(f"{value}:Q", format=","),
                                                     alt.Tooltip(f"{label}:N", title="")])
    text = base.mark_text(align="left", dx=4, fontSize=14 if present else 11).encode(x=f"{value}:Q", text=f"{label}:N")
    return _finish(alt.layer(bars, text), rows_height(len(df), 44, 70), present)


def heatmap(df: pd.DataFrame, x: str, y: str, color: str, text: str, x_title: str, y_title: str, color_title: str,
            x_order: list | None = None, y_order: list | None = None, tooltip: list | None = None,
            select_fields: list[str] | None = None, fmt: str = ".0%", present: bool = False,
            scheme: str = "blues", domain: list | None = None, opacity: str | None = None) -> alt.Chart:
    """Cells coloured by `color`, labelled with `text`; clickable (point selection on `select_fields`, the chosen
    cell outlined). `opacity` names a 0–1 column that fades unreliable cells (e.g. too few cases)."""
    base = alt.Chart(df).encode(
        x=alt.X(f"{x}:N", sort=x_order, title=x_title,
                axis=alt.Axis(labelAngle=0, labelLimit=180, labelExpr=STEP_LABELS, orient="top", labelOverlap=False)),
        y=alt.Y(f"{y}:N", sort=y_order, title=y_title, axis=alt.Axis(labelOverlap=False)))
    scale = alt.Scale(scheme=scheme, domain=domain) if domain else alt.Scale(scheme=scheme)
    enc = {"color": alt.Color(f"{color}:Q", title=color_title, scale=scale, legend=alt.Legend(format=fmt)),
           "tooltip": tooltip or []}
    if opacity:
        enc["opacity"] = alt.Opacity(f"{opacity}:Q", legend=None, scale=alt.Scale(domain=[0, 1], range=[0, 1]))
    rect = base.mark_rect(stroke="white", strokeWidth=2).encode(**enc)
    layers = [rect]
    if select_fields:
        sel = alt.selection_point(name="cell", fields=select_fields, on="click", clear="dblclick")
        rect = rect.add_params(sel)
        outline = base.mark_rect(fill=None, stroke="black", strokeWidth=3).encode(
            strokeOpacity=alt.condition(sel, alt.value(1.0), alt.value(0.0), empty=False))
        layers = [rect, outline]
    threshold = 0.6 * (domain[1] if domain else 1)
    dark = f"abs(datum['{color}']) > {threshold}" + (f" && datum['{opacity}'] >= 0.7" if opacity else "")
    label = base.mark_text(fontSize=15 if present else 11).encode(
        text=f"{text}:N",
        color=alt.condition(dark, alt.value("white"), alt.value("black")),
        tooltip=tooltip or [])
    n_rows = len(set(df[y])) if len(df) else 1
    return _finish(alt.layer(*layers, label), rows_height(n_rows, 38, 150), present)


def lines(df: pd.DataFrame, x: str, series: list[tuple[str, str]], x_title: str, y_title: str,
          y_format: str = ",.0f", present: bool = False, height: int = 280, y_zero: bool = True,
          x_type: str = "T", time_format: str | None = None) -> alt.Chart:
    """Several numeric columns over time (or over a quantity, x_type "Q"), one line each, legend in the page
    language."""
    long = df.melt(id_vars=[x], value_vars=[c for c, _ in series], var_name="series", value_name="value")
    long["series"] = long["series"].map(dict(series))
    names = [n for _, n in series]
    x_axis = alt.Axis(format=time_format, labelAngle=0) if time_format and x_type == "T" else alt.Axis(labelAngle=0)
    x_tip = (alt.Tooltip(f"{x}:{x_type}", title=x_title, format=time_format) if time_format and x_type == "T"
             else alt.Tooltip(f"{x}:{x_type}", title=x_title))
    chart = alt.Chart(long).mark_line(point=len(df) <= 40).encode(
        x=alt.X(f"{x}:{x_type}", title=x_title, axis=x_axis),
        y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=y_format), scale=alt.Scale(zero=y_zero)),
        color=alt.Color("series:N", sort=names, title=None, legend=alt.Legend() if len(series) > 1 else None),
        tooltip=[x_tip, alt.Tooltip("series:N", title=""), alt.Tooltip("value:Q", format=y_format)])
    return _finish(chart, height, present)


def bars(df: pd.DataFrame, cat: str, value: str, cat_title: str, value_title: str, fmt: str = ",.0f",
         horizontal: bool = True, color: str | None = None, color_title: str | None = None,
         sort_desc: bool = True, present: bool = False, height: int | None = None,
         color_scale: alt.Scale | None = None, tooltip_extra: list | None = None, stack: bool = True,
         keep_order: bool = False) -> alt.Chart:
    sort = None if keep_order else (("-x" if horizontal else "-y") if sort_desc else "ascending")
    cat_enc = (alt.Y if horizontal else alt.X)(f"{cat}:N", sort=sort, title=cat_title,
                                               **({} if horizontal else {"axis": alt.Axis(labelAngle=-30)}))
    val_enc = (alt.X if horizontal else alt.Y)(f"{value}:Q", title=value_title, axis=alt.Axis(format=fmt),
                                               stack=True if stack else None)
    enc = {"y": cat_enc, "x": val_enc} if horizontal else {"x": cat_enc, "y": val_enc}
    tip = [alt.Tooltip(f"{cat}:N", title=cat_title), alt.Tooltip(f"{value}:Q", format=fmt, title=value_title)]
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color_title, scale=color_scale or alt.Undefined)
        tip.append(alt.Tooltip(f"{color}:N", title=color_title or ""))
    # a colour encoding brings its own colours (Altair rejects color=None on the mark)
    chart = alt.Chart(df).mark_bar(**({} if color else {"color": BLUE})).encode(**enc,
                                                                               tooltip=tip + (tooltip_extra or []))
    n = len(set(df[cat])) if len(df) else 1
    return _finish(chart, height or (rows_height(n, 30, 80 if not color else 120) if horizontal else 300), present)


def dumbbell(df: pd.DataFrame, cat: str, a: str, b: str, flag: str, cat_title: str, a_title: str, b_title: str,
             rate_title: str, present: bool = False, flag_labels: dict | None = None) -> alt.Chart:
    """Department rate (coloured by significance flag) against a reference rate (grey tick), per category."""
    base = alt.Chart(df).encode(y=alt.Y(f"{cat}:N", title=cat_title, sort=alt.EncodingSortField(a, order="descending")))
    tip = [alt.Tooltip(f"{cat}:N", title=cat_title), alt.Tooltip(f"{a}:Q", format=".1%", title=a_title),
           alt.Tooltip(f"{b}:Q", format=".1%", title=b_title), alt.Tooltip(f"{flag}_label:N", title="")]
    rule = base.mark_rule(color=GREY).encode(x=alt.X(f"{a}:Q", axis=pct_axis(rate_title)), x2=f"{b}:Q")
    ref = base.mark_tick(color="black", thickness=2, size=18).encode(x=f"{b}:Q", tooltip=tip)
    keys = list(SIG_COLORS)
    labels = flag_labels or {k: k for k in keys}
    dot = base.mark_point(filled=True, size=140).encode(
        x=f"{a}:Q", tooltip=tip,
        color=alt.Color(f"{flag}_label:N", title=None,
                        scale=alt.Scale(domain=[labels[k] for k in keys if k in labels],
                                        range=[SIG_COLORS[k] for k in keys if k in labels])))
    return _finish(alt.layer(rule, ref, dot), rows_height(len(df), 34, 110), present)


def stacked_share(df: pd.DataFrame, cat: str, series: list[tuple[str, str]], cat_title: str, value_title: str,
                  normalize: bool = True, present: bool = False) -> alt.Chart:
    long = df.melt(id_vars=[cat], value_vars=[c for c, _ in series], var_name="series", value_name="value")
    long["series"] = long["series"].map(dict(series))
    names = [n for _, n in series]
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y(f"{cat}:N", title=cat_title),
        x=alt.X("value:Q", stack="normalize" if normalize else True, title=value_title,
                axis=alt.Axis(format=".0%" if normalize else ",")),
        color=alt.Color("series:N", sort=names, title=None),
        order=alt.Order("series_order:Q"),
        tooltip=[alt.Tooltip(f"{cat}:N", title=cat_title), alt.Tooltip("series:N", title=""),
                 alt.Tooltip("value:Q", format=",.0f")]).transform_calculate(
        series_order=f"indexof({names!r}, datum.series)")
    return _finish(chart, rows_height(df[cat].nunique(), 36, 110), present)


def pareto(df: pd.DataFrame, x: str, y: str, x_title: str, y_title: str, present: bool = False) -> alt.Chart:
    base = alt.Chart(df)
    curve = base.mark_line(point=True, color=BLUE).encode(
        x=alt.X(f"{x}:Q", title=x_title, axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
        y=alt.Y(f"{y}:Q", title=y_title, axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip(f"{x}:Q", format=".0%", title=x_title), alt.Tooltip(f"{y}:Q", format=".0%", title=y_title),
                 alt.Tooltip("user_name:N", title="")])
    diag = alt.Chart(pd.DataFrame({"a": [0, 1], "b": [0, 1]})).mark_line(strokeDash=[4, 4], color=GREY).encode(
        x="a:Q", y="b:Q")
    ref = alt.Chart(pd.DataFrame({"a": [0.2]})).mark_rule(strokeDash=[2, 2], color=ORANGE).encode(x="a:Q")
    return _finish(alt.layer(diag, ref, curve), 300, present)


def histogram(df: pd.DataFrame, band: str, value: str, color: str, band_title: str, value_title: str,
              color_title: str, band_order: list, color_domain: list, color_range: list,
              present: bool = False) -> alt.Chart:
    chart = alt.Chart(df).mark_bar().encode(
        x=alt.X(f"{band}:N", sort=band_order, title=band_title, axis=alt.Axis(labelAngle=-35, labelOverlap=False)),
        y=alt.Y(f"{value}:Q", title=value_title),
        color=alt.Color(f"{color}:N", title=color_title, scale=alt.Scale(domain=color_domain, range=color_range)),
        tooltip=[alt.Tooltip(f"{band}:N", title=band_title), alt.Tooltip(f"{color}:N", title=color_title),
                 alt.Tooltip(f"{value}:Q", format=",")])
    return _finish(chart, 260, present)


def compare_bars(df: pd.DataFrame, cat: str, series: list[tuple[str, str]], cat_title: str, value_title: str,
                 fmt: str = ",.0f", present: bool = False) -> alt.Chart:
    """Side-by-side bars of a few columns per category (e.g. this rep vs department best)."""
    long = df.melt(id_vars=[cat], value_vars=[c for c, _ in series], var_name="series", value_name="value")
    long["series"] = long["series"].map(dict(series))
    names = [n for _, n in series]
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y(f"{cat}:N", title=cat_title, sort=df[cat].tolist()),
        yOffset=alt.YOffset("series:N", sort=names),
        x=alt.X("value:Q", title=value_title, axis=alt.Axis(format=fmt)),
        color=alt.Color("series:N", sort=names, title=None, scale=alt.Scale(range=[BLUE, GREY, ORANGE])),
        tooltip=[alt.Tooltip(f"{cat}:N", title=cat_title), alt.Tooltip("series:N", title=""),
                 alt.Tooltip("value:Q", format=fmt)])
    return _finish(chart, rows_height(len(df), 44, 110), present)


def bars_with_ref(df: pd.DataFrame, cat: str, value: str, ref: str, group: str, cat_title: str, value_title: str,
                  ref_title: str, group_title: str, fmt: str = ",.0f", present: bool = False) -> alt.Chart:
    """Horizontal bars per category (coloured by group) with a black tick at a reference value (e.g. each rep's
    holdings against the department's holdings per rep)."""
    base = alt.Chart(df).encode(y=alt.Y(f"{cat}:N", title=cat_title, sort=None, axis=alt.Axis(labelOverlap=False)))
    tip = [alt.Tooltip(f"{cat}:N", title=cat_title), alt.Tooltip(f"{group}:N", title=group_title),
           alt.Tooltip(f"{value}:Q", format=fmt, title=value_title),
           alt.Tooltip(f"{ref}:Q", format=",.1f", title=ref_title)]
    bar = base.mark_bar().encode(x=alt.X(f"{value}:Q", title=value_title, axis=alt.Axis(format=fmt)),
                                 color=alt.Color(f"{group}:N", title=group_title), tooltip=tip)
    tick = base.mark_tick(color="black", thickness=2, size=16).encode(x=f"{ref}:Q", tooltip=tip)
    return _finish(alt.layer(bar, tick), rows_height(len(df), 22, 120), present)


def timeline(df: pd.DataFrame, at: str, lane: str, lanes: list[str], x_title: str, lane_title: str,
             tooltip: list[tuple[str, str]], present: bool = False, time_format: str | None = None) -> alt.Chart:
    """Events on one time axis, one lane (row) per kind in the given order, a point per event (a person's
    journey). `tooltip`: (column, title) pairs."""
    colors = [BLUE, ORANGE, GREEN, "#08519c", "#9467bd", RED, GREY][: len(lanes)]
    # Ticks on month starts, about eight of them: a month format on half-month ticks would repeat its labels.
    times = pd.to_datetime(df[at]) if len(df) else pd.Series(dtype="datetime64[ns]")
    months = (times.max().year - times.min().year) * 12 + times.max().month - times.min().month if len(df) else 0
    ticks = {"interval": "month", "step": max(1, -(-months // 8))}
    chart = alt.Chart(df).mark_point(filled=True, size=110, opacity=0.85).encode(
        x=alt.X(f"{at}:T", title=x_title, axis=alt.Axis(labelAngle=0, format=time_format, tickCount=ticks)),
        # the lane names say what they are: no rotated axis title squeezed beside them
        y=alt.Y(f"{lane}:N", sort=lanes, title=None, axis=alt.Axis(labelOverlap=False)),
        color=alt.Color(f"{lane}:N", sort=lanes, scale=alt.Scale(domain=lanes, range=colors), legend=None),
        shape=alt.Shape(f"{lane}:N", sort=lanes, legend=None),
        tooltip=[alt.Tooltip(f"{at}:T", title=x_title, format="%Y-%m-%d %H:%M")]
        + [alt.Tooltip(f"{lane}:N", title=lane_title)] + [alt.Tooltip(f"{c}:N", title=t) for c, t in tooltip])
    return _finish(chart, rows_height(len(lanes), 44, 70), present)


def small_multiples(df: pd.DataFrame, cat: str, value: str, facet: str, facet_order: list[str], cat_title: str,
                    value_title: str, columns: int = 4, fmt: str = ",.1f", present: bool = False) -> alt.Chart:
    """One small horizontal bar chart per `facet` value (e.g. per attribution model), the categories in the same
    order in every panel (by their total) and one shared value axis, so panels compare at a glance."""
    order = df.groupby(cat)[value].sum().sort_values(ascending=False).index.tolist()
    n = len(order)
    chart = alt.Chart(df).mark_bar(color=BLUE).encode(
        y=alt.Y(f"{cat}:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False)),
        x=alt.X(f"{value}:Q", title=value_title, axis=alt.Axis(format=fmt.replace(".1f", ".0f"))),
        tooltip=[alt.Tooltip(f"{facet}:N", title=""), alt.Tooltip(f"{cat}:N", title=cat_title),
                 alt.Tooltip(f"{value}:Q", format=fmt, title=value_title)],
    ).properties(width=170, height=int((18 * max(n, 1)) * (1.25 if present else 1))).facet(
        facet=alt.Facet(f"{facet}:N", sort=facet_order, title=None,
                        header=alt.Header(labelFontSize=16 if present else 12, labelFontWeight="bold")),
        columns=columns)
    size = 16 if present else 12
    return (chart.configure(font=FONT).configure_axis(labelFontSize=size, titleFontSize=size, labelLimit=160)
            .configure_view(strokeWidth=0))
def band_bars(df: pd.DataFrame, cat: str, value: str, low: str, high: str, cat_title: str, value_title: str,
              fmt: str = ",.0f", present: bool = False) -> alt.Chart:
    """Horizontal bar per category (the expected value) with its P10–P90 band as a dark rule, largest first."""
    base = alt.Chart(df).encode(y=alt.Y(f"{cat}:N", sort=alt.EncodingSortField(field=value, order="descending"),
                                        title=cat_title))
    tip = [alt.Tooltip(f"{cat}:N", title=cat_title), alt.Tooltip(f"{value}:Q", format=fmt, title=value_title),
           alt.Tooltip(f"{low}:Q", format=fmt, title="P10"), alt.Tooltip(f"{high}:Q", format=fmt, title="P90")]
    bar = base.mark_bar(color=LIGHT_BLUE).encode(x=alt.X(f"{value}:Q", title=value_title, axis=alt.Axis(format=fmt)),
                                                 tooltip=tip)
    band = base.mark_rule(strokeWidth=3, color=BLUE).encode(x=f"{low}:Q", x2=f"{high}:Q", tooltip=tip)
    ticks = base.mark_tick(color=BLUE, thickness=2, size=14).encode(x=f"{low}:Q") + \
        base.mark_tick(color=BLUE, thickness=2, size=14).encode(x=f"{high}:Q")
    return _finish(alt.layer(bar, band, ticks), rows_height(len(df), 34, 80), present)


def reliability(df: pd.DataFrame, series_title: str, x_title: str, y_title: str, present: bool = False,
                order: list[str] | None = None) -> alt.Chart:
    """Observed share against mean probability per bin, one line per method, with the diagonal of perfect
    calibration; point size = cases in the bin. `order`: the series, the one to look at first (drawn blue)."""
    diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
        color=GREY, strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")
    tip = [alt.Tooltip("series:N", title=series_title), alt.Tooltip("predicted_mean:Q", format=".1%", title=x_title),
           alt.Tooltip("observed_rate:Q", format=".1%", title=y_title), alt.Tooltip("n:Q", format=",")]
    base = alt.Chart(df).encode(
        x=alt.X("predicted_mean:Q", title=x_title, scale=alt.Scale(domain=[0, 1]), axis=pct_axis(x_title)),
        y=alt.Y("observed_rate:Q", title=y_title, scale=alt.Scale(domain=[0, 1]), axis=pct_axis(y_title)),
        color=alt.Color("series:N", title=None, sort=order,
                        scale=alt.Scale(domain=order, range=[BLUE, ORANGE, GREY][: len(order)]) if order else
                        alt.Undefined), tooltip=tip)
    # a line cannot change its width point by point (Vega-Lite then draws nothing): thin lines, sized points
    lines_ = base.mark_line(strokeWidth=1.5)
    points = base.mark_circle(opacity=0.85).encode(size=alt.Size("n:Q", legend=None, scale=alt.Scale(range=[20, 400])))
    return _finish(alt.layer(diagonal, lines_, points), 320, present)

