"""Every label of the dashboards in Chinese and English, and number and date formats per language.

`Tr(lang)` is bound to one language: `tr("new_leads")`, `tr("no_data", what=...)`, `tr.money(x)`,
`tr.pct(x)`, `tr.period(window)`. A missing key shows the key itself (and a test fails on it), never an error.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

LANGS = ("zh", "en")
LANG_NAMES = {"zh": "中文", "en": "English"}

# key: (zh, en). Placeholders use str.format names.
STRINGS: dict[str, tuple[str, str]] = {
    # app frame
    "app_title": ("closedloop 经营会议看板", "closedloop meeting dashboards"),
    "data_as_of": ("数据截至 {when}", "Data as of {when}"),
    "built_at": ("仓库发布于 {when}", "warehouse published {when}"),
    "language": ("语言", "Language"),
    "presentation": ("演示模式", "Presentation mode"),
    "filters": ("筛选", "Filters"),
    "grain": ("周期", "Period type"),
    "period": ("期间", "Period"),
    "compare_to": ("对比", "Compare to"),
    "department": ("部门", "Department"),
    "channel": ("渠道", "Channel"),
    "grade": ("客户等级", "Customer grade"),
    "all": ("全部", "All"),
    "all_departments": ("全公司", "Whole company"),
    "my_departments": ("我的全部部门", "All my departments"),
    "month": ("月", "Month"),
    "quarter": ("季度", "Quarter"),
    "half_year": ("半年", "Half year"),
    "previous": ("上一期", "Previous period"),
    "last_year": ("去年同期", "Same period last year"),
    "running_period": ("{period} 尚未结束：统计到 {day}，对比期取相同天数。",
                       "{period} is still running: figures to {day}, compared periods cut to the same days."),
    "filters_na": ("本页不按以下筛选：{names}。", "This page ignores these filters: {names}."),
    "filters_na_chart": ("此图不按以下筛选：{names}。", "Not filtered by: {names}."),
    "no_data": ("{what}：所选范围内没有数据。", "No data for {what} in this selection."),
    "no_warehouse": ("还没有数据仓库（{path}）：请先运行 `closedloop build`。",
                     "No warehouse at {path} yet: run `closedloop build` first."),
    "no_warehouse_env": ("没有指定数据仓库：请设置 CLOSEDLOOP_WAREHOUSE 或使用 `closedloop serve --warehouse`。",
                         "No warehouse given: set CLOSEDLOOP_WAREHOUSE or use `closedloop serve --warehouse`."),
    "failed": ("无法显示「{what}」：{reason}（详情已记录到日志）。",
               "Could not show “{what}”: {reason} (details are in the log)."),
    "failed_page": ("本页无法显示：{reason}（详情已记录到日志）。",
                    "This page could not be shown: {reason} (details are in the log)."),
    "reason_missing_table": ("数据仓库缺少所需的表或列", "the warehouse lacks a table or column it needs"),
    "reason_locked": ("数据仓库正被占用，请稍后刷新", "the warehouse is busy; refresh in a moment"),
    "reason_other": ("内部错误", "an internal error"),
    # access control (docs/access-control.md)
    "access_company": ("这部分是全公司口径的数据，不在您的查看范围内（您看到的是所辖部门的数据）。",
                       "Company-wide figures: not in your view (you see your departments' data)."),
    "access_row_level": ("明细行仅对有明细权限的角色（分析师）开放；如需查看，请联系管理员。",
                         "The rows behind the totals are for roles with row-level access (analysts); ask your admin."),
    "not_your_departments": ("不在您的部门范围内：{names}。这里只显示您所辖部门的数据。",
                             "Not in your departments: {names}. Only your departments' data is shown."),
    "not_in_view_link": ("链接中的「{names}」不在您的查看范围内，未显示。",
                         "“{names}” in the link is not in your view and is not shown."),
    "your_departments": ("您的部门：{names}（含下属部门）", "Your departments: {names} (and the teams below)"),
    "signed_in_as": ("已登录：{email}（{role}）", "Signed in as {email} ({role})"),
    "access_role_executive": ("管理层", "executive"),
    "access_role_department_head": ("部门负责人", "department head"),
    "access_role_analyst": ("分析师", "analyst"),
    "log_in": ("登录", "Log in"),
    "log_out": ("退出登录", "Log out"),
    "login_prompt": ("请先登录，再查看经营看板。", "Log in to see the dashboards."),
    "login_no_authlib": ("已开启登录，但服务器缺少 Authlib：请管理员安装 `pip install -e '.[auth]'`。",
                         "Login is on but the server lacks Authlib: ask your admin to install "
                         "`pip install -e '.[auth]'`."),
    "login_no_secrets": ("已开启登录，但 .streamlit/secrets.toml 中没有 [auth] 配置：请联系管理员。",
                         "Login is on but .streamlit/secrets.toml has no [auth] section: ask your admin."),
    "no_access_not_listed": ("您的账号 {email} 没有访问权限：请联系管理员把您加入访问名单。",
                             "Your account {email} has no access to these dashboards: ask your admin to add you."),
    "no_access_unverified": ("您的账号 {email} 的邮箱尚未验证：请先在登录服务中验证邮箱，或联系管理员。",
                             "The e-mail of your account {email} is not verified: verify it with your login "
                             "provider or ask your admin."),
    "no_access_no_email": ("登录服务没有提供您的邮箱，无法确定权限：请联系管理员。",
                           "Your login provider gave no e-mail, so your access cannot be decided: ask your admin."),
    "no_access_no_identity": ("访问控制已开启但未开启登录，无法确认您的身份：请联系管理员。",
                              "Access control is on but login is off, so nobody can be identified: ask your admin."),
    "access_config_error": ("访问控制配置有误，暂时无法查看：请联系管理员（详情已记录到日志）。",
                            "The access configuration is invalid, so the dashboards are closed: ask your admin "
                            "(details are in the log)."),
    "heatmap_note_own": ("格内为各部门的转化率；与公司其他部门的比较不在您的查看范围内，因此不着色。"
                         "点选单元格查看明细。",
                         "Each cell shows the department's rate; the comparison with the rest of the company is not "
                         "in your view, so cells are not coloured. Pick a cell to drill."),
    "access_no_departments": ("您的部门（{ids}）不在当前数据仓库中：请联系管理员。",
                              "Your department ({ids}) is not in this warehouse: ask your admin."),
    "export": ("导出", "Export"),
    "download_csv": ("CSV", "CSV"),
    "download_png": ("PNG", "PNG"),
    "download_xlsx": ("下载本页全部表格（Excel）", "Download every table on this page (Excel)"),
    "rows": ("{n} 行", "{n} rows"),
    "shown_first": ("显示前 {n} 行，导出包含全部 {total} 行。",
                    "Showing the first {n} rows; exports hold all {total}."),
    "vs": ("对比 {what}", "vs {what}"),
    "n_eq": ("n={n}", "n={n}"),
    "pp": ("{v} 个百分点", "{v} pp"),
    "exit_presentation": ("退出演示", "Exit presentation"),
    "counting_rule": ("计数口径", "Counting rule"),
    "drill": ("明细", "Drill down"),
    "drill_rows": ("下钻：{what}", "Rows behind: {what}"),
    "pick_to_drill": ("在图中点选单元格，或在下方选择，查看背后的明细。",
                      "Click a cell in the chart, or choose below, to see the rows behind it."),

    "unknown_channel": ("无来源线索", "No source lead"),
    "pick": ("请选择…", "Choose…"),
    "no_owner": ("公海（无负责人）", "Pool (no owner)"),
    "help_recovered": ("期间内首次被退回公海的线索中，之后转为商机的数量（括号内为占比）。",
                       "Of the leads first released to the pool in the period, those converted afterwards "
                       "(share in brackets)."),
    "role_sales": ("销售", "sales"),
    "role_sdr": ("SDR", "SDR"),
    "role_presales": ("售前", "presales"),
    "role_manager": ("经理", "manager"),
    "role_cs": ("客户成功", "customer success"),
    "role_marketing": ("市场", "marketing"),
    "act_calls": ("电话", "Calls"),
    "act_visits": ("拜访", "Visits"),
    "act_meetings": ("会议", "Meetings"),
    "act_demos": ("演示", "Demos"),
    "status_open": ("进行中", "open"),
    "status_won": ("赢单", "won"),
    "status_lost": ("输单", "lost"),
    "touches": ("触点", "Touches"),
    "roi_maturity": ("近期月份的线索仍在转化中：随着商机关闭，ROI 会上升。",
                     "Recent months' leads are still converting: their ROI rises as their deals close."),
    "longer_view": ("最近一个完整季度（{period}）", "Last complete quarter ({period})"),

    # pages
    "page_overview": ("会议总览", "Overview"),
    "page_lead_flow": ("线索流转", "Lead flow"),
    "page_stages": ("阶段转化与部门", "Stage conversion & departments"),
    "page_resources": ("客户资源", "Customer resources"),
    "page_lifecycle": ("生命周期价值", "Lifecycle value"),
    "page_campaigns": ("活动与投入产出", "Campaigns & ROI"),
    "page_reps": ("销售个人", "Reps"),
    "page_service": ("客户服务", "Service"),
    "page_data": ("数据状态", "Data"),
    "section_meeting": ("经营", "Meeting"),
    "section_detail": ("专题", "Topics"),
    "section_about": ("数据", "Data"),

    # overview
    "what_changed": ("与{cmp}相比，发生了什么变化", "What changed since {cmp}"),
    "kpis": ("关键指标", "Key figures"),
    "new_leads": ("新增线索", "New leads"),
    "mqls": ("MQL", "MQLs"),
    "opps_created": ("新建商机", "Opportunities created"),
    "won_deals": ("赢单数", "Won deals"),
    "won_revenue": ("赢单金额", "Won revenue"),
    "win_rate": ("赢率", "Win rate"),
    "open_pipeline": ("在途商机金额", "Open pipeline"),
    "lead_to_opp": ("线索→商机转化率", "Lead → opportunity rate"),
    "sla_compliance": ("首次响应达标率", "SLA compliance"),
    "nrr12": ("NRR（第12月）", "NRR (month 12)"),
    "help_new_leads": ("期间内创建的线索数（fct_leads.created_at）。",
                       "Leads created in the period (fct_leads.created_at)."),
    "help_mqls": ("期间内成为 MQL 的线索数（fct_leads.mql_at）。",
                  "Leads that became MQL in the period (fct_leads.mql_at)."),
    "help_opps_created": ("期间内创建的商机（fct_opportunities.created_at）。",
                          "Opportunities created in the period (fct_opportunities.created_at)."),
    "help_won_deals": ("期间内赢单关闭的商机数。", "Opportunities closed won in the period."),
    "help_won_revenue": ("期间内赢单商机的金额合计。", "Amount of the opportunities closed won in the period."),
    "help_win_rate": ("赢单 ÷（赢单 + 输单），按期间内关闭的商机。",
                      "Won ÷ (won + lost) among opportunities closed in the period."),
    "help_open_pipeline": ("期末仍未关闭的商机金额合计。",
                           "Amount of the opportunities still open at the period's end."),
    "help_lead_to_opp": ("期间开始前 6 个月内创建的线索中，至今已转为商机的比例（按创建批次；"
                         "本期新线索还来不及转化，不计入）。",
                         "Share of the leads created in the six months before the period that became an "
                         "opportunity to date (creation cohort; the period's own leads are too young to count)."),
    "help_sla_compliance": ("期间内首次分配的线索中，在 SLA 天数内首次响应的比例（达标 ÷（达标 + 超时））。",
                            "Of the leads first assigned in the period: met ÷ (met + missed) within the SLA days."),
    "help_nrr12": ("在本期间满 12 个月的首单批次：第 12 月 MRR ÷ 第 0 月 MRR（不受部门/渠道/等级筛选）。",
                   "Cohorts whose month 12 falls in the period: MRR in month 12 ÷ MRR in month 0 "
                   "(not filtered by department, channel or grade)."),
    "sparkline_note": ("变化对比 {cmp}；下方小字为{other}。迷你图为最近 {n} 期（{grain}），最后一点为所选期间。",
                       "Changes are against {cmp}; the small print compares with {other}. Sparklines show the "
                       "last {n} periods ({grain}); the last point is the selected one."),
    "delta_vs": ("对比 {period}", "vs {period}"),
    "yoy_line": ("去年同期 {period}：{value}（{delta}）", "Same period last year {period}: {value} ({delta})"),
    "prev_line": ("上一期 {period}：{value}（{delta}）", "Previous period {period}: {value} ({delta})"),
    "no_comparison": ("无对比数据", "no comparison data"),
    "moves_none": ("{period}没有显著变化：部门转化率与上一期、与公司其他部门相比，差异都在随机波动范围内。",
                   "No significant moves in {period}: every department's rates are within noise of their "
                   "previous period and of the rest of the company."),
    "moves_too_few": ("{n} 项比较案例太少，无法判断（按月案例少时可改用季度）。",
                      "{n} comparisons have too few cases to tell (monthly counts are small: try quarters)."),
    "move_change": ("**{dept}** {metric}：从 {prev} {dir}至 {rate}，显著（n={n}，上一期 n={n_prev}）。",
                    "**{dept}** {metric} {dir} from {prev} to {rate}, significant (n={n}; previous n={n_prev})."),
    "move_rose": ("升", "rose"),
    "move_fell": ("降", "fell"),
    "move_diff_best": ("**{dept}** {metric}：{rate}，公司其他部门 {rest}，显著，为 {k} 个部门中最高（n={n}）。",
                       "**{dept}** {metric} runs {rate} against {rest} for the rest of the company, significant, "
                       "best of {k} (n={n})."),
    "move_diff_worst": ("**{dept}** {metric}：{rate}，公司其他部门 {rest}，显著，为 {k} 个部门中最低（n={n}）。",
                        "**{dept}** {metric} runs {rate} against {rest} for the rest of the company, significant, "
                        "lowest of {k} (n={n})."),
    "move_diff_high": ("**{dept}** {metric}：{rate}，高于公司其他部门的 {rest}，显著（n={n}）。",
                       "**{dept}** {metric} runs {rate}, above {rest} for the rest of the company, significant "
                       "(n={n})."),
    "move_diff_low": ("**{dept}** {metric}：{rate}，低于公司其他部门的 {rest}，显著（n={n}）。",
                      "**{dept}** {metric} runs {rate}, below {rest} for the rest of the company, significant "
                      "(n={n})."),
    "company": ("全公司", "Company"),
    "kpi_moves": ("指标变化", "Figures"),
    "kpi_move_line": ("{name}：{value}，{delta}（对比 {period}）。", "{name}: {value}, {delta} on {period}."),
    "moves_basis": ("显著性：两比例 z 检验，95%；期望成功或失败数少于 5 时记为“案例太少”。"
                    "来源：fct_department_comparison。",
                    "Significance: two-proportion z-test at 95%; fewer than 5 expected successes or failures is "
                    "“too few”. Source: fct_department_comparison."),

    # significance
    "significant": ("显著", "significant"),
    "not_significant": ("不显著", "not significant"),
    "too_few": ("案例太少", "too few"),

    # stage page
    "funnel_by_stage": ("各阶段转化漏斗", "Funnel by stage"),
    "funnel_rule": ("计数口径：按进入阶段的月份归批（cohort）；转化率 = 推进 ÷（到达 − 在途），在途商机不计为失败；"
                    "区间为 95% Wilson 区间；累计转化率 = 从第一阶段起各步转化率之积。",
                    "Counting rule: cohorts by month of first entry into the stage; step rate = advanced ÷ "
                    "(reached − open), open deals are never counted as failures; bars show the 95% Wilson interval; "
                    "cumulative rate = product of the step rates from the first stage."),
    "stage": ("阶段", "Stage"),
    "step": ("步骤", "Step"),
    "reached": ("到达", "Reached"),
    "advanced": ("推进", "Advanced"),
    "lost": ("输单", "Lost"),
    "open": ("在途", "Open"),
    "decided": ("已决", "Decided"),
    "step_rate": ("步转化率", "Step rate"),
    "cumulative_rate": ("累计转化率", "Cumulative rate"),
    "ci_low": ("区间下限", "CI low"),
    "ci_high": ("区间上限", "CI high"),
    "rate": ("转化率", "Rate"),
    "median_days": ("阶段停留天数中位数", "Median days in stage"),
    "heatmap_title": ("部门 × 阶段转化率", "Department × stage conversion"),
    "heatmap_note": ("格内为转化率；颜色为与公司其他部门的差异（蓝高红低），颜色越淡越不可靠："
                     "● 显著，○ 不显著，· 案例太少。点选单元格查看明细。",
                     "Each cell shows the rate; its colour is the difference from the rest of the company (blue "
                     "above, red below), faded when unreliable: ● significant, ○ not significant, · too few cases. "
                     "Click a cell for the rows behind it."),
    "vs_rest": ("各部门与公司其他部门对比", "Each department against the rest of the company"),
    "vs_previous": ("与上一期相比的变化", "Change from the previous period"),
    "rest_rate": ("公司其他部门", "Rest of company"),
    "company_rate": ("全公司", "Company"),
    "difference": ("差异", "Difference"),
    "significance": ("显著性", "Significance"),
    "previous_rate": ("上一期", "Previous"),
    "change": ("变化", "Change"),
    "change_significance": ("变化显著性", "Change significance"),
    "metric": ("指标", "Metric"),
    "n": ("案例数", "Cases"),
    "stage_filter_note": ("已按渠道/客户等级筛选：漏斗由 fct_opportunity_stages 按同一口径重新计算。",
                          "Filtered by channel or grade: the funnel is recounted from fct_opportunity_stages with "
                          "the same rule."),
    "opportunity": ("商机", "Opportunity"),
    "owner": ("负责人", "Owner"),
    "entered_at": ("进入时间", "Entered"),
    "exited_at": ("离开时间", "Exited"),
    "days_in_stage": ("停留天数", "Days in stage"),
    "outcome": ("结果", "Outcome"),
    "amount": ("金额", "Amount"),
    "inferred": ("跳过（推断）", "Skipped (inferred)"),
    "advanced_o": ("已推进", "advanced"),
    "lost_here": ("在此输单", "lost here"),
    "open_here": ("停留在此", "open here"),
    "account": ("客户", "Account"),
    "status": ("状态", "Status"),

    # lead flow
    "lead_funnel": ("线索漏斗：渠道 → MQL → SQL → 商机 → 赢单", "Lead funnel: channel → MQL → SQL → opportunity → won"),
    "lead_funnel_rule": ("计数口径：期间内创建的线索（按创建批次），统计其至今到达各环节的数量；步转化率 = "
                         "本环节 ÷ 上一环节，累计 = 本环节 ÷ 线索数。",
                         "Counting rule: leads created in the period (creation cohort), counted at each milestone "
                         "reached to date; step rate = this step ÷ the step before, cumulative = this step ÷ leads."),
    "leads": ("线索", "Leads"),
    "mql": ("MQL", "MQL"),
    "sql": ("SQL", "SQL"),
    "opportunities": ("商机", "Opportunities"),
    "won": ("赢单", "Won"),
    "by_channel": ("按渠道", "By channel"),
    "daily_flow": ("每日流转与积压", "Daily flow and open backlog"),
    "open_backlog": ("未关闭线索（日末）", "Open backlog (day end)"),
    "created": ("新建", "Created"),
    "contacted": ("首次响应", "Contacted"),
    "converted": ("转商机", "Converted"),
    "disqualified": ("判定无效", "Disqualified"),
    "released": ("退回公海", "Released"),
    "claimed": ("公海领取", "Claimed"),
    "response_time": ("首次响应时长分布", "Response time distribution"),
    "response_hours": ("响应时长（小时）", "Response time (hours)"),
    "sla_by_dept": ("各部门 SLA 达标率", "SLA compliance by department"),
    "sla_met": ("达标", "Met"),
    "sla_missed": ("超时", "Missed"),
    "sla_pending": ("待定", "Pending"),
    "pool": ("公海：退回与追回", "Public pool: releases and recoveries"),
    "leads_released": ("被退回过的线索", "Leads released at least once"),
    "leads_recovered": ("追回并转化", "Recovered and converted"),
    "feedback": ("反馈原因与下一步动作", "Feedback reasons and next actions"),
    "reason": ("原因", "Reason"),
    "next_action": ("下一步动作", "Next action"),
    "recontact_days": ("再联系（天后）", "Recontact after (days)"),
    "share": ("占比", "Share"),
    "count": ("数量", "Count"),
    "day": ("日期", "Day"),
    "week": ("周", "Week"),

    # resources
    "holdings_by_rep": ("人均保有量：个人与部门", "Holdings per rep against the department's"),
    "holdings_by_dept": ("各部门保有量与人均", "Holdings and holdings per rep by department"),
    "holdings_end": ("期末保有量", "Holdings at end"),
    "holdings_per_rep": ("人均保有量", "Holdings per rep"),
    "active_reps": ("在岗销售", "Active reps"),
    "turnover_rate": ("周转率", "Turnover rate"),
    "idle_holdings": ("闲置保有", "Idle holdings"),
    "idle_share": ("闲置占比", "Idle share"),
    "turnover_over_time": ("周转率与闲置", "Turnover and idle holdings over time"),
    "pool_over_time": ("公海退回与领取", "Pool releases and claims over time"),
    "rep": ("销售", "Rep"),
    "dept_per_rep": ("部门人均", "Department per rep"),
    "assigned": ("分配", "Assigned"),

    # lifecycle
    "ltv_by_grade": ("按客户等级的生命周期价值", "Lifetime value by grade"),
    "ltv_by_channel": ("按来源渠道的生命周期价值", "Lifetime value by source channel"),
    "journey": ("价值旅程构成", "Value-journey composition"),
    "cohort_heatmap": ("首单批次留存（客户数）", "Cohort logo retention"),
    "nrr_curve": ("净收入留存（NRR）曲线", "Net revenue retention by months since first order"),
    "customers": ("客户数", "Customers"),
    "avg_ltv": ("平均生命周期价值", "Average lifetime value"),
    "total_ltv": ("生命周期价值合计", "Total lifetime value"),
    "revenue_new": ("新购", "New"),
    "revenue_renewal": ("续费", "Renewal"),
    "revenue_upsell": ("增购", "Upsell"),
    "revenue_cross_sell": ("交叉销售", "Cross-sell"),
    "revenue_service": ("增值服务", "Service"),
    "referral_revenue": ("转介绍", "Referral"),
    "revenue": ("收入", "Revenue"),
    "cohort": ("批次", "Cohort"),
    "months_since": ("距首单月数", "Months since first order"),
    "logo_retention": ("客户留存率", "Logo retention"),
    "nrr": ("净收入留存", "NRR"),
    "lifecycle_note": ("范围：首单日期在所选期间及以前的客户；生命周期价值截至数据日期。",
                       "Scope: customers whose first order is on or before the period's end; value to the as-of date."),
    "active_customers": ("活跃客户", "Active customers"),
    "churned": ("流失", "Churned"),

    # campaigns
    "campaign_table": ("活动投入产出", "Campaign spend and return"),
    "channel_table": ("渠道投入产出", "Channel spend and return"),
    "campaign": ("活动", "Campaign"),
    "spend": ("投入", "Spend"),
    "cpl": ("单线索成本", "Cost per lead"),
    "cpo": ("单商机成本", "Cost per opportunity"),
    "cac": ("获客成本", "CAC"),
    "roi": ("ROI", "ROI"),
    "won_revenue_short": ("赢单金额", "Won revenue"),
    "roi_rule": ("口径：按线索所属活动归因（默认归因）；线索、商机、赢单按线索创建月份计入；ROI =（赢单金额 − "
                 "投入）÷ 投入。",
                 "Rule: the lead's campaign gets the credit (default attribution); leads, opportunities and wins "
                 "count in the lead's creation month; ROI = (won revenue − spend) ÷ spend."),
    "spend_funnel": ("投入 → 线索 → 商机 → 赢单", "Spend → leads → opportunities → won"),

    # reps
    "rep_table": ("行为 · 结果 · 状态", "Behaviour · result · state"),
    "activities": ("活动量", "Activities"),
    "cycle_days": ("赢单周期（天）", "Cycle (days)"),
    "pareto": ("二八分布：赢单金额集中度", "20/80: how concentrated won revenue is"),
    "pareto_note": ("前 {k} 名销售（占 {share_reps}）贡献了 {share_rev} 的赢单金额。",
                    "The top {k} reps ({share_reps} of reps) brought {share_rev} of won revenue."),
    "rep_share": ("销售占比（按金额排序）", "Share of reps (ranked)"),
    "revenue_share": ("累计赢单金额占比", "Cumulative share of won revenue"),
    "rep_vs_best": ("个人与部门最佳对比", "One rep against the department's best"),
    "choose_rep": ("选择销售", "Choose a rep"),
    "dept_best": ("部门最佳", "Department best"),
    "this_rep": ("本人", "This rep"),
    "role": ("角色", "Role"),

    # service
    "tickets_over_time": ("工单与满意度趋势", "Tickets and CSAT over time"),
    "tickets_opened": ("新建工单", "Tickets opened"),
    "tickets_resolved": ("已解决工单", "Tickets resolved"),
    "resolution_hours": ("平均解决时长（小时）", "Mean resolution (hours)"),
    "csat": ("满意度（1–5）", "CSAT (1–5)"),
    "by_grade": ("按客户等级", "By grade"),
    "ratings": ("评分数", "Ratings"),

    # data page
    "warehouse_state": ("数据仓库", "Warehouse"),
    "warehouse": ("数据仓库文件", "Warehouse file"),
    "mart_rows": ("各数据集市行数", "Rows per mart"),
    "mart": ("数据集市", "Mart"),
    "row_count": ("行数", "Rows"),
    "as_of_label": ("数据截至", "Data as of"),
    "published_label": ("发布时间", "Published"),
    "size_label": ("文件大小", "File size"),
    "ops_not_built": ("此数据仓库构建于数据质量报告加入之前：请用当前版本重新运行 `closedloop build`，"
                      "即可在此查看校验结果、数据源新鲜度和被搁置的行。",
                      "This warehouse was built before data-quality reports existed: run `closedloop build` again with "
                      "this version to see validation results, source freshness and the rows set aside here."),
    # data page: validation
    "data_quality": ("数据质量", "Data quality"),
    "dq_caption": ("本次构建对原始导出的校验：每张表读入行数 = 载入行数 + 搁置行数。",
                   "What validation did to the export this warehouse was built from: for every table, rows read = "
                   "rows loaded + rows set aside."),
    "dq_summary": ("{tables} 张表，读入 {read} 行，载入 {loaded} 行，搁置 {aside} 行（涉及 {with_aside} 张表）；"
                   "缺失 {absent} 张表。",
                   "Tables: {tables}. Rows read {read}, loaded {loaded}, set aside {aside} (tables with rows set "
                   "aside: {with_aside}; absent tables: {absent})."),
    "dq_unbalanced": ("{tables}：读入行数不等于载入行数加搁置行数，请检查构建日志。",
                      "{tables}: rows read differ from rows loaded plus rows set aside; check the build log."),
    "dq_absent_note": ("缺失的表：{tables}。其上的数据集市为空，相关图表会显示“没有数据”。",
                       "Absent tables: {tables}. The marts over them are empty and their charts say “no data”."),
    "dq_table": ("表", "Table"),
    "dq_status": ("状态", "Status"),
    "dq_loaded": ("已载入", "loaded"),
    "dq_absent": ("缺失——其上的数据集市为空", "absent — marts over it are empty"),
    "dq_files": ("文件", "Files"),
    "rows_read": ("读入行数", "Rows read"),
    "rows_loaded": ("载入行数", "Rows loaded"),
    "rows_set_aside": ("搁置行数", "Rows set aside"),
    "set_aside_by_rule": ("按规则搁置", "Set aside by rule"),
    "dq_warnings": ("警告（行已载入）", "Warnings (rows kept)"),
    "dq_not_checked": ("未能执行的检查", "Checks not run"),
    "dq_missing_columns": ("缺少的可选列", "Missing optional columns"),
    # data page: run history
    "run_history": ("构建记录", "Build history"),
    "run_history_caption": ("每次构建一行（发布、失败、被中断、回滚），截至本仓库这一次构建。"
                            "被中断的构建由下一次构建发现后记录。",
                            "One row per build (published, failed, killed, rolled back) up to the build of this "
                            "warehouse. A killed build is recorded by the next build, which finds its stale lock."),
    "run_id": ("构建编号", "Build"),
    "run_started": ("开始时间", "Started"),
    "run_seconds": ("耗时（秒）", "Seconds"),
    "run_published": ("已发布", "published"),
    "run_failed": ("失败", "failed"),
    "run_killed": ("被中断", "killed"),
    "run_rolled_back": ("回滚", "rolled back"),
    "run_rows_set_aside": ("搁置行数", "Rows set aside"),
    "tests_passed": ("测试通过", "Tests passed"),
    "tests_failed": ("测试失败", "Tests failed"),
    "run_data_as_of": ("数据截至", "Data as of"),
    # data page: source freshness
    "freshness": ("数据源新鲜度", "Source freshness"),
    "fresh_caption": ("构建时检查各表最新一条记录的时间：超过 {warn} 天为警告，超过 {error} 天为错误。"
                      "没有事件时间的表（部门、用户、联系人、营销活动、内容）不检查。",
                      "Checked when the warehouse was built: how old the latest row of each table was. Older "
                      "than {warn} days is a warning, older than {error} days an error. Tables without an event time "
                      "(departments, users, contacts, campaigns, contents) are not checked."),
    "fresh_error": ("{tables} 的最新数据已超过 {days} 天：导出可能已停止更新，看板不含此后的业务。",
                    "{tables}: the latest data is more than {days} days old — the export may have stopped, and the "
                    "dashboards miss everything since."),
    "fresh_warn": ("{tables} 的最新数据已超过 {days} 天，请确认导出是否按时运行。",
                   "{tables}: the latest data is more than {days} days old; check that the export runs on time."),
    "fresh_failed": ("{tables}：构建时无法检查新鲜度（见说明列）。",
                     "{tables}: freshness could not be checked at build time (see the message column)."),
    "fresh_ok": ("构建时所有数据源都是新鲜的。", "Every source was fresh when the warehouse was built."),
    "fresh_missing": ("此数据仓库没有数据源新鲜度记录（构建时未能检查，见构建日志）。",
                      "This warehouse has no source freshness record (it could not be checked at build time; see the "
                      "build log)."),
    "latest_row": ("最新记录", "Latest row"),
    "age_days": ("距构建（天）", "Age at build (days)"),
    "fresh_pass": ("正常", "fresh"),
    "fresh_warn_label": ("警告", "warning"),
    "fresh_error_label": ("错误", "error"),
    "fresh_absent": ("缺失", "absent"),
    # data page: rows set aside
    "rejected_rows": ("被搁置的行", "Rows set aside"),
    "rejected_caption": ("每行是一个未通过校验的值：文件、行号（按电子表格计，表头为第 1 行）、列、规则和原值。",
                         "One row per failing value: file, row (as a spreadsheet numbers it, header = row 1), column, "
                         "rule and the value."),
    "no_rejected": ("本次构建没有搁置任何行。", "No row was set aside in this build."),
    "rejected_limit": ("只显示并导出前 {n} 行（共 {total} 行）；"
                       "全部行请用 `closedloop validate --raw … --rejected 文件`。",
                       "Showing and exporting the first {n} of {total}; for all of them run "
                       "`closedloop validate --raw … --rejected FILE`."),
    "rule": ("规则", "Rule"),
    "source_file": ("文件", "File"),
    "source_row": ("行号", "Row"),
    "column_name": ("列", "Column"),
    "failing_value": ("原值", "Value"),
    "message": ("说明", "Message"),
    "download_xlsx_one": ("Excel", "Excel"),

    # customer journey
    "page_journey": ("客户旅程", "Customer journey"),
    "journey_link": ("旅程", "Journey"),
    "journey_search": ("查找一个人", "Find a person"),
    "journey_search_help": ("输入线索、商机、客户或人员编号；有权查看联系方式的角色也可输入邮箱或手机号。",
                            "A lead, opportunity, account or person id; roles allowed to see contact details may "
                            "also type an e-mail or phone."),
    "journey_not_found": ("没有找到「{what}」对应的人。", "Nobody found for “{what}”."),
    "journey_top": ("线索最多的人", "The persons with the most leads"),
    "journey_top_caption": ("同一个人的多条线索往往是重复线索；点击「旅程」查看其完整时间线。",
                            "Several leads of one person are often duplicates; open “Journey” for their timeline."),
    "journey_of": ("{person} 的旅程", "Journey of {person}"),
    "journey_timeline": ("时间线：触点、线索、商机、订单与工单", "Timeline: touches, leads, deals, orders and tickets"),
    "journey_caption": ("首次出现 {first}，最近出现 {last}；{leads} 条线索，{touches} 个触点。",
                        "First seen {first}, last seen {last}; {leads} leads, {touches} touches."),
    "journey_account": ("所属客户：{account}", "Account: {account}"),
    "journey_others": ("该客户还有 {n} 个人：", "This account has {n} more persons:"),
    "journey_identifiers": ("身份标识", "Identifiers"),
    "journey_events": ("事件明细", "Events"),
    "journey_resolved": ("由{kind} {value} 找到此人。", "Found through {kind} {value}."),
    "journey_account_events_na": ("订单与工单", "Orders and tickets"),
    "kind_touch": ("触点", "Touch"),
    "kind_lead": ("线索", "Lead"),
    "kind_opportunity": ("商机创建", "Deal created"),
    "kind_opportunity_closed": ("商机关闭", "Deal closed"),
    "kind_order": ("订单", "Order"),
    "kind_ticket": ("工单", "Ticket"),
    "kind_person": ("人员", "person"),
    "kind_account": ("客户", "account"),
    "event_kind": ("类型", "Kind"),
    "resolved": ("已解决", "resolved"),
    "event_lead": ("所属线索", "Lead"),
    "first_lead": ("首条线索", "First lead"),
    "event_at": ("时间", "Time"),
    "event_what": ("事项", "What"),
    "content": ("内容", "Content"),
    "person": ("人员", "Person"),
    "identifier_type": ("标识类型", "Identifier type"),
    "identifier_value": ("标识值", "Value"),
    "first_seen": ("首次出现", "First seen"),
    "last_seen": ("最近出现", "Last seen"),
    "records": ("记录数", "Records"),
    "identifiers": ("标识数", "Identifiers"),
    "is_customer": ("已成交客户", "Customer"),
    "duplicate_of": ("重复于 {lead}", "duplicate of {lead}"),
    # attribution (Campaigns & ROI, Content)
    "attr_model": ("归因模型", "Attribution model"),
    "model_default": ("默认：单触点（线索所属活动）", "Default: single touch (the lead's campaign)"),
    "model_first_touch": ("首次触点", "first touch"),
    "model_last_touch": ("末次触点", "last touch"),
    "model_linear": ("线性", "linear"),
    "model_time_decay": ("时间衰减", "time decay"),
    "model_position_based": ("U 型（40/20/40）", "position-based (40/20/40)"),
    "model_w_shaped": ("W 型", "W-shaped"),
    "model_markov": ("马尔可夫", "Markov"),
    "model_shapley": ("Shapley 值", "Shapley"),
    "conv_type": ("转化类型", "Conversion"),
    "conv_lead": ("新线索", "Leads"),
    "conv_opportunity": ("新商机", "Opportunities"),
    "conv_won": ("赢单", "Won deals"),
    "channel_table_model": ("渠道投入产出（{model}归因）", "Channel spend and return ({model} attribution)"),
    "model_rule": ("口径：按所选模型把每次转化的功劳分给路径上的触点（每次转化合计为 1），按渠道与转化月份汇总；"
                   "ROI =（归因赢单金额 − 投入）÷ 投入。",
                   "Rule: the chosen model splits each conversion's credit over the touches on its path (1 per "
                   "conversion), summed by channel and conversion month; ROI = (credited won revenue − spend) ÷ "
                   "spend."),
    "credited_leads": ("归因线索", "Credited leads"),
    "credited_opportunities": ("归因商机", "Credited opportunities"),
    "credited_wins": ("归因赢单", "Credited wins"),
    "credited_revenue": ("归因赢单金额", "Credited won revenue"),
    "cost_per_credited": ("单归因商机成本", "Cost per credited opportunity"),
    "models_side_by_side": ("各归因模型并列", "Attribution models side by side"),
    "models_caption": ("同一批转化，按 8 种模型分给各渠道的功劳；规则模型只看位置，数据驱动模型（马尔可夫、Shapley）"
                       "还看未转化的路径。",
                       "The same conversions, credited to the channels by 8 models; rule-based models look at "
                       "positions only, the data-driven ones (Markov, Shapley) also at the paths that did not "
                       "convert."),
    "credited_conversions": ("归因转化", "Credited conversions"),
    "roi_by_model": ("各模型下的渠道 ROI（赢单）", "Channel ROI under each model (won deals)"),
    "ranks_table": ("各模型下的渠道排名（1 = 获得功劳最多）", "Channel rank under each model (1 = most credit)"),
    "rank_sentence": ("**{channel}** 按{base}排第 {r1}，按{other}排第 {r2}。",
                      "**{channel}** is {r1} by {base} and {r2} by {other}."),
    "rank_same": ("末次触点与数据驱动模型给出的渠道排名相同。",
                  "Last touch and the data-driven models rank the channels the same."),
    "model": ("模型", "Model"),
    # content
    "page_content": ("内容表现", "Content"),
    "content_reach": ("哪些内容触达了人、出现在转化路径上、获得了功劳",
                      "Which contents reach people, sit on converting paths and earn credit"),
    "content_caption": ("触点又会反馈内容的好坏：每份白皮书、直播、案例触达了多少人，出现在多少条转化路径上，"
                        "按所选模型分到多少商机与赢单金额。",
                        "The touches feed back which content works (触点又会反馈内容的好坏): how many people each "
                        "whitepaper, webinar and case reached, how many converting paths it sits on, and the "
                        "opportunities and won revenue the chosen model credits to it."),
    "content_by_type": ("按内容类型", "By content type"),
    "content_title": ("标题", "Title"),
    "content_type": ("类型", "Type"),
    "persons_reached": ("触达人数", "Persons reached"),
    "leads_influenced": ("影响的线索", "Leads influenced"),
    "opportunities_influenced": ("影响的商机", "Opportunities influenced"),
    "wins_influenced": ("影响的赢单", "Wins influenced"),
    "revenue_influenced": ("影响的赢单金额", "Revenue influenced"),
    "opportunities_per_person": ("每触达一人的商机", "Opportunities per person reached"),
    "content_best": ("按{model}，{title}（{type}）获得最多商机功劳：{credit}，触达 {persons} 人。",
                     "By {model}, {title} ({type}) earns the most opportunity credit: {credit}, reaching {persons} "
                     "people."),
    "ctype_whitepaper": ("白皮书", "whitepaper"),
    "ctype_article": ("文章", "article"),
    "ctype_video": ("视频", "video"),
    "ctype_webinar": ("直播", "webinar"),
    "ctype_case_study": ("案例", "case study"),
    # identity audit (Data page)
    "identity_audit": ("身份识别（OneID）", "Identity (OneID)"),
    "identity_caption": ("同一个人在各渠道的标识（Cookie、设备、OpenID、UnionID、邮箱、手机号、线索、联系人）"
                         "被合并为一个人；垃圾值不参与合并，而是列在下方。",
                         "Every identifier of one person across channels (cookie, device, openid, unionid, e-mail, "
                         "phone, lead, contact) is joined into one person; junk values join nobody and are listed "
                         "below."),
    "persons": ("人数", "Persons"),
    "persons_several_leads": ("有多条线索的人", "Persons with several leads"),
    "duplicate_leads": ("重复线索", "Duplicate leads"),
    "duplicate_share": ("重复线索占比", "Duplicate share"),
    "blocked_values": ("屏蔽的值", "Blocked values"),
    "quarantined_values": ("隔离的值", "Quarantined values"),
    "audit_table": ("屏蔽与隔离的标识值", "Blocked and quarantined identifier values"),
    "audit_none": ("本次构建没有屏蔽或隔离任何标识值。",
                   "No identifier value was blocked or quarantined in this build."),
    "action": ("处理", "Action"),
    "action_blocked": ("屏蔽", "blocked"),
    "action_quarantined": ("隔离", "quarantined"),
    "persons_it_would_join": ("本会合并的人数", "Persons it would join"),
    "largest_persons": ("最大的人（按线索数、标识数）", "The largest persons (by leads and identifiers)"),
    # lead flow: duplicates
    "duplicates_by_channel": ("各渠道的重复线索", "Duplicate leads per channel"),
    "duplicates_caption": ("期间内创建的线索中，同一个人在此前 90 天（默认窗口）内已有线索的比例。"
                           "主要在重复捕获已知人员的渠道，价值低于其线索数所显示的。",
                           "Of the leads created in the period, those whose person already had a lead in the 90 days "
                           "before (the default window). A channel that mostly re-captures known people is worth "
                           "less than its lead count says."),
    "duplicates_top": ("重复占比最高：{channel}（{share}，{n} 条线索中 {d} 条）。",
                       "Highest duplicate share: {channel} ({share}, {d} of {n} leads)."),
    "duplicates": ("重复", "Duplicates"),
    # forecast page and the overview's forecast tile
    "page_forecast": ("销售预测", "Forecast"),
    "fc_period": ("预测期间", "Forecast period"),
    "fc_bookings": ("预计成交额（P10–P90）", "Expected bookings (P10–P90)"),
    "fc_bookings_caption": ("{period}：已赢单 + 在手商机在期内赢单的期望；横线为 P10–P90 区间（截至 {as_of}）。",
                            "{period}: won so far + what the open deals are expected to win within it; the line is "
                            "the P10–P90 band (as of {as_of})."),
    "fc_expected": ("预计成交额", "Expected bookings"),
    "fc_band": ("P10–P90：{low} – {high}", "P10–P90: {low} – {high}"),
    "fc_won_to_date": ("期内已赢单", "Won so far"),
    "fc_open_pipeline": ("在手商机金额", "Open pipeline"),
    "fc_coverage": ("覆盖率（在手 ÷ 剩余目标）", "Coverage (open ÷ remaining target)"),
    "fc_target": ("目标", "Target"),
    "fc_no_target": ("未设目标：在 seeds/targets.csv 填写部门 × 期间 × 金额即可显示覆盖率。",
                     "No target set: fill seeds/targets.csv (department × period × amount) to see coverage."),
    "fc_repeat": ("老客户复购（未来 12 个月）", "Customers buying again (next 12 months)"),
    "fc_repeat_caption": ("没有订阅的客户按其下单历史（BG/NBD 与 Gamma–Gamma 模型）预计的复购；不在任何商机里，"
                          "所以不在上面的预计成交额中。客户明细与回测见「生命周期价值」页。",
                          "What customers without a subscription are expected to buy again, from their order "
                          "history (BG/NBD and Gamma–Gamma); no open deal carries it, so it is not in the expected "
                          "bookings above. The accounts and the backtest are on the Lifecycle value page."),
    "fc_movers": ("影响最大的商机", "Deals that move it most"),
    "fc_movers_caption": ("按 金额 × 本季度赢单概率 排序。", "Sorted by amount × probability of winning this quarter."),
    "fc_deal": ("商机", "Deal"),
    "fc_p_win": ("赢单概率", "P(win)"),
    "fc_p_win_period": ("本季度赢单概率", "P(win this quarter)"),
    "fc_expected_in_period": ("本季度期望金额", "Expected this quarter"),
    "fc_close_month": ("预计成交月", "Expected close month"),
    "fc_estimate_level": ("估计来源", "Estimated from"),
    "fc_days_in_stage": ("阶段停留天数", "Days in stage"),
    "fc_how_right": ("我们预测得准吗", "How right were we"),
    "fc_how_right_caption": ("回测：过去 {n} 个月末（{first} 至 {last}），按当时已知的数据预测 {h} 天内赢单，"
                             "与实际结果比较。Brier 分数越低越准。",
                             "Backtest: at {n} past month ends ({first} to {last}), forecast from what was known "
                             "then whether each open deal is won within {h} days, scored against what happened. "
                             "Lower Brier score is better."),
    "fc_method": ("方法", "Method"),
    "fc_method_model": ("本模型（生存分析）", "This model (survival)"),
    "fc_method_stage_seed": ("阶段设定概率", "Stage seed probability"),
    "fc_method_closed_only": ("仅已结商机赢率", "Closed-only win rate"),
    "fc_brier": ("Brier 分数", "Brier score"),
    "fc_brier_better": ("比{method}低 {pct}", "{pct} lower than {method}"),
    "fc_brier_worse": ("比{method}高 {pct}", "{pct} higher than {method}"),
    "fc_brier_same": ("与{method}相当（相差不到 0.1%）", "about the same as {method} (within 0.1%)"),
    "fc_predicted": ("预测成交额", "Predicted bookings"),
    "fc_actual": ("实际成交额", "Actual bookings"),
    "fc_deals_scored": ("评分商机数", "Deals scored"),
    "fc_reliability": ("可靠性图", "Reliability"),
    "fc_predicted_prob": ("预测概率", "Predicted probability"),
    "fc_observed": ("实际赢单比例", "Observed win share"),
    "fc_cases": ("案例数", "Cases"),
    "fc_tile": ("本季度预计成交额", "Expected bookings this quarter"),
    "help_fc_tile": ("已赢单 + 在手商机本季度赢单的期望（销售预测页）；下方为 P10–P90 区间。不随所选期间变化。",
                     "Won so far + the open deals' expected wins this quarter (Forecast page); below, the P10–P90 "
                     "band. Always the current quarter, whatever period is selected."),
    # Follow-ups page
    "page_followups": ("跟进闭环", "Follow-ups"),
    "fu_now": ("待跟进", "To follow up"),
    "fu_now_caption": ("截至数据时间：每条反馈（输单原因、无效线索原因）按原因的回访天数生成一条跟进。",
                       "As of the data's time: every feedback (loss reason, disqualify reason) creates a follow-up "
                       "due after its reason's recontact days."),
    "fu_status_overdue": ("已逾期", "Overdue"),
    "fu_status_due": ("到期", "Due"),
    "fu_status_upcoming": ("未到期", "Upcoming"),
    "fu_status_done": ("已跟进", "Done"),
    "fu_on_time_share": ("按时跟进率", "Done on time"),
    "fu_items": ("到期和逾期的跟进", "Due and overdue follow-ups"),
    "fu_items_caption": ("先逾期后到期，再按金额（输单金额，否则客户累计价值）从高到低，同金额逾期越久越靠前；"
                         "用 Excel 按钮导出给周会。",
                         "Overdue before due, then by value (the lost deal's amount, else the account's lifetime "
                         "value), then the longest past due; the Excel button exports it for the weekly meeting."),
    "fu_all_reps": ("全部销售", "All reps"),
    "fu_owner": ("负责人", "Owner"),
    "fu_due_at": ("应跟进日", "Due"),
    "fu_days_past_due": ("超过应跟进日天数", "Days past due"),
    "fu_value": ("金额", "Value"),
    "fu_entity": ("来源", "From"),
    "fu_entity_lead": ("无效线索", "Disqualified lead"),
    "fu_entity_opportunity": ("输单商机", "Lost deal"),
    "fu_by_owner": ("每位负责人的跟进", "Follow-ups per owner"),
    "fu_timeliness": ("各部门按时跟进率", "Done on time per department"),
    "fu_timeliness_caption": ("按时 = 在应跟进日后宽限期内完成回访；与公司其他部门比较，95% 显著性检验。",
                              "On time = recontacted by the end of the grace period after the due date; compared "
                              "with the rest of the company by a 95% test."),
    "fu_done_on_time": ("按时跟进数", "Done on time (count)"),
    "fu_on_time_calc": ("应计入", "Counted"),
    "fu_earned": ("跟进带来了什么", "What following up earned"),
    "fu_earned_caption": ("按原因：反馈之后该联系人或客户又产生了商机（追回），其中赢单的金额。",
                          "By reason: the person or account came back with an opportunity after the feedback "
                          "(recovered), and the won amount of those."),
    "fu_followups": ("跟进数", "Follow-ups"),
    "fu_recovered": ("追回商机", "Recovered"),
    "fu_recovered_won": ("其中赢单", "Of those won"),
    "fu_recovered_revenue": ("追回赢单金额", "Recovered revenue"),
    "fu_unmatched": ("未匹配的反馈原因", "Feedback reasons not in the seed"),
    "fu_unmatched_caption": ("这些原因文字没有匹配到 lead_feedback_reasons 种子表的原因或别名（aliases），"
                             "按「其他」计，不生成跟进；把它们加为新原因或别名即可。",
                             "These reason texts match no reason or alias of the lead_feedback_reasons seed: they "
                             "count as `other` and create no follow-up; add them as a reason or an alias."),
    "fu_feedback_text": ("原因文字", "Reason text"),
    "fu_feedbacks": ("次数", "Times given"),
    "fu_last_given": ("最近一次", "Last given"),
    # Lifecycle value: customers who buy again without a subscription
    "retention_by_rule": ("按规则的留存：订阅客户与无订阅复购客户",
                          "Retention by rule: subscriptions and repeat buyers"),
    "retention_by_rule_note": ("订阅客户看 MRR 与 NRR；从未有订阅订单的客户按订单窗口看："
                               "订单窗口（默认 12 个月）内有订单即为活跃，收入留存 = 第 k 月收入 ÷ 首单月收入。",
                               "Subscription accounts are read by MRR and NRR; accounts that never had a "
                               "subscription order by the order window: active when they ordered within the window "
                               "(default 12 months), revenue retention = month-k revenue / first-month revenue."),
    "order_window_retention": ("订单窗口留存（无订阅）", "Order-window retention (no subscription)"),
    "revenue_retention": ("收入留存（无订阅）", "Revenue retention (no subscription)"),
    "nrr_subscription": ("净收入留存（订阅）", "NRR (subscriptions)"),
    "logo_retention_all": ("客户留存率（全部客户）", "Logo retention (all accounts)"),
    "order_window_accounts": ("无订阅客户数", "Accounts without subscription"),
    "predicted_value": ("未来 12 个月预测价值", "Predicted value, next 12 months"),
    "predicted_value_note": ("无订阅复购客户，按 BG/NBD（复购次数）与 Gamma–Gamma（单次金额）模型，"
                             "截至 {when} 的全部订单拟合。",
                             "Accounts that buy without a subscription; BG/NBD (repeat orders) and Gamma–Gamma "
                             "(order value) fitted on every order to {when}."),
    "predicted_total": ("预测价值合计", "Predicted value, total"),
    "predicted_orders": ("预计订单数", "Expected orders"),
    "repeat_accounts": ("复购客户数", "Repeat-buying accounts"),
    "mean_p_alive": ("平均存活概率", "Mean probability alive"),
    "p_alive": ("存活概率", "Probability alive"),
    "value_band": ("预测价值区间", "Predicted value band"),
    "predicted_distribution": ("预测价值分布", "Distribution of predicted value"),
    "top_predicted": ("预测价值最高的客户", "Accounts with the highest predicted value"),
    "repeat_orders": ("复购次数", "Repeat orders"),
    "expected_order_value": ("预计单次金额", "Expected order value"),
    "value_backtest": ("预测回测：预测 vs 实际", "Backtest: predicted vs actual"),
    "value_backtest_note": ("用 {split} 及以前的订单拟合，预测 {split} 之后到 {end} 的 12 个月，与实际对比。"
                            "按预测订单数分十组。",
                            "Fitted on the orders to {split}, predicting the 12 months to {end}, against what "
                            "happened. Accounts in ten groups by predicted orders."),
    "predicted": ("预测", "Predicted"),
    "actual": ("实际", "Actual"),
    "actual_orders": ("实际订单数", "Actual orders"),
    "predicted_revenue": ("预测收入", "Predicted revenue"),
    "actual_revenue": ("实际收入", "Actual revenue"),
    "decile": ("分组（按预测订单数）", "Group (by predicted orders)"),
    "backtest_error": ("预测偏差", "Prediction error"),
    "orders": ("订单数", "Orders"),
    "accounts": ("客户数", "Accounts"),
}


def text(key: str, lang: str, **kw) -> str:
    pair = STRINGS.get(key)
    if pair is None:
        return key
    s = pair[0] if lang == "zh" else pair[1]
    return s.format(**kw) if kw else s


def _missing(x) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


class Tr:
    """Strings and formats bound to one language."""

    def __init__(self, lang: str = "zh"):
        self.lang = lang if lang in LANGS else "zh"

    def __call__(self, key: str, **kw) -> str:
        return text(key, self.lang, **kw)

    @property
    def zh(self) -> bool:
        return self.lang == "zh"

    # numbers -----------------------------------------------------------------------------------------
    def int(self, x) -> str:
        if _missing(x):
            return "–"
        return f"{int(round(float(x))):,}"

    def num(self, x, digits: int = 1) -> str:
        if _missing(x):
            return "–"
        return f"{float(x):,.{digits}f}"

    def pct(self, x, digits: int = 1) -> str:
        if _missing(x):
            return "–"
        return f"{float(x) * 100:.{digits}f}%"

    def money(self, x, short: bool = True) -> str:
        """¥ amounts; short: 万/亿 in Chinese, K/M/B in English."""
        if _missing(x):
            return "–"
        v = float(x)
        sign = "-" if v < 0 else ""
        a = abs(v)
        if not short:
            return f"{sign}¥{a:,.0f}"
        if self.zh:
            if a >= 1e8:
                return f"{sign}¥{a / 1e8:,.2f}亿"
            if a >= 1e7:
                return f"{sign}¥{a / 1e4:,.0f}万"
            if a >= 1e4:
                return f"{sign}¥{a / 1e4:,.1f}万"
            return f"{sign}¥{a:,.0f}"
        for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if a >= div:
                return f"{sign}¥{a / div:,.2f}{unit}" if div > 1e3 else f"{sign}¥{a / div:,.1f}{unit}"
        return f"{sign}¥{a:,.0f}"

    def signed_pct_change(self, cur, base) -> str | None:
        """Relative change as +5.3%; None when it cannot be computed."""
        if _missing(cur) or _missing(base) or float(base) == 0:
            return None
        return f"{(float(cur) / float(base) - 1) * 100:+.1f}%"

    def pp(self, delta) -> str:
        """A difference of two rates in percentage points."""
        if _missing(delta):
            return "–"
        return self("pp", v=f"{float(delta) * 100:+.1f}")

    # dates -------------------------------------------------------------------------------------------
    def date(self, d) -> str:
        if _missing(d):
            return "–"
        if isinstance(d, datetime):
            d = d.date()
        return f"{d.year}年{d.month}月{d.day}日" if self.zh else d.isoformat()

    def datetime(self, d) -> str:
        if _missing(d):
            return "–"
        if not isinstance(d, datetime):
            return self.date(d)
        return f"{self.date(d)} {d:%H:%M}"

    def month(self, d: date) -> str:
        return f"{d.year}年{d.month}月" if self.zh else f"{d:%b} {d.year}"

    def period(self, grain: str, start: date) -> str:
        if grain == "month":
            return self.month(start)
        if grain == "quarter":
            q = (start.month - 1) // 3 + 1
            return f"{start.year}年第{q}季度" if self.zh else f"{start.year} Q{q}"
        if grain == "half_year":
            h = 1 if start.month <= 6 else 2
            return f"{start.year}年{'上' if h == 1 else '下'}半年" if self.zh else f"{start.year} H{h}"
        return self.date(start)

    def window(self, w) -> str:
        """A period label; a running period says up to which day."""
        label = self.period(w.grain, w.start)
        if w.is_partial:
            end = w.last_day
            return f"{label}（至{end.month}月{end.day}日）" if self.zh else f"{label} (to {end:%b} {end.day})"
        return label

    def time_axis(self, unit: str) -> str:
        """d3 time format for chart axes: 'day' or 'month'."""
        if unit == "day":
            return "%-m月%-d日" if self.zh else "%b %-d"
        return "%Y年%-m月" if self.zh else "%b %Y"

    def ordinal(self, n) -> str:
        """A rank: 3 in Chinese (the sentence says 第), 3rd in English."""
        n = int(n)
        if self.zh:
            return str(n)
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}"

    def join(self, items) -> str:
        return ("、" if self.zh else ", ").join(items)
