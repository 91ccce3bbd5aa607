"""Fixed vocabularies: seed values (stages, channels, reasons) and Chinese word lists.

The seed values are copied here rather than read from ``seeds/`` at run time so the
generator works from any working directory; ``tests/test_generate.py`` checks that the
copies still equal the seed files. Every string must be GBK-encodable because the
generator can write GBK CSV (that is also tested).
"""

from __future__ import annotations

# --- seeds/stages.csv (stage_order 1..7) ---------------------------------------------
OPEN_STAGES: tuple[str, ...] = ("初步接洽", "需求确认", "方案交流", "招投标", "商务谈判")
WON_STAGE = "赢单"
LOST_STAGE = "输单"
STAGES: tuple[str, ...] = OPEN_STAGES + (WON_STAGE, LOST_STAGE)
# Codes used inside the pipeline simulation: 0..4 open stages, then won, lost.
ST_PROPOSAL = 2  # 方案交流: the planted step is 方案交流 -> 招投标
ST_BIDDING = 3
ST_WON = 5
ST_LOST = 6

# --- seeds/channels.csv -------------------------------------------------------------
CHANNELS: tuple[str, ...] = ("官网", "SEM", "微信公众号", "直播", "内容下载", "展会", "外呼", "转介绍", "合作伙伴")
CH = {name: i for i, name in enumerate(CHANNELS)}

# --- seeds/lead_feedback_reasons.csv ----------------------------------------------------
REASONS: tuple[str, ...] = (
    "明年再买", "需求不明确", "预算不足", "输给竞品", "无决策权", "联系不上", "无效线索", "重复线索",
)
RS = {name: i for i, name in enumerate(REASONS)}

# --- enumerations of docs/input-contract.md --------------------------------------------------------
ROLES: tuple[str, ...] = ("sdr", "sales", "presales", "manager", "cs", "marketing")
LEAD_EVENT_TYPES: tuple[str, ...] = (
    "created", "cleansed", "nurturing", "contacted", "mql", "sql", "converted", "disqualified",
)
LEAD_STATUSES: tuple[str, ...] = ("new", "contacted", "nurturing", "mql", "sql", "converted", "disqualified")
OWNERSHIP_EVENT_TYPES: tuple[str, ...] = ("assigned", "released", "claimed", "transferred")
ENTITY_TYPES: tuple[str, ...] = ("lead", "account")
OPP_TYPES: tuple[str, ...] = ("new", "renewal", "upsell", "cross_sell")
ORDER_TYPES: tuple[str, ...] = ("new", "renewal", "upsell", "cross_sell", "service")
ACTIVITY_TYPES: tuple[str, ...] = ("call", "visit", "email", "wechat", "meeting", "demo", "proposal")
TOUCH_TYPES: tuple[str, ...] = (
    "page_view", "form_submit", "download", "webinar_attend", "ad_click", "email_open", "wechat_follow",
    "event_checkin",
)
CONTENT_TYPES: tuple[str, ...] = ("whitepaper", "article", "video", "webinar", "case_study")
DECISION_ROLES: tuple[str, ...] = ("decision_maker", "purchaser", "user", "influencer")
GRADES: tuple[str, ...] = ("A", "B", "C")
RELEASE_REASONS: tuple[str, ...] = ("超期未跟进", "离职", "手动释放")
ASSIGN_REASONS: tuple[str, ...] = (
    "按区域自动分配", "外呼自建", "迁移导入", "商机转化", "SQL移交销售", "主管调配", "离职交接",
)

# --- company -----------------------------------------------------------------------------
REGIONS: tuple[str, ...] = ("华东", "华南", "华北", "西部")
INDUSTRIES: tuple[str, ...] = (
    "制造业", "零售", "金融", "医疗健康", "教育", "互联网", "物流", "能源", "房地产", "专业服务",
)
COMPANY_SIZES: tuple[str, ...] = ("50人以下", "50-199人", "200-999人", "1000-4999人", "5000人以上")

SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("林", "lin"),
    ("罗", "luo"), ("高", "gao"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("潘", "pan"),
    ("袁", "yuan"), ("蔡", "cai"), ("蒋", "jiang"), ("余", "yu"), ("于", "yu"), ("杜", "du"),
    ("叶", "ye"), ("程", "cheng"), ("魏", "wei"), ("苏", "su"), ("吕", "lv"), ("丁", "ding"),
    ("任", "ren"), ("沈", "shen"), ("欧阳", "ouyang"), ("司马", "sima"),
)
GIVEN_NAMES: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂英", "guiying"), ("建华", "jianhua"),
    ("晓东", "xiaodong"), ("志强", "zhiqiang"), ("海燕", "haiyan"), ("文博", "wenbo"), ("子涵", "zihan"),
    ("雨欣", "yuxin"), ("浩然", "haoran"), ("思远", "siyuan"), ("佳怡", "jiayi"), ("俊杰", "junjie"),
    ("欣怡", "xinyi"), ("宇航", "yuhang"), ("梓萱", "zixuan"), ("一鸣", "yiming"), ("嘉豪", "jiahao"),
    ("诗涵", "shihan"), ("晨曦", "chenxi"), ("鹏", "peng"), ("辉", "hui"), ("玲", "ling"), ("婷", "ting"),
    ("斌", "bin"), ("宁", "ning"), ("凯", "kai"), ("琳", "lin"), ("颖", "ying"), ("博", "bo"),
    ("建国", "jianguo"), ("丽华", "lihua"), ("国栋", "guodong"), ("慧敏", "huimin"),
)
CITIES: dict[str, tuple[str, ...]] = {
    "华东": ("上海", "杭州", "南京", "苏州", "宁波", "合肥", "无锡", "济南", "青岛", "福州", "厦门", "常州"),
    "华南": ("广州", "深圳", "东莞", "佛山", "珠海", "南宁", "海口", "中山", "惠州"),
    "华北": ("北京", "天津", "石家庄", "太原", "呼和浩特", "沈阳", "大连", "郑州", "保定"),
    "西部": ("成都", "重庆", "西安", "昆明", "贵阳", "兰州", "乌鲁木齐", "银川"),
}
BRANDS: tuple[tuple[str, str], ...] = (
    ("恒信", "hengxin"), ("华腾", "huateng"), ("瑞丰", "ruifeng"), ("金桥", "jinqiao"), ("盛世", "shengshi"),
    ("博远", "boyuan"), ("天成", "tiancheng"), ("鼎新", "dingxin"), ("宏达", "hongda"), ("远航", "yuanhang"),
    ("智联", "zhilian"), ("新元", "xinyuan"), ("汇通", "huitong"), ("安泰", "antai"), ("嘉禾", "jiahe"),
    ("海纳", "haina"), ("云启", "yunqi"), ("星辰", "xingchen"), ("永盛", "yongsheng"), ("同创", "tongchuang"),
    ("锐思", "ruisi"), ("启明", "qiming"), ("领航", "linghang"), ("卓越", "zhuoyue"), ("德润", "derun"),
    ("优创", "youchuang"), ("明道", "mingdao"), ("普惠", "puhui"), ("恒泰", "hengtai"), ("信达", "xinda"),
    ("蓝海", "lanhai"), ("祥和", "xianghe"), ("世纪", "shiji"), ("联创", "lianchuang"), ("华信", "huaxin"),
    ("天润", "tianrun"), ("凯越", "kaiyue"), ("聚力", "juli"), ("精工", "jinggong"), ("中科睿", "zhongkerui"),
)
# Company-name middle part per industry (same order as INDUSTRIES).
INDUSTRY_WORDS: tuple[tuple[str, ...], ...] = (
    ("机械制造", "精密仪器", "汽车零部件", "电子"),
    ("商贸", "连锁", "电商"),
    ("金融服务", "投资", "融资租赁"),
    ("医疗器械", "生物科技", "医药"),
    ("教育科技", "培训"),
    ("网络科技", "信息技术", "软件"),
    ("物流", "供应链"),
    ("新能源", "能源科技"),
    ("置业", "物业服务"),
    ("咨询", "企业服务"),
)
COMPANY_FORMS: tuple[str, ...] = ("有限公司", "股份有限公司", "集团有限公司")
DOMAIN_SUFFIXES: tuple[str, ...] = (".com", ".com.cn", ".cn", "-tech.com", "group.com")
FREE_MAIL: tuple[str, ...] = ("qq.com", "163.com", "126.com", "sina.com", "aliyun.com")
MOBILE_PREFIXES: tuple[str, ...] = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "166", "177", "180", "181", "182", "183", "185", "186", "187", "188",
    "189", "198", "199",
)

PRODUCTS: tuple[str, ...] = ("营销云", "销售云", "客服云", "数据中台", "CDP平台")
OPP_TYPE_LABELS: tuple[str, ...] = ("新购", "续约", "增购", "交叉销售")

ACTIVITY_OUTCOMES: dict[str, tuple[str, ...]] = {
    "call": ("已接通", "未接通", "有意向", "需再跟进", "已接通, 约下周拜访"),
    "visit": ("拜访完成", "见到关键人", "客户有顾虑, 需再沟通", "约定方案演示"),
    "email": ("已发送资料", "已回复", "未回复"),
    "wechat": ("已加微信", "已发送案例", "客户已读未回"),
    "meeting": ("需求梳理完成", "达成下一步", "客户内部讨论中"),
    "demo": ("演示顺利", "客户提出定制需求", "POC 启动"),
    "proposal": ("方案已提交", "报价已提交", "标书已递交"),
}
NO_ANSWER = "未接通"

TICKET_PRIORITIES: tuple[str, ...] = ("紧急", "高", "中", "低")
TICKET_CATEGORIES: tuple[str, ...] = ("产品缺陷", "使用咨询", "功能需求", "账号权限", "数据问题", "集成对接")
TICKET_CHANNELS: tuple[str, ...] = ("电话", "邮件", "微信", "在线客服", "工单系统")

CAMPAIGN_TYPES: dict[str, str] = {
    "官网": "官网SEO", "SEM": "搜索推广", "微信公众号": "公众号推文", "直播": "线上直播",
    "内容下载": "内容营销", "展会": "线下展会", "合作伙伴": "渠道合作",
}
CAMPAIGN_THEMES: dict[str, tuple[str, ...]] = {
    "官网": ("官网改版落地页", "行业解决方案专题", "免费试用入口"),
    "SEM": ("品牌词投放", "竞品词投放", "行业词投放", "产品词投放"),
    "微信公众号": ("客户案例连载", "行业洞察推文", "新品发布推文"),
    "直播": ("数字化转型公开课", "产品发布直播", "专家圆桌"),
    "内容下载": ("行业白皮书", "选型指南", "最佳实践手册"),
    "展会": ("数字化峰会", "行业博览会", "城市沙龙"),
    "合作伙伴": ("渠道联合推广", "生态伙伴计划", "区域代理合作"),
}
CONTENT_TOPICS: tuple[str, ...] = (
    "营销数字化转型", "线索管理最佳实践", "销售漏斗精细化运营", "客户全生命周期价值", "私域运营",
    "全渠道客户识别", "销售过程管理", "客户成功体系搭建",
)
CONTENT_TYPE_LABELS: dict[str, str] = {
    "whitepaper": "白皮书", "article": "解读", "video": "视频课", "webinar": "直播回放", "case_study": "客户案例",
}
